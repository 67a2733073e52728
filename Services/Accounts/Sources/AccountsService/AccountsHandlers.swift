import Bus
import Foundation
import Logging
import Models
import PlatformSecurity
import ServiceKit
import Store

/// The accounts service's business rules, one method per bus operation: validate, authorize,
/// one transaction, answer. The worker's handlers call these with the request's caller.
struct AccountsHandlers: Sendable {
    let database: Database
    let settings: AccountsSettings
    let logger: Logger
    let dummyHash: DummyHash
    /// The account records and the audit chain, their keys derived once rather than per request.
    let records: AccountRecords
    let audit: AuditLog
    /// For texting verification codes (`sms.send`); nil in operator commands, which text nobody.
    let bus: BusClient?

    init(database: Database, settings: AccountsSettings, logger: Logger, bus: BusClient? = nil) {
        self.database = database
        self.bus = bus
        self.settings = settings
        self.logger = logger
        self.dummyHash = DummyHash(hasher: settings.passwordHasher)
        self.records = AccountRecords(settings: settings)
        self.audit = records.audit
    }

    /// The signed-in caller's account id, or 401.
    static func accountId(of caller: Caller) throws -> UUID {
        guard let id = caller.accountId else { throw AccountsErrors.unauthenticated }
        return id
    }

    // MARK: Registration

    /// `source` is where the account came from when no referral code says it (a sign-in
    /// provider); `also` runs in the registration's transaction with the new account's id.
    func register(
        _ request: Accounts.Register.Request, caller: Caller, deadline: Date, source: String? = nil,
        also: @escaping @Sendable (UUID, Connection) throws -> Void = { _, _ in }
    ) async throws -> Accounts.Account {
        var rules = FieldRules()
        rules.email(request.email)
        rules.password(request.password)
        rules.displayName(request.displayName)
        rules.country(request.country)
        rules.text(request.referralCode, field: "referralCode", range: 1...100)
        if !InputRules.memberRoles.contains(request.role) { rules.fail("role", "invalid") }
        try rules.check()
        let current = try await database.withConnection { try PolicyRecords.current(on: $0) }
        guard request.acceptPolicyVersion == current.version else {
            throw ServiceError(
                .validationFailed, "accept the current privacy policy to register",
                fieldErrors: [FieldError(field: "acceptPolicyVersion", code: "policy_version_mismatch")])
        }
        let keys = AttemptThrottle.registrationKeys(address: request.ipAddress, settings: settings)
        try await database.withConnection { try AttemptThrottle.count(keys, on: $0) }
        let hash = try await notCountedIfRefused(keys) { try await hashPassword(request.password, deadline: deadline) }
        let id = UUID()
        let records = self.records
        let account = try await database.transaction { connection -> Accounts.Account in
            try records.insert(
                id: id, email: request.email, passwordHash: hash, displayName: request.displayName, roles: [request.role],
                country: request.country, source: request.referralCode ?? source, on: connection)
            try also(id, connection)
            try Self.countReferral(request.referralCode, on: connection)
            try audit.append(
                .init(actorId: id, actorRoles: [request.role], action: "account.register", subjectId: id), on: connection)
            try PolicyRecords.accept(version: current.version, accountId: id, on: connection)
            try Outbox.append(
                Accounts.AccountRegistered(accountId: id, role: request.role, at: Date()),
                on: connection)
            try ConsentRecords.record(
                [("marketingEmail", request.marketingEmailOptIn ?? false)], accountId: id, source: .registration,
                policyVersion: current.version, actorRoles: [request.role], audit: audit, on: connection)
            guard let loaded = try records.load(id, on: connection) else { throw AccountsErrors.notFound }
            return loaded.account
        }
        logger.info("account registered", metadata: ["account.id": "\(id)"])
        return account
    }

    // MARK: Sessions

