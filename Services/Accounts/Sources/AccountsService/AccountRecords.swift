import Foundation
import Models
import Security
import Store

/// Reading and writing account rows, and the per-account data key that seals their sensitive columns.
struct AccountRecords {
    let keyRing: KeyRing

    static let columns = """
        a.id, a.email, a.display_name, array_to_json(a.roles)::text AS roles, a.country, a.phone_sealed, a.source,
        a.created_at, a.password_hash,
        (SELECT p.version FROM policy_acceptances p WHERE p.account_id = a.id ORDER BY p.id DESC LIMIT 1) AS policy_version
        """

    /// A live (not erased) account and its password hash, or nil.
    func load(_ id: UUID, on connection: Connection) throws -> (account: Accounts.Account, passwordHash: String)? {
        guard let row = try connection.queryOne("SELECT \(Self.columns) FROM accounts a WHERE a.id = $1 AND a.erased_at IS NULL", id)
        else { return nil }
        return try decode(row, on: connection)
    }

    /// A live account by its normalized email, or nil.
    func load(email normalized: String, on connection: Connection) throws -> (account: Accounts.Account, passwordHash: String)? {
        guard
            let row = try connection.queryOne(
                "SELECT \(Self.columns) FROM accounts a WHERE a.email_normalized = $1 AND a.erased_at IS NULL", normalized)
        else { return nil }
        return try decode(row, on: connection)
    }

    private func decode(_ row: Row, on connection: Connection) throws -> (account: Accounts.Account, passwordHash: String) {
        let id = try row.decode("id", as: UUID.self)
        let roles = try JSONDecoder().decode([String].self, from: Data(try row.decode("roles", as: String.self).utf8))
        var phone: String?
        if let sealed = try row.decode("phone_sealed", as: Data?.self) {
            phone = String(decoding: try dataKey(for: id, on: connection).open(sealed, associatedData: Self.binding(id)), as: UTF8.self)
        }
        let account = Accounts.Account(
            id: id, email: try row.decode("email"), displayName: try row.decode("display_name"),
            role: roles.first ?? "member", roles: roles, country: try row.decode("country"), phone: phone,
            source: try row.decode("source"), createdAt: try row.decode("created_at"),
            policyVersion: try row.decode("policy_version"))
        return (account, try row.decode("password_hash"))
    }

    /// Inserts a new account with a fresh data key; a taken email is `email_taken`.
    func insert(
        id: UUID, email: String, passwordHash: String, displayName: String, roles: [String], country: String?,
        source: String?, on connection: Connection
    ) throws {
        do {
            try connection.execute(
                """
                INSERT INTO accounts (id, email, email_normalized, password_hash, display_name, roles, country, source)
                VALUES ($1, $2, $3, $4, $5, $6::text[], $7, $8)
                """,
                id, InputRules.display(email: email), InputRules.normalize(email: email), passwordHash,
                displayName, SQLTextArray(roles), country, source)
        } catch let error as StoreError where error == .uniqueViolation {
            throw AccountsErrors.emailTaken
        }
        let material = SecureRandom.bytes(32)
        try connection.execute(
            "INSERT INTO account_keys (account_id, sealed_key) VALUES ($1, $2)", id,
            try keyRing.seal(material, associatedData: Self.binding(id)))
    }

    /// Seals `phone` with the account's data key.
    func sealPhone(_ phone: String, for id: UUID, on connection: Connection) throws -> Data {
        try dataKey(for: id, on: connection).seal(Data(phone.utf8), associatedData: Self.binding(id))
    }

    /// The account's own key, opened with the master key ring; gone once the account is erased.
    private func dataKey(for id: UUID, on connection: Connection) throws -> KeyRing {
        guard let row = try connection.queryOne("SELECT sealed_key FROM account_keys WHERE account_id = $1", id) else {
            throw ServiceError(.notFound, "no such account")
        }
        let material = try keyRing.open(try row.decode("sealed_key", as: Data.self), associatedData: Self.binding(id))
        return try KeyRing(current: SealingKey(id: "account", material: material))
    }

    /// Binds sealed data to its account, so a value copied to another row does not open.
    static func binding(_ id: UUID) -> Data { Data(id.uuidString.lowercased().utf8) }
}

/// The errors with a code of their own (CONTRACT.md), shared by several handlers.
enum AccountsErrors {
    static let emailTaken = ServiceError(ServiceError.Code(rawValue: "email_taken"), "an account with this email exists")
    static let invalidCredentials = ServiceError(
        ServiceError.Code(rawValue: "invalid_credentials"), "the email or password is not right")
    static let unauthenticated = ServiceError(.unauthenticated, "sign in first")
    static let forbidden = ServiceError(.forbidden, "your roles do not allow this")
    static let notFound = ServiceError(.notFound, "no such account")

    static let deadlinePassed = ServiceError(.timeout, "the request waited past its deadline and was not served")
    static func rateLimited(retryAfter seconds: Int) -> ServiceError {
        ServiceError(.rateLimited, "too many attempts; try again later", retryAfterSeconds: seconds)
    }

    static func wrongCurrentPassword(field: String) -> ServiceError {
        ServiceError(.validationFailed, "the current password is not right", fieldErrors: [FieldError(field: field, code: "invalid_credentials")])
    }
}
