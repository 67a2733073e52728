import Foundation
import Models
import PlatformSecurity
import Store

/// Reading and writing account rows, and the per-account data key that seals every personal field.
///
/// Sealed under the account's own key (AES-256-GCM, bound to the account id and the field):
/// the email, display name, country and source together (`personal_sealed`), the phone
/// (`phone_sealed`), and the address and user agent of each session and sign-in
/// (`client_sealed`). Erasure deletes the key, so none of it can be read again, in backups or
/// the WAL either. In clear stay only what has no meaning without those: ids, roles, times,
/// outcomes. The email is found through `email_index`, an HMAC of its normalized form under a
/// key of its own.
struct AccountRecords {
    let keyRing: KeyRing
    let emailIndexKey: Data
    /// The audit chain, for what the records' users must audit.
    let audit: AuditLog

    init(settings: AccountsSettings) {
        keyRing = settings.keyRing
        emailIndexKey = settings.emailIndexKey
        audit = settings.audit
    }

    /// The fields sealed together in `personal_sealed`.
    struct PersonalFields: Codable {
        var email: String
        var displayName: String
        var country: String?
        var source: String?
        /// The address before the last change, and until when it is kept (to be told of the change).
        var previousEmail: String?
        var previousEmailUntil: Date?
        /// For an account registered with a referral code: whether its first chat was counted for
        /// the code, and the last UTC day (`YYYY-MM-DD`) its paying was (each counts once a day).
        var referralFirstChat: Bool?
        var referralPaidDay: String?
    }

    /// The client details sealed in `client_sealed`.
    struct ClientDetails: Codable {
        var ipAddress: String
        var userAgent: String
    }

    /// What `load` reads of `accounts a`, with the account's sealed data key in the same row (one
    /// statement instead of two on every read of an account).
    static let columns = """
        a.id, a.personal_sealed, a.roles, a.phone_sealed, a.phone_pending_sealed, a.created_at, a.password_hash,
        (SELECT p.version FROM policy_acceptances p WHERE p.account_id = a.id ORDER BY p.id DESC LIMIT 1) AS policy_version,
        (SELECT k.sealed_key FROM account_keys k WHERE k.account_id = a.id) AS sealed_key
        """

    /// The blind index of an email: what lookups and uniqueness use instead of the address.
    func emailIndex(_ email: String) -> Data {
        HMAC.sha256(key: emailIndexKey, message: Data(InputRules.normalize(email: email).utf8))
    }

    /// A live (not erased) account and its password hash, or nil.
    func load(_ id: UUID, on connection: Connection) throws -> (account: Accounts.Account, passwordHash: String)? {
        guard let row = try connection.queryOne("SELECT \(Self.columns) FROM accounts a WHERE a.id = $1 AND a.erased_at IS NULL", id)
        else { return nil }
        return try decode(row, on: connection)
    }

    /// A live account by its email (any spelling of it), or nil.
    func load(email: String, on connection: Connection) throws -> (account: Accounts.Account, passwordHash: String)? {
        guard
            let row = try connection.queryOne(
                "SELECT \(Self.columns) FROM accounts a WHERE a.email_index = $1 AND a.erased_at IS NULL", emailIndex(email))
        else { return nil }
        return try decode(row, on: connection)
    }

    private func decode(_ row: Row, on connection: Connection) throws -> (account: Accounts.Account, passwordHash: String) {
        let id = try row.decode("id", as: UUID.self)
        let roles = try row.decode("roles", as: [String].self)
        guard let sealedKey = try row.decode("sealed_key", as: Data?.self) else {
            throw ServiceError(.notFound, "no such account")
        }
        let key = try dataKey(sealed: sealedKey, for: id)
        let personal = try Self.openPersonal(try row.decode("personal_sealed"), with: key, id: id)
        func openPhone(_ column: String) throws -> String? {
            guard let sealed = try row.decode(column, as: Data?.self) else { return nil }
            return String(decoding: try key.open(sealed, associatedData: Self.binding(id)), as: UTF8.self)
        }
        let account = Accounts.Account(
            id: id, email: personal.email, displayName: personal.displayName,
            role: roles.first ?? "member", roles: roles, country: personal.country, phone: try openPhone("phone_sealed"),
            source: personal.source, createdAt: try row.decode("created_at"),
            policyVersion: try row.decode("policy_version"), pendingPhone: try openPhone("phone_pending_sealed"))
        return (account, try row.decode("password_hash"))
    }