    /// Counted against its keys before anything else (refused at once past a limit), then one
    /// password verification whether or not the email has an account.
    func signIn(_ request: Accounts.SignIn.Request, deadline: Date) async throws -> Accounts.SignIn.Response {
        let client = Client(request.ipAddress, request.userAgent)
        let (account, keys) = try await checkPassword(email: request.email, password: request.password, client: client, deadline: deadline)
        return try await openSession(for: account, client: client, givingBack: keys, action: "session.sign-in")
    }

    /// Where a request came from, as the sign-in history keeps it.
    struct Client {
        let ip: String
        let userAgent: String
        init(_ ip: String, _ userAgent: String) {
            self.ip = String(ip.prefix(100))
            self.userAgent = String(userAgent.prefix(500))
        }
    }

    /// The account `email` and `password` open, and the attempt counters to give back once it is
    /// used; a failure is counted, recorded in the account's history, and `invalid_credentials`.
    func checkPassword(
        email rawEmail: String, password: String, client: Client, deadline: Date
    ) async throws -> (Accounts.Account, [AttemptThrottle.Key]) {
        let email = InputRules.normalize(email: rawEmail)
        let keys = AttemptThrottle.signInKeys(email: email, address: client.ip, settings: settings)
        try await database.withConnection { try AttemptThrottle.count(keys, on: $0) }
        let records = self.records
        var found: (account: Accounts.Account, passwordHash: String)?
        if email.count <= 254 {
            found = try await database.withConnection { try records.load(email: email, on: $0) }
        }
        // An unknown email costs one scrypt verification too, so timing does not tell who has an account.
        let encoded: String
        if let found { encoded = found.passwordHash } else { encoded = try await dummyHash.value() }
        let matches = try await notCountedIfRefused(keys) { try await passwordMatches(password, encoded, deadline: deadline) }
        guard let found, matches else {
            let accountId = found?.account.id
            try await database.transaction { connection in
                if let accountId {
                    let sealed = try records.sealClient(.init(ipAddress: client.ip, userAgent: client.userAgent), for: accountId, on: connection)
                    try Self.recordSignIn(client: sealed, succeeded: false, accountId: accountId, on: connection)
                } else {
                    try Self.recordNothing(ip: client.ip, userAgent: client.userAgent, on: connection)
                }
                try audit.append(
                    .init(actorId: accountId, actorRoles: [], action: "session.sign-in-failed", subjectId: accountId),
                    on: connection)
            }
            logger.info("sign-in refused", metadata: ["account.id": "\(accountId.map { "\($0)" } ?? "-")"])
            throw AccountsErrors.invalidCredentials
        }
        return (found.account, keys)
    }

    /// A new session for `account` (not when it is disabled), in the account's sign-in history,
    /// audited as `action`; `also` runs in the same transaction (a social link made with it).
    func openSession(
        for account: Accounts.Account, client: Client, givingBack keys: [AttemptThrottle.Key], action: String,
        also: @escaping @Sendable (Connection) throws -> Void = { _ in }
    ) async throws -> Accounts.SignIn.Response {
        let token = SecureRandom.token()
        let expiresAt = Date().addingTimeInterval(settings.sessionLifetime)
        let records = self.records
        try await database.transaction { connection in
            // Said only to whoever knows the password: a disabled account opens no session.
            guard try connection.queryOne("SELECT 1 FROM accounts WHERE id = $1 AND disabled_at IS NULL", account.id) != nil else {
                throw ServiceError(.accountDisabled, "this account has been disabled; contact support")
            }
            try also(connection)
            let sealed = try records.sealClient(.init(ipAddress: client.ip, userAgent: client.userAgent), for: account.id, on: connection)
            try connection.execute(
                "INSERT INTO sessions (token_hash, account_id, expires_at, client_sealed) VALUES ($1, $2, $3, $4)",
                Self.tokenHash(token), account.id, expiresAt, sealed)
            try Self.recordSignIn(client: sealed, succeeded: true, accountId: account.id, on: connection)
            try Self.noticeNewClient(records.clientHash(userAgent: client.userAgent, ipAddress: client.ip), of: account.id, on: connection)
            try AttemptThrottle.giveBack(keys, on: connection)
            try audit.append(.init(actorId: account.id, actorRoles: account.roles, action: action, subjectId: account.id), on: connection)
        }
        logger.info("signed in", metadata: ["account.id": "\(account.id)"])
        return Accounts.SignIn.Response(token: token, expiresAt: expiresAt, account: account)
    }

