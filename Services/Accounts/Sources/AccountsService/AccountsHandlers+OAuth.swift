import Foundation
import Logging
import Models
import PlatformSecurity
import ServiceKit
import Store

/// User-granted access (OAuth 2.0, RFC 6749, with PKCE, RFC 7636): accounts is the authorization
/// server's store. A grant is the person's consent to share with the partner (`partner:<id>`,
/// source `partner_grant`), so withdrawing either withdraws both and kills every token at once.
/// Codes and tokens are kept as SHA-256 hashes; a code is used once within a minute and bound to
/// its redirect URI and PKCE challenge; a refresh token is used once, and a second use of one
/// revokes every token of the grant (it was stolen, or the client is confused). A request marked
/// DNT or Sec-GPC never grants a partner anything.
extension AccountsHandlers {
    static let maxRedirectURIs = 10

    func oauthClient(_ request: Accounts.OAuthClient.Request) async throws -> Accounts.OAuthClient.Response {
        try await database.withConnection { connection in
            guard Self.isPartnerId(request.partnerId),
                let partner = try connection.queryOne("SELECT name, scopes FROM partners WHERE id = $1", request.partnerId)
            else { throw ServiceError(.notFound, "no partner with this client id is registered") }
            let uris = try connection.query(
                "SELECT uri FROM oauth_redirect_uris WHERE partner_id = $1 ORDER BY uri", request.partnerId
            ).map { try $0.decode("uri", as: String.self) }
            return .init(
                partnerId: request.partnerId, name: try partner.decode("name"), redirectUris: uris,
                scopes: try partner.decode("scopes", as: [String].self))
        }
    }

    func setRedirectURIs(_ request: Accounts.SetRedirectURIs.Request, caller: Caller) async throws -> Accounts.SetRedirectURIs.Response {
        guard caller.has(.system) else { throw AccountsErrors.forbidden }
        var rules = FieldRules()
        if request.redirectUris.count > Self.maxRedirectURIs { rules.fail("redirectUris", "too_many") }
        for (index, uri) in request.redirectUris.enumerated() where !Self.isRedirectURI(uri) {
            rules.fail("redirectUris.\(index)", "invalid")
        }
        try rules.check()
        let uris = Array(Set(request.redirectUris)).sorted()
        try await database.transaction { connection in
            try connection.execute("DELETE FROM oauth_redirect_uris WHERE partner_id = $1", request.partnerId)
            for uri in uris {
                try connection.execute("INSERT INTO oauth_redirect_uris (partner_id, uri) VALUES ($1, $2)", request.partnerId, uri)
            }
            // Where people's codes may go is a partner's most sensitive setting: kept in the audit chain.
            try audit.append(
                .init(
                    actorId: nil, actorRoles: ["partner"], action: "partner.redirect-uris", subjectId: nil,
                    details: ["partner": request.partnerId, "redirectUris": uris.joined(separator: " ")]),
                on: connection)
        }
        return .init(redirectUris: uris)
    }

    /// https with a host name or address, an optional port and path, nothing else (the partner
    /// API's document gives the same pattern); compared exactly when used. No loopback http: the
    /// clients are confidential (they hold an API key), so a native app goes through its backend.
    static func isRedirectURI(_ text: String) -> Bool {
        let shape = /https:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?(\/[A-Za-z0-9._~\/-]*)?/
        return text.utf8.count <= 2000 && text.wholeMatch(of: shape) != nil && URLComponents(string: text)?.host?.isEmpty == false
    }

