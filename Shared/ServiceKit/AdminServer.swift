public import Hummingbird
public import Logging
import NIOCore
public import Prometheus

/// Named checks that must all pass for the process to take traffic (`/readyz`).
public struct ReadinessChecks: Sendable {
    private var checks: [(name: String, check: @Sendable () async -> Bool)] = []

    public init() {}

    /// Adds a check; `name` appears in the answer when it fails.
    public mutating func add(_ name: String, _ check: @escaping @Sendable () async -> Bool) {
        checks.append((name, check))
    }

    /// The names of the checks that fail now, in the order they were added.
    public func failing() async -> [String] {
        var failed: [String] = []
        for (name, check) in checks where !(await check()) {
            failed.append(name)
        }
        return failed
    }
}

/// The operator's HTTP port of every process: `/healthz` (alive: never looks at dependencies),
/// `/readyz` (every readiness check passes) and `/metrics` (Prometheus text format).
public enum AdminServer {
    /// Builds the admin application; run it as one service of the process's service group.
    public static func build(
        host: String, port: Int, readiness: ReadinessChecks, registry: PrometheusCollectorRegistry,
        processName: String, logger: Logger
    ) -> some ApplicationProtocol {
        let router = Router()
        router.get("healthz") { _, _ in "ok\n" }
        router.get("readyz") { _, _ -> Response in
            let failing = await readiness.failing()
            if failing.isEmpty {
                return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ready\n")))
            }
            let text = "not ready: " + failing.joined(separator: ", ") + "\n"
            return Response(status: .serviceUnavailable, body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        router.get("metrics") { _, _ -> Response in
            var buffer: [UInt8] = []
            registry.emit(into: &buffer)
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
        }
        let adminLogger = {
            var copy = logger
            copy[metadataKey: "admin.process"] = "\(processName)"
            return copy
        }()
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "\(processName)-admin"),
            onServerRunning: { channel in
                adminLogger.info(
                    "admin port listening",
                    metadata: ["admin.address": "\(channel.localAddress?.description ?? "?")"])
            },
            logger: adminLogger)
    }
}