    /// Inserts a new account with a fresh data key; a taken email is `email_taken`.
    func insert(
        id: UUID, email: String, passwordHash: String, displayName: String, roles: [String], country: String?,
        source: String?, on connection: Connection
    ) throws {
        let material = SecureRandom.bytes(32)
        let key = try KeyRing(current: SealingKey(id: "account", material: material))
        let personal = PersonalFields(
            email: InputRules.display(email: email), displayName: displayName, country: country, source: source)
        do {
            try connection.execute(
                """
                INSERT INTO accounts (id, email_index, personal_sealed, password_hash, roles)
                VALUES ($1, $2, $3, $4, $5::text[])
                """,
                id, emailIndex(email), try Self.seal(personal, with: key, id: id), passwordHash, roles)
        } catch let error as StoreError where error == .uniqueViolation {
            throw AccountsErrors.emailTaken
        }
        try connection.execute(
            "INSERT INTO account_keys (account_id, sealed_key) VALUES ($1, $2)", id,
            try keyRing.seal(material, associatedData: Self.binding(id)))
    }

    /// Changes sealed personal fields of a live account; a new email that is taken is `email_taken`.
    func updatePersonal(_ id: UUID, on connection: Connection, _ change: (inout PersonalFields) -> Void) throws {
        guard
            let row = try connection.queryOne(
                "SELECT personal_sealed FROM accounts WHERE id = $1 AND erased_at IS NULL FOR UPDATE", id)
        else { throw AccountsErrors.notFound }
        let key = try dataKey(for: id, on: connection)
        var personal = try Self.openPersonal(try row.decode("personal_sealed"), with: key, id: id)
        change(&personal)
        do {
            try connection.execute(
                "UPDATE accounts SET personal_sealed = $2, email_index = $3 WHERE id = $1", id,
                try Self.seal(personal, with: key, id: id), emailIndex(personal.email))
        } catch let error as StoreError where error == .uniqueViolation {
            throw AccountsErrors.emailTaken
        }
    }

    /// The sealed personal fields of a live account.
    func personal(_ id: UUID, on connection: Connection) throws -> PersonalFields? {
        guard let row = try connection.queryOne("SELECT personal_sealed FROM accounts WHERE id = $1 AND erased_at IS NULL", id) else {
            return nil
        }
        return try Self.openPersonal(try row.decode("personal_sealed"), with: try dataKey(for: id, on: connection), id: id)
    }

    /// A keyed hash of a client's browser and network (the /24 of an IPv4 address, the /48 of an
    /// IPv6 one): the same device on the same network hashes the same, and the hash says nothing.
    func clientHash(userAgent: String, ipAddress: String) -> Data {
        let network = ipAddress.contains(":")
            ? ipAddress.split(separator: ":", omittingEmptySubsequences: false).prefix(3).joined(separator: ":")
            : ipAddress.split(separator: ".").prefix(3).joined(separator: ".")
        return HMAC.sha256(key: HMAC.sha256(key: emailIndexKey, message: Data("known-clients".utf8)), message: Data("\(userAgent)|\(network)".utf8))
    }

    /// The blind index of a phone number (E.164): what a STOP from that number is matched by.
    func phoneIndex(_ phone: String) -> Data {
        HMAC.sha256(key: HMAC.sha256(key: emailIndexKey, message: Data("phone-index".utf8)), message: Data(phone.utf8))
    }