    func authorize(_ request: Accounts.Authorize.Request, caller: Caller) async throws -> Accounts.Authorize.Response {
        let id = try Self.accountId(of: caller)
        guard !caller.doNotTrack else {
            throw ServiceError(.forbidden, "this request asks that nothing be shared (DNT or Sec-GPC), so no partner is granted access")
        }
        var rules = FieldRules()
        let known = Set(Accounts.OAuth.userScopes.map(\.scope))
        if request.scopes.isEmpty || request.scopes.count > known.count || !request.scopes.allSatisfy(known.contains) {
            rules.fail("scopes", "invalid")
        }
        if request.codeChallenge.wholeMatch(of: /[A-Za-z0-9_-]{43}/) == nil { rules.fail("codeChallenge", "invalid") }
        if !Self.isPartnerId(request.partnerId) { rules.fail("partnerId", "invalid") }
        if !Self.isRedirectURI(request.redirectUri) { rules.fail("redirectUri", "invalid") }
        try rules.check()
        let scopes = Array(Set(request.scopes)).sorted()
        let code = SecureRandom.token(bytes: 32)
        let roles = caller.roles.map(\.rawValue).sorted()
        try await database.transaction { connection in
            guard
                let partner = try connection.queryOne("SELECT scopes FROM partners WHERE id = $1", request.partnerId),
                try connection.queryOne(
                    "SELECT 1 FROM oauth_redirect_uris WHERE partner_id = $1 AND uri = $2", request.partnerId, request.redirectUri) != nil
            else { throw ServiceError(.notFound, "no partner with this client id and redirect URI is registered") }
            let allowed = Set(try partner.decode("scopes", as: [String].self))
            guard scopes.allSatisfy(allowed.contains) else {
                throw ServiceError(.validationFailed, "this partner may not ask for these scopes", fieldErrors: [.init(field: "scopes", code: "not_allowed")])
            }
            guard try Self.exists(id, on: connection) else { throw AccountsErrors.notFound }
            let grant = try connection.queryOne(
                """
                INSERT INTO oauth_grants (id, account_id, partner_id, scopes, subject) VALUES ($1, $2, $3, $4::text[], $5)
                ON CONFLICT (account_id, partner_id) WHERE revoked_at IS NULL
                DO UPDATE SET scopes = ARRAY(SELECT DISTINCT unnest(oauth_grants.scopes || EXCLUDED.scopes) ORDER BY 1)
                RETURNING id
                """, UUID(), id, request.partnerId, scopes, subject(partner: request.partnerId, account: id))!.decode("id", as: UUID.self)
            try connection.execute(
                """
                INSERT INTO oauth_codes (code_hash, grant_id, redirect_uri, code_challenge, expires_at)
                VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))
                """, SHA256.hash(Data(code.utf8)), grant, request.redirectUri, request.codeChallenge, Accounts.OAuth.codeSeconds)
            try ConsentRecords.record(
                [("partner:\(request.partnerId)", true)], accountId: id, source: .partnerGrant,
                policyVersion: try PolicyRecords.current(on: connection).version, actorRoles: roles, audit: audit, on: connection)
        }
        logger.info("partner granted access", metadata: ["partner.id": "\(request.partnerId)", "account.id": "\(id)"])
        return .init(code: code)
    }

    /// What a token request comes to: tokens, or a code or refresh token used a second time,
    /// whose grant's tokens were revoked (committed, then refused).
    private enum TokenOutcome: Sendable {
        case issued(Accounts.Token.Response)
        case reused
    }

