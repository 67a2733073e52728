public import Foundation

/// Operations every worker service answers, whatever its business.
public enum Platform {
    /// `<service>.info`: which instance answered, its version and how long it has run.
    public struct Info: Codable, Sendable, Equatable {
        public var service: String
        public var instanceId: String
        public var version: String
        public var startedAt: Date
        public init(service: String, instanceId: String, version: String, startedAt: Date) {
            self.service = service
            self.instanceId = instanceId
            self.version = version
            self.startedAt = startedAt
        }

        public static func name(for service: ServiceName) -> String { "\(service.rawValue).info" }
    }

    /// The platform's version, reported by every process.
    public static let version = "0.1.0"
}
