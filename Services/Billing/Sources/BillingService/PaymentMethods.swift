import Bus
import Foundation
import Models
import PlatformSecurity
import ServiceKit
import Store

/// How billing seals what it must not hold in clear: each saved card's processor reference and
/// each advisor's tax information, under a key derived from `BILLING_DATA_KEY` and the person's
/// id, bound to its row, so a dump of the schema cannot charge anyone or read a tax id, and a
/// sealed value copied to another row does not open.
struct PaymentSealing: Sendable {
    let dataKey: Data

    private func memberKey(_ memberId: UUID) throws -> KeyRing {
        let material = HMAC.sha256(key: dataKey, message: Data("billing.member|\(memberId.uuidString.lowercased())".utf8))
        return try KeyRing(current: SealingKey(id: "member", material: material))
    }

    private static func binding(_ methodId: UUID, _ memberId: UUID) -> Data {
        Data("payment-method|\(methodId.uuidString)|\(memberId.uuidString)".utf8)
    }

    func seal(_ reference: String, method: UUID, member: UUID) throws -> Data {
        try memberKey(member).seal(Data(reference.utf8), associatedData: Self.binding(method, member))
    }

    func open(_ sealed: Data, method: UUID, member: UUID) throws -> String {
        String(decoding: try memberKey(member).open(sealed, associatedData: Self.binding(method, member)), as: UTF8.self)
    }

    /// An advisor's tax information (their form's fields and tax id), under the same per-person key.
    func sealTaxInfo(_ details: Data, advisor: UUID) throws -> Data {
        try memberKey(advisor).seal(details, associatedData: Data("tax-info|\(advisor.uuidString)".utf8))
    }

    func openTaxInfo(_ sealed: Data, advisor: UUID) throws -> Data {
        try memberKey(advisor).open(sealed, associatedData: Data("tax-info|\(advisor.uuidString)".utf8))
    }
}

/// Members' saved cards: added by a processor token (the platform never sees a number), listed by
/// brand and last four, removed at will.
struct PaymentMethodHandlers: Sendable {
    let database: Database
    let bus: BusClient
    let sealing: PaymentSealing

    static let noSuchMethod = ServiceError(.notFound, "no such payment method")

    private static func member(_ caller: Caller) throws -> UUID {
        let member = try BillingHandlers.accountId(of: caller)
        guard caller.has(.member) else { throw ServiceError(.forbidden, "payment methods are members'") }
        return member
    }

    static func method(from row: Row) throws -> Billing.PaymentMethod {
        Billing.PaymentMethod(
            id: try row.decode("id"), brand: try row.decode("brand"), last4: try row.decode("last4"),
            expMonth: try row.decode("exp_month"), expYear: try row.decode("exp_year"), createdAt: try row.decode("created_at"))
    }

    func list(caller: Caller) async throws -> Billing.PaymentMethods.Response {
        let member = try Self.member(caller)
        let methods = try await database.withConnection { connection in
            try connection.query(
                "SELECT id, brand, last4, exp_month, exp_year, created_at FROM payment_methods WHERE member_id = $1 ORDER BY created_at DESC, id",
                member
            ).map(Self.method(from:))
        }
        return .init(items: methods)
    }

    /// Saves the card behind `processorToken`; a member keeps at most `maxMethods`.
    func add(_ request: Billing.AddPaymentMethod.Request, caller: Caller) async throws -> Billing.PaymentMethod {
        let member = try Self.member(caller)
        let token = request.processorToken
        guard (1...255).contains(token.utf8.count), token.unicodeScalars.allSatisfy({ (0x21...0x7E).contains($0.value) }) else {
            throw ServiceError(
                .validationFailed, "processorToken is the processor's token for the card",
                fieldErrors: [FieldError(field: "processorToken", code: "invalid")])
        }
        let count = try await database.withConnection { connection in
            try connection.queryOne("SELECT count(*)::int AS n FROM payment_methods WHERE member_id = $1", member)?.decode("n", as: Int.self) ?? 0
        }
        guard count < Self.maxMethods else {
            throw ServiceError(.conflict, "at most \(Self.maxMethods) saved cards: remove one first")
        }
        let card = try await bus.call(Payments.SaveCard.self, .init(token: token), as: .system)
        let id = UUID()
        let sealed = try sealing.seal(card.processorId, method: id, member: member)
        return try await database.retryingTransaction(.readCommitted) { connection in
            let row = try connection.queryOne(
                """
                INSERT INTO payment_methods (id, member_id, sealed_reference, brand, last4, exp_month, exp_year, fingerprint)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id, brand, last4, exp_month, exp_year, created_at
                """, id, member, sealed, String(card.brand.prefix(32)), String(card.last4.suffix(4)), card.expMonth, card.expYear,
                String(card.fingerprint.prefix(64)))
            try connection.execute(
                "INSERT INTO card_holders (fingerprint, member_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                String(card.fingerprint.prefix(64)), member)
            guard let row else { throw ServiceError(.internalError, "the card was not saved") }
            return try Self.method(from: row)
        }
    }

    static let maxMethods = 10

    /// Forgets a card: its sealed reference is deleted. A card with a top-up still pending stays
    /// until the processor has said what became of it (asking again needs the card).
    func remove(_ request: Billing.RemovePaymentMethod.Request, caller: Caller) async throws -> Empty {
        let member = try Self.member(caller)
        try await database.retryingTransaction(.readCommitted) { connection in
            guard
                try connection.queryOne(
                    "SELECT id FROM payment_methods WHERE id = $1 AND member_id = $2 FOR UPDATE", request.id, member) != nil
            else { throw Self.noSuchMethod }
            if try connection.queryOne(
                "SELECT 1 AS pending FROM top_ups WHERE payment_method_id = $1 AND status = 'pending' LIMIT 1", request.id) != nil
            {
                throw ServiceError(.conflict, "a top-up with this card is still pending; remove it once it is decided")
            }
            try connection.execute("DELETE FROM payment_methods WHERE id = $1", request.id)
            try connection.execute("UPDATE auto_reload SET enabled = false, updated_at = now() WHERE payment_method_id = $1", request.id)
        }
        return Empty()
    }
}