    func oauthToken(_ request: Accounts.Token.Request) async throws -> Accounts.Token.Response {
        let invalid = ServiceError(.invalidGrant, "the code or refresh token is not valid for this client")
        let outcome = try await database.transaction { connection -> TokenOutcome in
            try Self.authenticateClient(request.partnerId, secret: request.clientSecret, on: connection)
            let grant: UUID
            switch request.grantType {
            case "authorization_code":
                guard let code = request.code, code.utf8.count <= 200, let verifier = request.codeVerifier,
                    verifier.wholeMatch(of: /[A-Za-z0-9._~-]{43,128}/) != nil, let redirect = request.redirectUri
                else { throw ServiceError(.badRequest, "code, redirect_uri and a code_verifier of 43 to 128 characters are required") }
                guard
                    let row = try connection.queryOne(
                        """
                        SELECT c.grant_id, c.redirect_uri, c.code_challenge, c.expires_at > now() AS live, c.used_at IS NOT NULL AS used
                        FROM oauth_codes c JOIN oauth_grants g ON g.id = c.grant_id
                        WHERE c.code_hash = $1 AND g.partner_id = $2 AND g.revoked_at IS NULL FOR UPDATE OF c
                        """, SHA256.hash(Data(code.utf8)), request.partnerId)
                else { throw invalid }
                grant = try row.decode("grant_id")
                if try row.decode("used", as: Bool.self) {
                    // A code used twice: whatever it gave is revoked (RFC 6749 §4.1.2).
                    try connection.execute("DELETE FROM oauth_tokens WHERE grant_id = $1", grant)
                    return .reused
                }
                let challenge = Base64.encode(SHA256.hash(Data(verifier.utf8)), alphabet: .url)
                guard try row.decode("live", as: Bool.self), try row.decode("redirect_uri", as: String.self) == redirect,
                    ConstantTime.equals(Data(challenge.utf8), Data(try row.decode("code_challenge", as: String.self).utf8))
                else { throw invalid }
                try connection.execute("UPDATE oauth_codes SET used_at = now() WHERE code_hash = $1", SHA256.hash(Data(code.utf8)))
            case "refresh_token":
                guard let token = request.refreshToken, token.utf8.count <= 200 else {
                    throw ServiceError(.badRequest, "refresh_token is required")
                }
                guard
                    let row = try connection.queryOne(
                        """
                        SELECT t.grant_id, t.expires_at > now() AS live, t.used_at IS NOT NULL AS used
                        FROM oauth_tokens t JOIN oauth_grants g ON g.id = t.grant_id JOIN accounts a ON a.id = g.account_id
                        WHERE t.token_hash = $1 AND t.kind = 'refresh' AND g.partner_id = $2 AND g.revoked_at IS NULL
                            AND a.disabled_at IS NULL AND a.erased_at IS NULL
                        FOR UPDATE OF t
                        """, SHA256.hash(Data(token.utf8)), request.partnerId)
                else { throw invalid }
                grant = try row.decode("grant_id")
                if try row.decode("used", as: Bool.self) {
                    // A rotated refresh token used again: the whole family is revoked.
                    try connection.execute("DELETE FROM oauth_tokens WHERE grant_id = $1", grant)
                    return .reused
                }
                guard try row.decode("live", as: Bool.self) else { throw invalid }
                try connection.execute("UPDATE oauth_tokens SET used_at = now() WHERE token_hash = $1", SHA256.hash(Data(token.utf8)))
            default:
                throw ServiceError(.unsupportedGrantType, "grant_type is authorization_code or refresh_token")
            }
            let scopes = try connection.queryOne("SELECT scopes FROM oauth_grants WHERE id = $1", grant)!.decode("scopes", as: [String].self)
            let access = "adv_at_" + SecureRandom.token(bytes: 32)
            let refresh = "adv_rt_" + SecureRandom.token(bytes: 32)
            for (token, kind, seconds) in [(access, "access", Accounts.OAuth.accessTokenSeconds), (refresh, "refresh", Accounts.OAuth.refreshTokenSeconds)] {
                try connection.execute(
                    "INSERT INTO oauth_tokens (token_hash, grant_id, kind, expires_at) VALUES ($1, $2, $3, now() + make_interval(secs => $4))",
                    SHA256.hash(Data(token.utf8)), grant, kind, seconds)
            }
            return .issued(
                .init(accessToken: access, refreshToken: refresh, expiresIn: Accounts.OAuth.accessTokenSeconds, scope: scopes.joined(separator: " ")))
        }
        switch outcome {
        case .issued(let tokens): return tokens
        case .reused:
            logger.warning("an OAuth code or refresh token was used twice; the grant's tokens are revoked", metadata: ["partner.id": "\(request.partnerId)"])
            throw invalid
        }
    }

