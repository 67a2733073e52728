import Bus
import Foundation
import Models
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The platform's processes, started for real, talking over the real broker.
@Suite(.timeLimit(.minutes(3)))
struct BusEndToEndTests {
    static let info = Platform.Info.name(for: .accounts)

    func accountsInfo(_ harness: PlatformHarness) async throws -> Platform.Info {
        try await harness.client.call(
            service: .accounts, operation: Self.info, request: Empty(), responseType: Platform.Info.self,
            as: .system, idempotent: true, timeout: .seconds(6))
    }

    @Test("a call reaches a worker through the broker, and the gateway reports it")
    func callReachesWorker() async throws {
        try await PlatformHarness.with(schemas: ["accounts"]) { harness in
            try await harness.startBroker()
            let accounts = try await harness.startService("accounts", schema: "accounts", environment: ["INSTANCE_ID": "accounts-a"])
            let info = try await accountsInfo(harness)
            #expect(info.service == "accounts")
            #expect(info.instanceId == "accounts-a")

            let gatewayPort = try FreePort.next()
            try await harness.start("gateway", environment: harness.bus.merging(["GATEWAY_PORT": "\(gatewayPort)"]) { _, new in new })
            let answer = try #require(await HTTP.get("http://127.0.0.1:\(gatewayPort)/v1/status"))
            #expect(answer.status == 200)
            let status = try JSONDecoder().decode(StatusBody.self, from: answer.body)
            #expect(status.services.map(\.name) == ServiceName.all.map(\.rawValue))
            #expect(status.services.first { $0.name == "accounts" }?.instances == 1)
            #expect(status.services.first { $0.name == "chat" }?.instances == 0)

            let metrics = try #require(await HTTP.get("http://127.0.0.1:\(accounts.adminPort)/metrics"))
            let text = String(decoding: metrics.body, as: UTF8.self)
            #expect(text.contains("bus_requests_total"))
            #expect(text.contains("accounts.info"))
            #expect(text.contains("bus_client_calls_waiting 0"))
        }
    }

    @Test("kill -9 on one of two instances leaves calls succeeding on the other")
    func survivesWorkerCrash() async throws {
        try await PlatformHarness.with(schemas: ["accounts"]) { harness in
            try await harness.startBroker()
            let first = try await harness.startService("accounts", schema: "accounts", environment: ["INSTANCE_ID": "first"])
            try await harness.startService("accounts", schema: "accounts", environment: ["INSTANCE_ID": "second"])
            try await Eventually.wait(timeout: .seconds(10), "both instances registered") {
                try await harness.client.serviceStatus(.accounts).instances == 2
            }

            let answered = try await withThrowingTaskGroup(of: String.self) { group in
                for call in 0..<200 {
                    if call == 50 { first.signal(SIGKILL) }
                    group.addTask { try await accountsInfo(harness).instanceId }
                    if call % 10 == 0 { try await Task.sleep(for: .milliseconds(20)) }
                }
                return try await group.reduce(into: [String]()) { $0.append($1) }
            }
            #expect(answered.count == 200)
            #expect(answered.suffix(50).allSatisfy { $0 == "second" })
            try await Eventually.wait(timeout: .seconds(15), "the broker forgets the dead instance") {
                try await harness.client.serviceStatus(.accounts).instances == 1
            }
        }
    }

    @Test("a broker restart is survived: workers re-register, clients reconnect")
    func survivesBrokerRestart() async throws {
        try await PlatformHarness.with(schemas: ["accounts"]) { harness in
            let broker = try await harness.startBroker()
            try await harness.startService("accounts", schema: "accounts")
            #expect(try await accountsInfo(harness).service == "accounts")

            broker.signal(SIGKILL)
            try await broker.waitForExit()
            try await harness.startBroker()
            // Every call the caller was told succeeded did succeed; idempotent calls retry through the gap.
            let info = try await accountsInfo(harness)
            #expect(info.service == "accounts")
            try await Eventually.wait(timeout: .seconds(10), "the worker re-registered") {
                try await harness.client.serviceStatus(.accounts).instances == 1
            }
        }
    }

