import Bus
import Foundation
import GatewayService
import Hummingbird
import HummingbirdTesting
import Logging
import Models
import ServiceKit
import Testing
import TestSupport

/// The gateway's conventions (docs/api.md) on the routes of the foundation: problem+json errors,
/// request ids, the body limit, the status of every service and the OpenAPI document.
@Suite(.timeLimit(.minutes(1)))
struct GatewayRoutesTests {
    /// A real broker on free ports and a bus client to it, for the routes that ask the broker.
    func withGateway(_ test: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let logger = Logger(label: "test.gateway")
        let context = BusContext(logger: logger)
        let endpoints = try FreePort.busEnvironment()
        let busEndpoints = BusEndpoints(
            mdp: endpoints["BROKER_ENDPOINT"]!, eventsIn: endpoints["EVENTS_IN_ENDPOINT"]!,
            eventsOut: endpoints["EVENTS_OUT_ENDPOINT"]!)
        let broker = Broker(context: context, endpoints: busEndpoints, curve: nil, logger: logger)
        try await broker.start()
        let mdp = MDPClient(context: context, endpoint: busEndpoints.mdp, curve: nil, logger: logger)
        let app = Application(router: buildGatewayRouter(bus: BusClient(mdp: mdp, logger: logger)))
        do {
            try await app.test(.router, test)
        } catch {
            await mdp.close()
            await broker.stop()
            await context.shutdown()
            throw error
        }
        await mdp.close()
        await broker.stop()
        await context.shutdown()
    }

    @Test("GATEWAY_TRUSTED_PROXIES takes addresses and CIDR blocks; anything else is named at start-up")
    func trustedProxiesSetting() throws {
        var good = ConfigReader(
            environment: ["GATEWAY_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7,2001:db8::/32", "BUS_INSECURE": "1"], dotEnvPath: nil)
        let settings = GatewaySettings(reading: &good)
        try good.validate()
        #expect(settings.trustedProxies.networks.map(\.description) == ["10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32"])
        var bad = ConfigReader(environment: ["GATEWAY_TRUSTED_PROXIES": "10.0.0.0/8,load-balancer.internal"], dotEnvPath: nil)
        _ = GatewaySettings(reading: &bad)
        #expect(throws: ConfigurationError.self) { try bad.validate() }
        do { try bad.validate() } catch { #expect(error.description.contains("load-balancer.internal")) }
    }

    @Test("an unknown route is a 404 problem with a request id")
    func unknownRoute() async throws {
        try await withGateway { client in
            try await client.execute(uri: "/v1/nothing-here", method: .get) { response in
                #expect(response.status == .notFound)
                #expect(response.headers[.contentType] == "application/problem+json")
                let problem = try JSONDecoder().decode(Problem.self, from: Data(response.body.readableBytesView))
                #expect(problem.code == "not_found")
                #expect(problem.status == 404)
                #expect(problem.requestId == response.headers[.requestId])
            }
        }
    }

    @Test("a served path asked with a method it does not answer is 405 with Allow; every problem has a title")
    func methodNotAllowed() async throws {
        try await withGateway { client in
            for (path, method, allow) in [
                ("/v1/status", HTTPRequest.Method.post, "GET"), ("/v1/me", .put, "DELETE, GET, PATCH"),
                ("/v1/staff/accounts/\(UUID())/offboarding", .get, "POST"),
                // A literal path beside a parameter one (`/v1/advisors/{id}`) answers its own methods.
                ("/v1/advisors/me", .delete, "GET, PUT"), ("/v1/advisors/\(UUID())", .put, "GET"),
            ] {
                try await client.execute(uri: path, method: method) { response in
                    #expect(response.status == .methodNotAllowed, "\(method) \(path)")
                    #expect(response.headers[.allow] == allow, "\(method) \(path)")
                    let problem = try JSONDecoder().decode(Problem.self, from: Data(response.body.readableBytesView))
                    #expect(problem.code == "method_not_allowed")
                    #expect(problem.title == "Method Not Allowed")
                }
            }
            try await client.execute(uri: "/v1/me/elsewhere", method: .get) { #expect($0.status == .notFound) }
        }
        #expect(ProblemMapping.problem(for: ServiceError(.validationFailed, "x")).title == "Unprocessable Content")
    }

    @Test("a body over 1 MiB is refused with 413 before it is read")
    func oversizedBody() async throws {
        try await withGateway { client in
            let body = ByteBuffer(repeating: UInt8(ascii: "a"), count: (1 << 20) + 1)
            try await client.execute(uri: "/v1/status", method: .post, body: body) { response in
                #expect(response.status == .contentTooLarge)
                let problem = try JSONDecoder().decode(Problem.self, from: Data(response.body.readableBytesView))
                #expect(problem.code == "body_too_large")
            }
        }
    }

    @Test("/v1/status lists every service, with no instances when none registered")
    func statusWithoutWorkers() async throws {
        try await withGateway { client in
            try await client.execute(uri: "/v1/status", method: .get) { response in
                #expect(response.status == .ok)
                let status = try JSONDecoder().decode(StatusBody.self, from: Data(response.body.readableBytesView))
                #expect(status.services.map(\.name) == ServiceName.all.map(\.rawValue))
                #expect(status.services.allSatisfy { $0.instances == 0 })
            }
        }
    }

    @Test("/openapi.json is the document, and it names exactly the operations the router serves, both ways")
    func openAPIDocumentMatchesRouter() async throws {
        try await withGateway { client in
            try await client.execute(uri: "/openapi.json", method: .get) { response in
                #expect(response.status == .ok)
                let document = try #require(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
                #expect(document["openapi"] as? String == "3.1.0")
                let components = try #require(document["components"] as? [String: Any])
                let schemes = try #require(components["securitySchemes"] as? [String: Any])
                #expect(Set(schemes.keys) == ["bearer", "sessionCookie"])
                let paths = try #require(document["paths"] as? [String: [String: Any]])
                let methods: Set<String> = ["get", "put", "post", "delete", "patch", "head", "options"]
                let documented = Set(paths.flatMap { path, item in
                    item.keys.filter(methods.contains).map { "\($0.uppercased()) \(path)" }
                })
                let served = try await Self.servedOperations()
                #expect(served.subtracting(documented).isEmpty, "served but not documented: \(served.subtracting(documented).sorted())")
                #expect(documented.subtracting(served).isEmpty, "documented but not served: \(documented.subtracting(served).sorted())")
            }
        }
    }

    /// Every method and path the gateway's router serves, paths written as OpenAPI writes them.
    static func servedOperations() async throws -> Set<String> {
        let logger = Logger(label: "test.gateway")
        let context = BusContext(logger: logger)
        let mdp = MDPClient(context: context, endpoint: "tcp://127.0.0.1:1", curve: nil, logger: logger)
        let router = buildGatewayRouter(bus: BusClient(mdp: mdp, logger: logger))
        let served = Set(router.routes.map { route in
            let path = route.path.description.replacing(/:([A-Za-z_]+)/) { "{\($0.1)}" }
            return "\(route.method.rawValue) \(path)"
        })
        await mdp.close()
        await context.shutdown()
        return served
    }
}

struct StatusBody: Decodable {
    struct Service: Decodable {
        var name: String
        var instances: Int
    }
    var services: [Service]
}