    /// RFC 7009: the client's own token dies (a refresh token takes the grant's other tokens with
    /// it); an unknown one is not an error.
    func revokeOAuthToken(_ request: Accounts.RevokeToken.Request) async throws -> Empty {
        try await database.transaction { connection in
            try Self.authenticateClient(request.partnerId, secret: request.clientSecret, on: connection)
            guard request.token.utf8.count <= 200,
                let row = try connection.queryOne(
                    """
                    SELECT t.grant_id, t.kind FROM oauth_tokens t JOIN oauth_grants g ON g.id = t.grant_id
                    WHERE t.token_hash = $1 AND g.partner_id = $2
                    """, SHA256.hash(Data(request.token.utf8)), request.partnerId)
            else { return }
            if try row.decode("kind", as: String.self) == "refresh" {
                try connection.execute("DELETE FROM oauth_tokens WHERE grant_id = $1", try row.decode("grant_id", as: UUID.self))
            } else {
                try connection.execute("DELETE FROM oauth_tokens WHERE token_hash = $1", SHA256.hash(Data(request.token.utf8)))
            }
        }
        return Empty()
    }

    /// Who an access token acts for, as the partner may see them; recorded in their access log.
    func oauthUser(_ request: Accounts.OAuthUser.Request, caller: Caller) async throws -> Accounts.OAuthUser.Response {
        guard caller.has(.system) else { throw AccountsErrors.forbidden }
        let refused = ServiceError(.unauthenticated, "this access token opens nothing")
        guard request.accessToken.hasPrefix("adv_at_"), request.accessToken.utf8.count <= 200 else { throw refused }
        let records = self.records
        return try await database.transaction { connection in
            guard
                let row = try connection.queryOne(
                    """
                    SELECT g.id, g.account_id, g.partner_id, g.scopes, g.subject
                    FROM oauth_tokens t JOIN oauth_grants g ON g.id = t.grant_id JOIN accounts a ON a.id = g.account_id
                    WHERE t.token_hash = $1 AND t.kind = 'access' AND t.expires_at > now() AND g.revoked_at IS NULL
                        AND a.disabled_at IS NULL AND a.erased_at IS NULL
                    """, SHA256.hash(Data(request.accessToken.utf8)))
            else { throw refused }
            let account: UUID = try row.decode("account_id")
            let partner: String = try row.decode("partner_id")
            guard let personal = try records.personal(account, on: connection) else { throw refused }
            // Every read is counted; the person's access log has one entry per partner and clock
            // hour, appended by its first read, that shows the count: a partner calling in a loop
            // cannot flood the log (or hold the audit chain's lock), and no read goes unseen.
            let reads = try connection.queryOne(
                """
                INSERT INTO partner_reads (account_id, partner_id, hour, reads, last_at) VALUES ($1, $2, date_trunc('hour', now()), 1, now())
                ON CONFLICT (account_id, partner_id, hour) DO UPDATE SET reads = partner_reads.reads + 1, last_at = now()
                RETURNING reads
                """, account, partner)?.decode("reads", as: Int.self)
            if reads == 1 {
                try audit.append(
                    .init(actorId: nil, actorRoles: ["partner"], action: "partner-access.profile", subjectId: account, details: ["partner": partner]),
                    on: connection)
            }
            return .init(
                partnerId: partner, grantId: try row.decode("id"), subject: try row.decode("subject"), displayName: personal.displayName,
                scopes: try row.decode("scopes"))
        }
    }

    func oauthGrants(caller: Caller) async throws -> Accounts.Grants.Response {
        let id = try Self.accountId(of: caller)
        return try await database.withConnection { connection in
            .init(
                items: try connection.query(
                    """
                    SELECT g.partner_id, p.name, g.scopes, g.created_at FROM oauth_grants g JOIN partners p ON p.id = g.partner_id
                    WHERE g.account_id = $1 AND g.revoked_at IS NULL ORDER BY g.created_at
                    """, id
                ).map {
                    Accounts.Grant(
                        partnerId: try $0.decode("partner_id"), partnerName: try $0.decode("name"), scopes: try $0.decode("scopes"),
                        grantedAt: try $0.decode("created_at"))
                })
        }
    }