    @Test("a service is alive but not ready until the broker has registered it")
    func readyOnlyOnceRegistered() async throws {
        try await PlatformHarness.with(schemas: ["accounts"]) { harness in
            let accounts = try await harness.startService("accounts", schema: "accounts", waitUntilReady: false)
            let admin = "http://127.0.0.1:\(accounts.adminPort)"
            try await Eventually.wait(timeout: .seconds(20), "alive") { await HTTP.get("\(admin)/healthz")?.status == 200 }
            let waiting = try #require(await HTTP.get("\(admin)/readyz"))
            #expect(waiting.status == 503)
            #expect(String(decoding: waiting.body, as: UTF8.self) == "not ready: bus\n")

            try await harness.startBroker()
            try await Eventually.wait(timeout: .seconds(5), "ready") { await HTTP.get("\(admin)/readyz")?.status == 200 }
        }
    }

    @Test("SIGTERM stops a service gracefully: exit 0 and the broker drops it at once")
    func gracefulShutdown() async throws {
        try await PlatformHarness.with(schemas: ["accounts"]) { harness in
            try await harness.startBroker()
            let accounts = try await harness.startService("accounts", schema: "accounts")
            try await Eventually.wait(timeout: .seconds(5), "registered") {
                try await harness.client.serviceStatus(.accounts).instances == 1
            }
            accounts.signal(SIGTERM)
            #expect(try await accounts.waitForExit() == 0, "\(accounts.log().suffix(3000))")
            // DISCONNECT, not heartbeat expiry: well under one heartbeat interval (2.5 s).
            try await Eventually.wait(timeout: .seconds(2), "the broker dropped the worker") {
                try await harness.client.serviceStatus(.accounts).instances == 0
            }
        }
    }

    @Test("a service refuses to start with bad configuration and names every problem")
    func badConfiguration() async throws {
        let process = try PlatformProcess(
            "accounts",
            environment: [
                "DATABASE_URL": "", "WORKER_SLOTS": "zero", "BROKER_ENDPOINT": "nowhere",
                "DATABASE_SCHEMA": "Accounts; DROP",
            ])
        defer { process.stop() }
        #expect(try await process.waitForExit() == 2)
        let log = process.log()
        #expect(log.contains("DATABASE_URL"))
        #expect(log.contains("WORKER_SLOTS"))
        #expect(log.contains("BROKER_ENDPOINT"))
        #expect(log.contains("DATABASE_SCHEMA"))
    }
}

struct StatusBody: Decodable {
    struct Service: Decodable {
        var name: String
        var instances: Int
    }
    var services: [Service]
}

/// The gateway speaks HTTPS when a certificate and key are configured.
@Suite(.timeLimit(.minutes(1)))
struct GatewayTLSEndToEndTests {
    @Test("with GATEWAY_TLS_CERT and GATEWAY_TLS_KEY the gateway answers over TLS only")
    func servesTLS() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let cert = folder.appendingPathComponent("cert.pem").path
        let key = folder.appendingPathComponent("key.pem").path
        #expect(
            try await run(
                "/usr/bin/openssl",
                ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1",
                 "-subj", "/CN=127.0.0.1"]) == 0)

        let port = try FreePort.next()
        var environment = try FreePort.busEnvironment()
        environment["GATEWAY_PORT"] = "\(port)"
        environment["GATEWAY_TLS_CERT"] = cert
        environment["GATEWAY_TLS_KEY"] = key
        let gateway = try PlatformProcess("gateway", environment: environment)
        defer { gateway.stop() }
        try await Eventually.wait(timeout: .seconds(20), "the gateway answers over TLS") {
            try await run("/usr/bin/curl", ["-skf", "https://127.0.0.1:\(port)/healthz"]) == 0
        }
        #expect(await HTTP.get("http://127.0.0.1:\(port)/healthz")?.status != 200, "no plain HTTP on the TLS port")
    }

    func run(_ executable: String, _ arguments: [String]) async throws -> Int32 {
        await (try ChildProcess(URL(fileURLWithPath: executable), arguments: arguments)).exitStatus()
    }
}
