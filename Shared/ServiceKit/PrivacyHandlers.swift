import Bus
public import Foundation
import Logging
public import Models
public import Store

/// Who asks for an export, of whom, and why.
public struct ExportRequest: Sendable {
    /// Whose data.
    public var accountId: UUID
    /// Who asks: the person, legal staff, an admin, or the platform.
    public var requester: Caller
    /// Why, when the requester is not the person (checked: 1–500 characters).
    public var reason: String?

    /// Whether this is legal staff's or the platform's export, made for a reason (whoever it is
    /// of), rather than the person's own.
    public var isLegal: Bool { reason != nil || requester.accountId != accountId }
}

/// What a service holds about a person, and how it forgets them: the two hooks behind every
/// service's `privacy.export` and `privacy.erase` operations and its share of an erasure.
public struct PrivacyHooks: Sendable {
    /// Everything the service holds about the account, inside a read transaction.
    public var export: @Sendable (_ request: ExportRequest, _ connection: Connection) throws -> JSONValue
    /// Deletes or anonymizes the account's data, inside a transaction; running it twice is harmless.
    public var erase: @Sendable (_ accountId: UUID, _ connection: Connection) throws -> Void

    public init(
        export: @escaping @Sendable (ExportRequest, Connection) throws -> JSONValue,
        erase: @escaping @Sendable (UUID, Connection) throws -> Void
    ) {
        self.export = export
        self.erase = erase
    }

    /// For a service that holds no personal data: an empty section, nothing to erase.
    public static let none = PrivacyHooks(export: { _, _ in .object([:]) }, erase: { _, _ in })
}

/// Registers `<service>.privacy.export` and `<service>.privacy.erase`, and builds the subscription
/// through which a service takes part in an erasure that accounts started.
enum PrivacyHandlers {
    static func register(on worker: ServiceWorker, service: ServiceName, hooks: PrivacyHooks, database: Database) {
        worker.handle(
            operation: Privacy.Export.name(for: service), requestType: Privacy.Export.Request.self
        ) { request, context -> Privacy.Export.Response in
            let export = ExportRequest(accountId: request.accountId, requester: context.caller, reason: request.reason)
            try authorize(export)
            // One snapshot for the whole export; an export that records itself (an audit entry) can
            // lose a race with another write and is then simply run again.
            let section = try await database.retryingTransaction(.repeatableRead) { try hooks.export(export, $0) }
            return Privacy.Export.Response(section: section)
        }
        worker.handle(
            operation: Privacy.Erase.name(for: service), requestType: Privacy.Erase.Request.self
        ) { request, context -> Empty in
            guard context.caller.has(.system) else {
                throw ServiceError(.forbidden, "erasure is started by the account's owner through accounts")
            }
            try await database.transaction { try hooks.erase(request.accountId, $0) }
            return Empty()
        }
    }

    /// A person exports their own data; legal staff, an admin or the platform may export anyone's,
    /// for a reason given (a legal obligation), which accounts shows the person in their access log.
    /// An export with a reason is such a legal export, whoever it is of.
    static func authorize(_ export: ExportRequest) throws {
        guard export.isLegal else { return }
        let requester = export.requester
        guard requester.has(.system) || requester.has(.legal) || requester.has(.admin) else {
            throw ServiceError(.forbidden, "only legal staff export another person's data")
        }
        let reason = export.reason ?? ""
        let blank = reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
        guard !blank, reason.unicodeScalars.count <= 500 else {
            throw ServiceError(
                .validationFailed, "say why this person's data is exported (1 to 500 characters)",
                fieldErrors: [FieldError(field: "reason", code: blank ? "required" : "too_long")])
        }
    }

    /// Applies accounts' erasure request: erases, and announces completion through this service's
    /// outbox in the same transaction, so accounts hears of it exactly once, whatever crashes.
    static func erasureSubscription(service: ServiceName, hooks: PrivacyHooks) -> EventSubscription {
        EventSubscription(producer: .accounts).on(Privacy.ErasureRequested.self) { event, _, connection in
            try hooks.erase(event.accountId, connection)
            let completed = Privacy.ErasureCompleted(
                erasureId: event.erasureId, accountId: event.accountId, service: service.rawValue)
            try Outbox.append(
                type: Privacy.ErasureCompleted.type(for: service),
                payload: String(decoding: try WireCoding.encoder().encode(completed), as: UTF8.self),
                on: connection)
        }
    }
}