    /// Remembers the client a person signed in from; one never seen before, when they have
    /// signed in before, is a security notice for them (their very first sign-in is not).
    private static func noticeNewClient(_ hash: Data, of account: UUID, on connection: Connection) throws {
        let known = try connection.queryOne("SELECT count(*)::int AS n FROM known_clients WHERE account_id = $1", account)?
            .decode("n", as: Int.self) ?? 0
        let added = try connection.execute(
            "INSERT INTO known_clients (account_id, client_hash) VALUES ($1, $2) ON CONFLICT DO NOTHING", account, hash)
        if added == 1, known > 0 {
            try Outbox.append(Accounts.SecurityNotice(accountId: account, what: Accounts.SecurityNotice.newSignIn, at: Date()), on: connection)
        }
    }

    /// For an email with no account: the same statements and sealing as a history line, writing
    /// nothing, so that a failed sign-in takes as long whether or not the email has an account.
    private static func recordNothing(ip: String, userAgent: String, on connection: Connection) throws {
        let stranger = UUID()
        _ = try connection.queryOne("SELECT sealed_key FROM account_keys WHERE account_id = $1", stranger)
        let key = try KeyRing(current: SealingKey(id: "account", material: SecureRandom.bytes(32)))
        let sealed = try key.seal(
            try JSONEncoder().encode(AccountRecords.ClientDetails(ipAddress: ip, userAgent: userAgent)),
            associatedData: AccountRecords.binding(stranger, "client"))
        try connection.execute(
            "INSERT INTO sign_in_attempts (client_sealed, succeeded, account_id) SELECT $1, false, NULL WHERE false", sealed)
    }

    /// One line of the account's sign-in history; `client` is sealed with the account's key.
    private static func recordSignIn(client: Data, succeeded: Bool, accountId: UUID, on connection: Connection) throws {
        try connection.execute(
            "INSERT INTO sign_in_attempts (client_sealed, succeeded, account_id) VALUES ($1, $2, $3)",
            client, succeeded, accountId)
    }

    func signOut(_ request: Accounts.SignOut.Request) async throws -> Empty {
        let hash = Self.tokenHash(request.token)
        try await database.withConnection { connection in
            _ = try connection.execute(
                "UPDATE sessions SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL", hash)
        }
        return Empty()
    }

    func authenticate(_ request: Accounts.Authenticate.Request) async throws -> Accounts.Authenticate.Response {
        let hash = Self.tokenHash(request.token)
        // The lookup is by the token's hash, so no secret is compared in memory.
        return try await database.withConnection { connection in
            guard
                let row = try connection.queryOne(
                    """
                    SELECT s.account_id, s.expires_at, a.roles,
                           (SELECT p.version FROM policy_acceptances p WHERE p.account_id = a.id ORDER BY p.id DESC LIMIT 1) AS accepted
                    FROM sessions s JOIN accounts a ON a.id = s.account_id
                    WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now() AND a.erased_at IS NULL
                      AND a.disabled_at IS NULL
                    """, hash)
            else { throw ServiceError(.unauthenticated, "the session is not valid") }
            let roles = try row.decode("roles", as: [String].self)
            return Accounts.Authenticate.Response(
                accountId: try row.decode("account_id"), roles: roles, expiresAt: try row.decode("expires_at"),
                acceptedPolicyVersion: try row.decode("accepted"),
                currentPolicyVersion: try PolicyRecords.current(on: connection).version)
        }
    }

    static func tokenHash(_ token: String) -> Data { SHA256.hash(Data(token.utf8)) }

    // MARK: Profile

