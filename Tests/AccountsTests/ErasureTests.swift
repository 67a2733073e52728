import Bus
import Foundation
import Models
@testable import ServiceKit
import Store
import Testing
@testable import AccountsService

@Suite("Export and erasure")
struct ErasureTests {
    @Test("the export holds the account, consents, sign-ins, sessions without token hashes, acceptances and staff accesses")
    func export() async throws {
        try await AccountsFixture.with { accounts in
            let person = try await accounts.register(email: "exp@example.com", marketing: true)
            let session = try await accounts.signIn("exp@example.com")
            let admin = try await accounts.admin()
            _ = try await accounts.call(Accounts.StaffViewAccount.self, .init(accountId: person.id, reason: "legal hold"), as: admin)
            let section = try await accounts.client.call(
                service: .accounts, operation: Privacy.Export.name(for: .accounts), request: Privacy.Export.Request(accountId: person.id),
                responseType: Privacy.Export.Response.self, as: try await accounts.caller(session.token), idempotent: true,
                timeout: .seconds(10)
            ).section
            let stranger = try await accounts.caller(try await accounts.signIn(try await accounts.register().email).token)
            let refused = await #expect(throws: ServiceError.self) {
                try await accounts.client.call(
                    service: .accounts, operation: Privacy.Export.name(for: .accounts), request: Privacy.Export.Request(accountId: person.id),
                    responseType: Privacy.Export.Response.self, as: stranger, idempotent: true, timeout: .seconds(10))
            }
            #expect(refused?.code == .forbidden)
            guard case .object(let fields) = section else {
                Issue.record("the export is not an object")
                return
            }
            #expect(
                Set(fields.keys) == [
                    "account", "consents", "consentHistory", "signIns", "sessions", "policyAcceptances", "staffAccesses", "partnerGrants",
                    "partnerAccesses", "socialIdentities",
                ])
            #expect(fields["account"].flatMap { if case .object(let a) = $0 { a["email"] } else { nil } } == .string("exp@example.com"))
            if case .array(let sessions) = fields["sessions"] { #expect(sessions.count == 1) } else { Issue.record("no sessions") }
            if case .array(let accesses) = fields["staffAccesses"] { #expect(accesses.count == 1) } else { Issue.record("no accesses") }
            let text = String(decoding: try JSONEncoder().encode(section), as: UTF8.self)
            #expect(!text.contains(session.token))
            #expect(!text.contains(AccountsHandlers.tokenHash(session.token).base64EncodedString()))
            let audited = try await accounts.database.withConnection { connection in
                try connection.queryOne("SELECT count(*) AS n FROM audit_log WHERE action = 'privacy.export' AND subject_id = $1", person.id)?
                    .decode("n", as: Int.self)
            }
            #expect(audited == 1)
        }
    }

