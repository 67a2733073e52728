import Foundation
import Logging
import Models
import PlatformSecurity
import ServiceKit
import Store

/// Partners' API keys: made, listed and revoked by admins (audited), checked for the integration
/// service on every partner request. A key is `adv_<environment>_<43 characters>`: its first 17
/// characters are its public prefix (what lists show and leak scanners match), the rest a secret
/// kept only as the SHA-256 of the whole key.
extension AccountsHandlers {
    static let partnerKeyPrefixLength = 17

    func createPartnerKey(_ request: Accounts.CreatePartnerKey.Request, caller: Caller) async throws -> Accounts.CreatePartnerKey.Response {
        let actor = try Self.accountId(of: caller)
        guard caller.has(.admin) else { throw AccountsErrors.forbidden }
        var rules = FieldRules()
        if !["live", "test"].contains(request.environment) { rules.fail("environment", "invalid") }
        if request.scopes.isEmpty || request.scopes.count > Accounts.PartnerScope.allCases.count
            || !request.scopes.allSatisfy({ Accounts.PartnerScope(rawValue: $0) != nil })
        {
            rules.fail("scopes", "invalid")
        }
        try rules.check()
        let scopes = Array(Set(request.scopes)).sorted()
        let secret = "adv_\(request.environment)_" + Self.base62(SecureRandom.bytes(32))
        let prefix = String(secret.prefix(Self.partnerKeyPrefixLength))
        let audit = self.audit
        let key = try await database.transaction { connection -> Accounts.PartnerKey in
            guard let partner = try connection.queryOne("SELECT scopes FROM partners WHERE id = $1", request.partnerId) else {
                throw ServiceError(.notFound, "no partner with this id is registered")
            }
            let allowed = Set(try partner.decode("scopes", as: [String].self))
            guard scopes.allSatisfy(allowed.contains) else {
                throw ServiceError(
                    .validationFailed, "this partner may hold only \(allowed.sorted().joined(separator: ", "))",
                    fieldErrors: [.init(field: "scopes", code: "not_allowed")])
            }
            guard
                let row = try connection.queryOne(
                    """
                    INSERT INTO partner_keys (id, partner_id, environment, prefix, secret_hash, scopes, created_by)
                    VALUES ($1, $2, $3, $4, $5, $6::text[], $7) RETURNING \(Self.partnerKeyColumns)
                    """, UUID(), request.partnerId, request.environment, prefix, SHA256.hash(Data(secret.utf8)), scopes, actor)
            else { throw ServiceError(.internalError, "the key was not stored") }
            try audit.append(
                .init(
                    actorId: actor, actorRoles: caller.roles.map(\.rawValue).sorted(), action: "partner-key.create", subjectId: nil,
                    details: ["partner": request.partnerId, "prefix": prefix, "scopes": scopes.joined(separator: ",")]), on: connection)
            return try Self.partnerKey(row)
        }
        logger.info("partner key made", metadata: ["partner.id": "\(request.partnerId)", "key.prefix": "\(prefix)"])
        return .init(key: key, secret: secret)
    }

    func partnerKeys(_ request: Accounts.ListPartnerKeys.Request, caller: Caller) async throws -> Accounts.ListPartnerKeys.Response {
        _ = try Self.accountId(of: caller)
        guard caller.has(.admin) else { throw AccountsErrors.forbidden }
        return try await database.withConnection { connection in
            guard try connection.queryOne("SELECT 1 FROM partners WHERE id = $1", request.partnerId) != nil else {
                throw ServiceError(.notFound, "no partner with this id is registered")
            }
            return .init(
                items: try connection.query(
                    "SELECT \(Self.partnerKeyColumns) FROM partner_keys WHERE partner_id = $1 ORDER BY created_at DESC, id LIMIT 100",
                    request.partnerId
                ).map(Self.partnerKey))
        }
    }

    func revokePartnerKey(_ request: Accounts.RevokePartnerKey.Request, caller: Caller) async throws -> Accounts.PartnerKey {
        let actor = try Self.accountId(of: caller)
        guard caller.has(.admin) else { throw AccountsErrors.forbidden }
        let audit = self.audit
        return try await database.transaction { connection in
            guard
                let row = try connection.queryOne(
                    """
                    UPDATE partner_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 RETURNING \(Self.partnerKeyColumns)
                    """, request.keyId)
            else { throw ServiceError(.notFound, "no such key") }
            let key = try Self.partnerKey(row)
            try audit.append(
                .init(
                    actorId: actor, actorRoles: caller.roles.map(\.rawValue).sorted(), action: "partner-key.revoke", subjectId: nil,
                    details: ["partner": key.partnerId, "prefix": key.prefix]), on: connection)
            return key
        }
    }

    /// What `request.key` opens: found by its prefix, its hash compared in constant time; a
    /// revoked or unknown key is `unauthenticated`. Notes the last use at most once a minute.
    func authenticatePartnerKey(_ request: Accounts.AuthenticatePartnerKey.Request, caller: Caller) async throws
        -> Accounts.AuthenticatePartnerKey.Response
    {
        guard caller.has(.system) else { throw AccountsErrors.forbidden }
        let refused = ServiceError(.unauthenticated, "this API key opens nothing")
        guard request.key.count <= 100, request.key.hasPrefix("adv_"), request.key.count > Self.partnerKeyPrefixLength else { throw refused }
        let prefix = String(request.key.prefix(Self.partnerKeyPrefixLength))
        return try await database.withConnection { connection in
            guard
                let row = try connection.queryOne(
                    """
                    SELECT k.id, k.partner_id, k.environment, k.scopes, k.secret_hash, k.last_used_at > now() - interval '1 minute' AS fresh
                    FROM partner_keys k WHERE k.prefix = $1 AND k.revoked_at IS NULL
                    """, prefix),
                ConstantTime.equals(try row.decode("secret_hash", as: Data.self), SHA256.hash(Data(request.key.utf8)))
            else { throw refused }
            let id: UUID = try row.decode("id")
            if try row.decode("fresh", as: Bool?.self) != true {
                try connection.execute("UPDATE partner_keys SET last_used_at = now() WHERE id = $1", id)
            }
            return .init(
                keyId: id, partnerId: try row.decode("partner_id"), environment: try row.decode("environment"),
                scopes: try row.decode("scopes", as: [String].self))
        }
    }

    static let partnerKeyColumns = "id, partner_id, environment, prefix, scopes, created_at, last_used_at, revoked_at"

    static func partnerKey(_ row: Row) throws -> Accounts.PartnerKey {
        Accounts.PartnerKey(
            id: try row.decode("id"), partnerId: try row.decode("partner_id"), environment: try row.decode("environment"),
            prefix: try row.decode("prefix"), scopes: try row.decode("scopes", as: [String].self), createdAt: try row.decode("created_at"),
            lastUsedAt: try row.decode("last_used_at"), revokedAt: try row.decode("revoked_at"))
    }

    /// `bytes` as letters and digits (what a key scanner and a copy-paste both handle well).
    static func base62(_ bytes: Data) -> String {
        let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
        var number = [UInt8](bytes)
        var digits: [Character] = []
        while number.contains(where: { $0 != 0 }) {
            var remainder = 0
            for index in number.indices {
                let value = remainder * 256 + Int(number[index])
                number[index] = UInt8(value / 62)
                remainder = value % 62
            }
            digits.append(alphabet[remainder])
        }
        return String(digits.reversed())
    }
}