    func withdrawGrant(_ request: Accounts.WithdrawGrant.Request, caller: Caller) async throws -> Empty {
        let id = try Self.accountId(of: caller)
        let roles = caller.roles.map(\.rawValue).sorted()
        guard Self.isPartnerId(request.partnerId) else { throw ServiceError(.notFound, "you have granted this partner nothing") }
        try await database.transaction { connection in
            guard try Self.revokeGrants(of: id, partner: request.partnerId, on: connection) else {
                throw ServiceError(.notFound, "you have granted this partner nothing")
            }
            try ConsentRecords.record(
                [("partner:\(request.partnerId)", false)], accountId: id, source: .partnerGrant,
                policyVersion: try PolicyRecords.current(on: connection).version, actorRoles: roles, audit: audit, on: connection)
        }
        return Empty()
    }

    /// The person's id for `partner` alone: what that partner sees, so two partners cannot join
    /// what they know of one person.
    func subject(partner: String, account: UUID) -> String {
        let key = HMAC.sha256(key: records.emailIndexKey, message: Data("oauth-subject".utf8))
        return Hex.encode(HMAC.sha256(key: key, message: Data("\(partner)\n\(account.uuidString)".utf8)).prefix(16))
    }

    /// Ends a person's live grants (one partner's, or all), with every code and token they gave,
    /// and tells each partner (`accounts.grant-revoked.v1`); whether there was one.
    @discardableResult
    static func revokeGrants(of account: UUID, partner: String?, on connection: Connection) throws -> Bool {
        let ended = try connection.query(
            """
            UPDATE oauth_grants SET revoked_at = now()
            WHERE account_id = $1 AND ($2::text IS NULL OR partner_id = $2) AND revoked_at IS NULL RETURNING id, partner_id, subject
            """, account, partner)
        for row in ended {
            let grant: UUID = try row.decode("id")
            try connection.execute("DELETE FROM oauth_tokens WHERE grant_id = $1", grant)
            try connection.execute("DELETE FROM oauth_codes WHERE grant_id = $1", grant)
            try Outbox.append(
                Accounts.GrantRevoked(partnerId: try row.decode("partner_id"), subject: try row.decode("subject"), at: Date()), on: connection)
        }
        return !ended.isEmpty
    }

    /// A partner id as partners are registered with (anything else names none).
    static func isPartnerId(_ text: String) -> Bool {
        text.wholeMatch(of: /[a-z0-9][a-z0-9-]{0,62}/) != nil
    }

    /// The client: one of the partner's live API keys, compared by hash in constant time.
    static func authenticateClient(_ partnerId: String, secret: String, on connection: Connection) throws {
        let refused = ServiceError(.invalidClient, "the client could not be authenticated: client_id and one of its API keys")
        guard isPartnerId(partnerId), secret.hasPrefix("adv_"), !secret.contains("\0"), secret.utf8.count <= 100, secret.count > partnerKeyPrefixLength,
            let row = try connection.queryOne(
                "SELECT id, partner_id, secret_hash, scopes FROM partner_keys WHERE prefix = $1 AND revoked_at IS NULL",
                String(secret.prefix(partnerKeyPrefixLength))),
            ConstantTime.equals(try row.decode("secret_hash", as: Data.self), SHA256.hash(Data(secret.utf8))),
            try row.decode("partner_id", as: String.self) == partnerId,
            // Only a key made for acting for people: an embedding key cannot trade codes for tokens.
            try row.decode("scopes", as: [String].self).contains(Accounts.PartnerScope.usersRead.rawValue)
        else { throw refused }
        try connection.execute("UPDATE partner_keys SET last_used_at = now() WHERE id = $1", try row.decode("id", as: UUID.self))
    }
}