    /// The verified phone of a live account, unless that number texted STOP.
    func textablePhone(_ id: UUID, on connection: Connection) throws -> String? {
        guard
            let row = try connection.queryOne(
                """
                SELECT a.phone_sealed FROM accounts a
                WHERE a.id = $1 AND a.erased_at IS NULL AND a.phone_sealed IS NOT NULL
                    AND NOT EXISTS (SELECT 1 FROM sms_stops s WHERE s.phone_index = a.phone_index)
                """, id),
            let sealed = try row.decode("phone_sealed", as: Data?.self)
        else { return nil }
        return String(decoding: try dataKey(for: id, on: connection).open(sealed, associatedData: Self.binding(id)), as: UTF8.self)
    }

    /// Seals `phone` with the account's data key.
    func sealPhone(_ phone: String, for id: UUID, on connection: Connection) throws -> Data {
        try dataKey(for: id, on: connection).seal(Data(phone.utf8), associatedData: Self.binding(id))
    }

    /// Seals where a session or sign-in came from, with the account's data key.
    func sealClient(_ client: ClientDetails, for id: UUID, on connection: Connection) throws -> Data {
        try dataKey(for: id, on: connection).seal(try JSONEncoder().encode(client), associatedData: Self.binding(id, "client"))
    }

    /// Opens the `client_sealed` values of rows of one account, with one key lookup.
    func clientOpener(for id: UUID, on connection: Connection) throws -> (Data) throws -> ClientDetails {
        let key = try dataKey(for: id, on: connection)
        return { sealed in
            try JSONDecoder().decode(ClientDetails.self, from: try key.open(sealed, associatedData: Self.binding(id, "client")))
        }
    }

    /// The account's own key, opened with the master key ring; gone once the account is erased.
    func dataKey(for id: UUID, on connection: Connection) throws -> KeyRing {
        guard let row = try connection.queryOne("SELECT sealed_key FROM account_keys WHERE account_id = $1", id) else {
            throw ServiceError(.notFound, "no such account")
        }
        return try dataKey(sealed: try row.decode("sealed_key", as: Data.self), for: id)
    }

    /// The account's data key, opened from its sealed form under the master key ring.
    func dataKey(sealed: Data, for id: UUID) throws -> KeyRing {
        let material = try keyRing.open(sealed, associatedData: Self.binding(id))
        return try KeyRing(current: SealingKey(id: "account", material: material))
    }

    static func seal(_ personal: PersonalFields, with key: KeyRing, id: UUID) throws -> Data {
        try key.seal(try JSONEncoder().encode(personal), associatedData: binding(id, "personal"))
    }

    static func openPersonal(_ sealed: Data, with key: KeyRing, id: UUID) throws -> PersonalFields {
        try JSONDecoder().decode(PersonalFields.self, from: try key.open(sealed, associatedData: binding(id, "personal")))
    }

    /// Binds sealed data to its account, so a value copied to another row does not open.
    static func binding(_ id: UUID) -> Data { Data(id.uuidString.lowercased().utf8) }

    /// Binds sealed data to its account and its field, so it opens in neither another row nor another column.
    static func binding(_ id: UUID, _ field: String) -> Data { Data("\(id.uuidString.lowercased()):\(field)".utf8) }
}

/// The errors with a code of their own (docs/api.md), shared by several handlers.
enum AccountsErrors {
    static let emailTaken = ServiceError(.emailTaken, "an account with this email exists")
    static let invalidCredentials = ServiceError(
        .invalidCredentials, "the email or password is not right")
    static let unauthenticated = ServiceError(.unauthenticated, "sign in first")
    static let forbidden = ServiceError(.forbidden, "your roles do not allow this")
    static let notFound = ServiceError(.notFound, "no such account")

    static let deadlinePassed = ServiceError(.timeout, "the request waited past its deadline and was not served")
    static let passwordsBusy = ServiceError(.busy, "password checks are busy; try again in a moment", retryAfterSeconds: 1)
    static func rateLimited(retryAfter seconds: Int) -> ServiceError {
        ServiceError(.rateLimited, "too many attempts; try again later", retryAfterSeconds: seconds)
    }

    static func wrongCurrentPassword(field: String) -> ServiceError {
        ServiceError(.validationFailed, "the current password is not right", fieldErrors: [FieldError(field: field, code: "invalid_credentials")])
    }
}