    @Test("exports running at once all succeed, each audited once, and the audit chain holds")
    func concurrentExports() async throws {
        try await AccountsFixture.with { accounts in
            let person = try await accounts.register(email: "many-exports@example.com")
            let caller = try await accounts.caller(try await accounts.signIn("many-exports@example.com").token)
            let client = accounts.client
            let outcomes = await withTaskGroup(of: Bool.self) { group in
                for _ in 0..<12 {
                    group.addTask {
                        let exported = try? await client.call(
                            service: .accounts, operation: Privacy.Export.name(for: .accounts),
                            request: Privacy.Export.Request(accountId: person.id), responseType: Privacy.Export.Response.self,
                            as: caller, idempotent: true, timeout: .seconds(10))
                        return exported != nil
                    }
                }
                return await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(outcomes.count == 12)
            #expect(outcomes.allSatisfy { $0 })
            let audited = try await accounts.database.withConnection { connection in
                try connection.queryOne("SELECT count(*) AS n FROM audit_log WHERE action = 'privacy.export' AND subject_id = $1", person.id)?
                    .decode("n", as: Int.self)
            }
            #expect(audited == 12)
            #expect(try await AccountsCommands.verifyAudit(database: accounts.database, settings: accounts.settings) == nil)
        }
    }

    /// A verified phone, written as verification writes it (the flow itself, which texts a code
    /// through integration, is SMSEndToEndTests').
    static func giveVerifiedPhone(_ phone: String, to id: UUID, _ accounts: AccountsFixture) async throws {
        let records = AccountRecords(settings: accounts.settings)
        _ = try await accounts.database.withConnection { connection in
            try connection.execute(
                "UPDATE accounts SET phone_sealed = $2, phone_index = $3 WHERE id = $1", id, try records.sealPhone(phone, for: id, on: connection),
                records.phoneIndex(phone))
        }
    }

    @Test("erasure needs the password, then sign-in fails, the email is free again, the data key is gone")
    func erasure() async throws {
        try await AccountsFixture.with { accounts in
            let person = try await accounts.register(email: "gone@example.com", displayName: "Soon Gone", referral: "aff-1")
            let session = try await accounts.signIn("gone@example.com")
            let caller = try await accounts.caller(session.token)
            try await Self.giveVerifiedPhone("+15550100", to: caller.accountId!, accounts)
            let wrong = await accounts.failure(Accounts.RequestErasure.self, .init(password: "not my password"), as: caller)
            #expect(wrong?.code == .validationFailed)
            #expect(await accounts.failure(Accounts.RequestErasure.self, .init(password: "x"))?.code == .unauthenticated)

            let erasure = try await accounts.call(Accounts.RequestErasure.self, .init(password: AccountsFixture.defaultPassword), as: caller)
            #expect(await accounts.failure(Accounts.Authenticate.self, .init(token: session.token))?.code == .unauthenticated)
            #expect(await accounts.failure(
                Accounts.SignIn.self, .init(email: "gone@example.com", password: AccountsFixture.defaultPassword, ipAddress: "192.0.2.1", userAgent: "t")
            )?.code.rawValue == "invalid_credentials")
            let again = try await accounts.register(email: "GONE@example.com")
            #expect(again.id != person.id)

            let row = try await accounts.database.withConnection { connection in
                try connection.queryOne(
                    """
                    SELECT personal_sealed IS NULL AS no_personal, email_index IS NULL AS no_index,
                           phone_sealed IS NULL AND phone_index IS NULL AS no_phone,
                           (SELECT count(*) FROM account_keys WHERE account_id = a.id) AS keys,
                           (SELECT count(*) FROM consent_changes WHERE account_id = a.id) AS changes,
                           (SELECT count(*) FROM sign_in_attempts WHERE account_id = a.id) AS attempts
                    FROM accounts a WHERE id = $1
                    """, person.id)
            }
            let erased = try #require(row)
            #expect(try erased.decode("no_personal", as: Bool.self))
            #expect(try erased.decode("no_index", as: Bool.self))
            #expect(try erased.decode("no_phone", as: Bool.self))
            #expect(try erased.decode("keys", as: Int.self) == 0, "the data key is shredded")
            #expect(try erased.decode("changes", as: Int.self) == 0)
            #expect(try erased.decode("attempts", as: Int.self) == 0)

            // The other services hear of it through the outbox.
            let outbox = try await accounts.database.withConnection { connection in
                try connection.query("SELECT type, payload::text AS payload FROM outbox WHERE type = $1", Privacy.ErasureRequested.type).map {
                    (try $0.decode("type", as: String.self), try $0.decode("payload", as: String.self))
                }
            }
            #expect(outbox.count == 1)
            #expect(outbox.first?.0 == Privacy.ErasureRequested.type)
            #expect(outbox.first?.1.contains(erasure.erasureId.uuidString) == true)

            // The person is gone from the export.
            let records = AccountRecords(settings: accounts.settings)
            let own = ExportRequest(accountId: person.id, requester: Caller(accountId: person.id, roles: [.member]), reason: nil)
            let section = try await accounts.database.transaction { try PrivacyExport.export(own, records: records, on: $0) }
            #expect(section == .object([:]))
            #expect(try await AccountsCommands.verifyAudit(database: accounts.database, settings: accounts.settings) == nil)
        }
    }

    @Test("no personal field is kept in clear anywhere in the accounts schema, before or after erasure")
    func nothingInClear() async throws {
        try await AccountsFixture.with { accounts in
            let email = "Clear.Text@Example.com"
            try await accounts.register(email: email, displayName: "Visible Name", referral: "affiliate-77", country: "FR")
            let session = try await accounts.signIn(email, ip: "198.51.100.77")
            let caller = try await accounts.caller(session.token)
            try await Self.giveVerifiedPhone("+33123456789", to: caller.accountId!, accounts)
            _ = await accounts.failure(
                Accounts.SignIn.self, .init(email: email, password: "wrong password", ipAddress: "198.51.100.78", userAgent: "Agent/9"))
            let secrets = ["clear.text", "Clear.Text", "Visible Name", "affiliate-77", "198.51.100.7", "23456789", "tests/1.0", "Agent/9"]
            /// Every row of every table of the schema, as text.
            func everything() async throws -> String {
                try await accounts.asSuperuser { connection in
                    let tables = try connection.query(
                        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'accounts' AND table_type = 'BASE TABLE'"
                    ).map { try $0.decode("table_name", as: String.self) }
                    return try tables.map { table in
                        try connection.queryOne("SELECT coalesce(string_agg(t::text, ' '), '') AS rows FROM accounts.\"\(table)\" t")?
                            .decode("rows", as: String.self) ?? ""
                    }.joined(separator: "\n")
                }
            }
            let stored = try await everything()
            for secret in secrets { #expect(!stored.contains(secret), "\(secret) is stored in clear") }
            // The owner still reads it all back.
            let me = try await accounts.call(Accounts.Me.self, Empty(), as: caller)
            #expect(me.email == email && me.displayName == "Visible Name" && me.source == "affiliate-77" && me.country == "FR")
            #expect(me.phone == "+33123456789")
            let history = try await accounts.call(Accounts.SignInHistory.self, PageRequest(), as: caller)
            #expect(history.items.map(\.ipAddress) == ["198.51.100.78", "198.51.100.77"])

            _ = try await accounts.call(Accounts.RequestErasure.self, .init(password: AccountsFixture.defaultPassword), as: caller)
            let after = try await everything()
            for secret in secrets { #expect(!after.contains(secret), "\(secret) is stored in clear") }
        }
    }

    @Test("the erasure completes once every other service confirmed, each confirmation counted once")
    func confirmations() async throws {
        try await AccountsFixture.with { accounts in
            try await accounts.register(email: "conf@example.com")
            let caller = try await accounts.caller(try await accounts.signIn("conf@example.com").token)
            let erasure = try await accounts.call(Accounts.RequestErasure.self, .init(password: AccountsFixture.defaultPassword), as: caller)
            let admin = try await accounts.admin()
            let started = try await accounts.call(Accounts.ErasureStatus.self, .init(erasureId: erasure.erasureId), as: .system)
            #expect(started.confirmed == ["accounts"])
            #expect(started.completedAt == nil)

            let subscriptions = AccountsHandlers.erasureConfirmations(audit: accounts.settings.audit)
            #expect(Set(subscriptions.map(\.producer.rawValue)) == ["directory", "chat", "billing", "boards", "notifications"])
            // Each service's completion event, applied as the event consumer applies it; one arrives twice.
            let others: [ServiceName] = [.directory, .chat, .billing, .boards]
            for service in others + [.directory] {
                let type = Privacy.ErasureCompleted.type(for: service)
                let subscription = try #require(subscriptions.first { $0.producer == service })
                let apply = try #require(subscription.handlers[type])
                let payload = try WireCoding.encoder().encode(
                    Privacy.ErasureCompleted(erasureId: erasure.erasureId, accountId: caller.accountId!, service: service.rawValue))
                let metadata = EventMetadata(producer: service.rawValue, seq: 1, type: type, occurredAt: Date())
                try await accounts.database.transaction { try apply(payload, metadata, $0) }
            }
            let partial = try await accounts.call(Accounts.ErasureStatus.self, .init(erasureId: erasure.erasureId), as: admin)
            #expect(partial.confirmed == ["accounts", "billing", "boards", "chat", "directory"])
            #expect(partial.completedAt == nil)
            try await accounts.database.transaction { connection in
                try AccountsHandlers.confirm(erasureId: erasure.erasureId, service: "notifications", audit: accounts.settings.audit, on: connection)
            }
            let done = try await accounts.call(Accounts.ErasureStatus.self, .init(erasureId: erasure.erasureId), as: admin)
            #expect(done.completedAt != nil)
            #expect(done.confirmed.count == 6)
            let member = try await accounts.caller(try await accounts.signIn(try await accounts.register().email).token)
            #expect(await accounts.failure(Accounts.ErasureStatus.self, .init(erasureId: erasure.erasureId), as: member)?.code == .forbidden)
        }
    }

    @Test("an export for a legal reason needs one, is audited as its maker's, and the person reads it in their access log")
    func legalExport() async throws {
        try await AccountsFixture.with { accounts in
            let person = try await accounts.register(email: "subpoena@example.com")
            let session = try await accounts.signIn("subpoena@example.com")
            let admin = try await accounts.admin()
            @Sendable func export(_ id: UUID, reason: String?, as caller: Caller) async throws -> JSONValue {
                try await accounts.client.call(
                    service: .accounts, operation: Privacy.Export.name(for: .accounts),
                    request: Privacy.Export.Request(accountId: id, reason: reason), responseType: Privacy.Export.Response.self,
                    as: caller, idempotent: true, timeout: .seconds(10)
                ).section
            }
            for reason in [nil, "", "   "] {
                let refused = await #expect(throws: ServiceError.self) { try await export(person.id, reason: reason, as: admin) }
                #expect(refused?.code == .validationFailed)
            }
            // A reason makes it a legal export, which the person may not make, even of themselves.
            let own = try await accounts.caller(session.token)
            let selfLegal = await #expect(throws: ServiceError.self) { try await export(person.id, reason: "curious", as: own) }
            #expect(selfLegal?.code == .forbidden)
            let unknown = await #expect(throws: ServiceError.self) { try await export(UUID(), reason: "court order 12", as: admin) }
            #expect(unknown?.code == .notFound)

            let section = try await export(person.id, reason: "court order 12", as: admin)
            #expect(String(decoding: try JSONEncoder().encode(section), as: UTF8.self).contains("subpoena@example.com"))
            _ = try await export(person.id, reason: "regulator request 3", as: .system)

            let log = try await accounts.call(Accounts.AccessLog.self, PageRequest(), as: try await accounts.caller(session.token))
            #expect(log.items.map(\.action) == ["staff.legal-export", "staff.legal-export"])
            #expect(log.items.map(\.reason) == ["regulator request 3", "court order 12"])
            #expect(log.items[0].staffId == nil && log.items[0].staffRoles == ["system"], "made by the platform itself")
            #expect(log.items[1].staffId == admin.accountId && log.items[1].staffRoles == ["admin"])
            #expect(try await AccountsCommands.verifyAudit(database: accounts.database, settings: accounts.settings) == nil)
        }
    }
}
