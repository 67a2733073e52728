import Bus
import Foundation
import Hummingbird
import Models

/// `GET /v1/status`: every worker service with its live instance count, as the broker sees it.
struct PlatformStatus: ResponseEncodable, Equatable {
    struct ServiceStatus: Codable, Equatable {
        var name: String
        var instances: Int
    }
    var services: [ServiceStatus]
}

/// The platform routes: liveness, the bus status and the API's own description.
struct PlatformRoutes {
    let bus: BusClient
    let openAPIDocument: Data

    func register(on router: Router<GatewayRequestContext>) {
        router.get("healthz") { _, _ in "ok\n" }
        router.get("openapi.json") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(bytes: openAPIDocument)))
        }
        router.get("v1/status") { _, _ in try await status() }
    }

    /// Asks the broker about every service at once; a broker that does not answer is a 503.
    func status() async throws -> PlatformStatus {
        let bus = self.bus
        let counts = try await withThrowingTaskGroup(of: (ServiceName, Int).self) { group in
            for service in ServiceName.all {
                group.addTask { (service, try await bus.serviceStatus(service).instances) }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        return PlatformStatus(services: ServiceName.all.map { .init(name: $0.rawValue, instances: counts[$0] ?? 0) })
    }
}