    func me(caller: Caller) async throws -> Accounts.Account {
        let id = try Self.accountId(of: caller)
        let records = self.records
        return try await database.withConnection { connection in
            guard let found = try records.load(id, on: connection) else { throw AccountsErrors.notFound }
            return found.account
        }
    }

    /// How long the address before an email change is kept, to be told of the change.
    static let previousEmailKept: TimeInterval = 30 * 86_400

    func updateProfile(_ request: Accounts.UpdateProfile.Request, caller: Caller, deadline: Date) async throws
        -> Accounts.Account
    {
        let id = try Self.accountId(of: caller)
        var rules = FieldRules()
        if let name = request.displayName { rules.displayName(name) }
        if let email = request.email { rules.email(email) }
        if let password = request.password { rules.password(password) }
        rules.text(request.phone, field: "phone", range: 0...32)
        if let phone = request.phone, !phone.trimmingCharacters(in: .whitespaces).isEmpty, Self.normalize(phone: phone) == nil {
            rules.fail("phone", "invalid")
        }
        if (request.email != nil || request.password != nil) && request.currentPassword == nil {
            rules.fail("currentPassword", "required")
        }
        try rules.check()
        let records = self.records
        guard let found = try await database.withConnection({ try records.load(id, on: $0) }) else {
            throw AccountsErrors.notFound
        }
        if let current = request.currentPassword, request.email != nil || request.password != nil {
            try await checkCurrentPassword(current, of: found, field: "currentPassword", deadline: deadline)
        }
        var hashed: String?
        if let password = request.password { hashed = try await hashPassword(password, deadline: deadline) }
        // A new number is texted its code before anything is written: a number that cannot take
        // texts changes nothing.
        var phoneCode: (sealedPhone: Data, codeHash: Data)?
        if let given = request.phone, let phone = Self.normalize(phone: given), phone != found.account.phone {
            phoneCode = try await textCode(to: phone, for: id)
        }
        let newPhoneCode = phoneCode
        let newHash = hashed
        let keepToken = request.currentToken.map(Self.tokenHash)
        let account = try await database.transaction { connection -> Accounts.Account in
            var emailChanged = false
            if request.displayName != nil || request.email != nil {
                try records.updatePersonal(id, on: connection) { personal in
                    if let name = request.displayName { personal.displayName = name }
                    if let email = request.email, InputRules.normalize(email: email) != InputRules.normalize(email: personal.email) {
                        // The old address is told of the change, so it is kept a while (sealed, as the rest).
                        personal.previousEmail = personal.email
                        personal.previousEmailUntil = Date().addingTimeInterval(Self.previousEmailKept)
                        personal.email = InputRules.display(email: email)
                        emailChanged = true
                    }
                }
            }
            if request.displayName != nil {
                try Outbox.append(Accounts.DisplayNameChanged(accountId: id), on: connection)
            }
            if let newPhoneCode {
                try connection.execute(
                    """
                    UPDATE accounts SET phone_pending_sealed = $2, phone_code_hash = $3,
                        phone_code_expires_at = now() + make_interval(secs => $4::float8), phone_code_attempts = 0
                    WHERE id = $1
                    """, id, newPhoneCode.sealedPhone, newPhoneCode.codeHash, Self.codeLifetime)
            } else if request.phone?.trimmingCharacters(in: .whitespaces).isEmpty == true {
                try connection.execute(
                    """
                    UPDATE accounts SET phone_sealed = NULL, phone_index = NULL, phone_pending_sealed = NULL,
                        phone_code_hash = NULL, phone_code_expires_at = NULL, phone_code_attempts = 0
                    WHERE id = $1
                    """, id)
            }
            if emailChanged {
                try Outbox.append(Accounts.SecurityNotice(accountId: id, what: Accounts.SecurityNotice.emailChanged, at: Date()), on: connection)
            }
            if let newHash {
                try Outbox.append(Accounts.SecurityNotice(accountId: id, what: Accounts.SecurityNotice.passwordChanged, at: Date()), on: connection)
                try connection.execute("UPDATE accounts SET password_hash = $2 WHERE id = $1", id, newHash)
                // A new password ends every other session: whoever knew the old one is signed out.
                try connection.execute(
                    """
                    UPDATE sessions SET revoked_at = now()
                    WHERE account_id = $1 AND revoked_at IS NULL AND ($2::bytea IS NULL OR token_hash <> $2::bytea)
                    """, id, keepToken)
            }
            try audit.append(
                .init(
                    actorId: id, actorRoles: found.account.roles, action: "account.update-profile", subjectId: id,
                    details: [
                        "changed": [
                            request.displayName.map { _ in "displayName" }, request.phone.map { _ in "phone" },
                            request.email.map { _ in "email" }, request.password.map { _ in "password" },
                        ].compactMap { $0 }.joined(separator: ","),
                    ]), on: connection)
            guard let loaded = try records.load(id, on: connection) else { throw AccountsErrors.notFound }
            return loaded.account
        }
        logger.info("profile updated", metadata: ["account.id": "\(id)"])
        return account
    }
}

