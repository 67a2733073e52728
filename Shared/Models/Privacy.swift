public import Foundation

/// The person's rights, answered by every service for the data it holds (docs/api.md `/v1/me/export`,
/// `DELETE /v1/me`).
public enum Privacy {
    /// `<service>.privacy.export`: everything the service holds about one account, as JSON.
    /// Callers: the account itself (through the gateway); legal staff, an admin or the platform
    /// for a legal reason, which accounts records in the person's access log.
    public struct Export: Codable, Sendable {
        public struct Request: Codable, Sendable, Equatable {
            public var accountId: UUID
            /// Why someone other than the person exports their data (1–500 characters); required then.
            public var reason: String?
            public init(accountId: UUID, reason: String? = nil) {
                self.accountId = accountId
                self.reason = reason
            }
        }
        public struct Response: Codable, Sendable, Equatable {
            /// The service's section of the export; an empty object when it holds nothing.
            public var section: JSONValue
            public init(section: JSONValue) { self.section = section }
        }
        public static func name(for service: ServiceName) -> String { "\(service.rawValue).privacy.export" }
    }

    /// `<service>.privacy.erase`: remove the person from the service (delete, or anonymize where the
    /// data must stay, like ledger entries and public posts). Idempotent. Callers: the platform only.
    public struct Erase: Codable, Sendable {
        public struct Request: Codable, Sendable, Equatable {
            public var accountId: UUID
            public init(accountId: UUID) { self.accountId = accountId }
        }
        public typealias Response = Empty
        public static func name(for service: ServiceName) -> String { "\(service.rawValue).privacy.erase" }
    }

    /// Published by accounts when a person asked to be erased; every other service applies it.
    public struct ErasureRequested: DomainEvent, Equatable {
        public static let type = "accounts.erasure-requested.v1"
        public var erasureId: UUID
        public var accountId: UUID
        public var requestedAt: Date
        public init(erasureId: UUID, accountId: UUID, requestedAt: Date) {
            self.erasureId = erasureId
            self.accountId = accountId
            self.requestedAt = requestedAt
        }
    }

    /// Published by a service once it has erased a person; accounts collects one from every service.
    /// Its type is `<service>.erasure-completed.v1`.
    public struct ErasureCompleted: Codable, Sendable, Equatable {
        public var erasureId: UUID
        public var accountId: UUID
        public var service: String
        public init(erasureId: UUID, accountId: UUID, service: String) {
            self.erasureId = erasureId
            self.accountId = accountId
            self.service = service
        }
        public static func type(for service: ServiceName) -> String { "\(service.rawValue).erasure-completed.v1" }
    }
}

extension ServiceError.Code {
    /// The export could not be assembled because a service did not answer in time (503).
    public static let exportUnavailable = ServiceError.Code(rawValue: "export_unavailable")
}

extension Privacy {
    /// The privacy operations' own error codes, with their HTTP statuses.
    public static let errorCodes: [DeclaredErrorCode] = [.init(.exportUnavailable, status: 503)]
}