// MARK: Passwords

extension AccountsHandlers {
    /// Hashes on the derivation threads; `busy` if it could not finish before the request's
    /// deadline, `timeout` if the deadline passed while it waited.
    func hashPassword(_ password: String, deadline: Date?) async throws -> String {
        do {
            return try await settings.passwordHasher.hash(password, deadline: deadline)
        } catch let error as SecurityError where error == .deadlinePassed {
            throw AccountsErrors.deadlinePassed
        } catch let error as SecurityError where error == .overloaded {
            throw AccountsErrors.passwordsBusy
        }
    }

    /// Whether `password` matches `encoded` (false for a hash that does not parse); `busy` if the
    /// verification could not finish before the deadline, `timeout` if the deadline passed while it waited.
    func passwordMatches(_ password: String, _ encoded: String, deadline: Date) async throws -> Bool {
        do {
            return try await settings.passwordHasher.verify(password, against: encoded, deadline: deadline)
        } catch let error as SecurityError where error == .deadlinePassed {
            throw AccountsErrors.deadlinePassed
        } catch let error as SecurityError where error == .overloaded {
            throw AccountsErrors.passwordsBusy
        } catch {
            return false
        }
    }

    /// Runs the password work of an attempt already counted against `keys`; when it is refused
    /// unrun (busy, or past its deadline), gives the count back: the client is asked to try
    /// again, and that must not use up its limit.
    func notCountedIfRefused<Value>(_ keys: [AttemptThrottle.Key], _ work: () async throws -> Value) async throws -> Value {
        do {
            return try await work()
        } catch let error as ServiceError where error.code == .busy || error.code == .timeout {
            try? await database.withConnection { try AttemptThrottle.giveBack(keys, on: $0) }
            throw error
        }
    }

    /// The account's current password, re-checked before a sensitive change, counted per account
    /// (refused at once past the limit) so that a stolen session cannot guess it.
    func checkCurrentPassword(
        _ password: String, of found: (account: Accounts.Account, passwordHash: String), field: String, deadline: Date
    ) async throws {
        let keys = AttemptThrottle.passwordCheckKeys(account: found.account.id, settings: settings)
        try await database.withConnection { try AttemptThrottle.count(keys, on: $0) }
        guard try await notCountedIfRefused(keys, { try await passwordMatches(password, found.passwordHash, deadline: deadline) }) else {
            throw AccountsErrors.wrongCurrentPassword(field: field)
        }
        try await database.withConnection { try AttemptThrottle.giveBack(keys, on: $0) }
    }
}

/// A password hash of nothing anyone knows, verified against for unknown emails so that they cost
/// the same time as wrong passwords. Made once, off the cooperative pool, on first use.
actor DummyHash {
    private let hasher: PasswordHasher
    private var cached: String?

    init(hasher: PasswordHasher) {
        self.hasher = hasher
    }

    func value() async throws -> String {
        if let cached { return cached }
        let made = try await hasher.hash(SecureRandom.token())
        cached = made
        return made
    }
}
