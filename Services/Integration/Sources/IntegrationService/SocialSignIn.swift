import AsyncHTTPClient
import Bus
import Foundation
import JWTKit
import Logging
import Models
import NIOCore
import NIOHTTP1
import PlatformSecurity
import ServiceKit
import Store

/// Social sign-in's relying party (OpenID Connect Core 1.0, authorization code flow with PKCE):
/// `identity.begin` sends the person to the provider with a fresh state, nonce and PKCE challenge;
/// `identity.complete` takes the code the provider sent back once, exchanges it at the token
/// endpoint and verifies the ID token with jwt-kit against the provider's published keys:
/// signature by RS256 or ES256 only, `iss` the provider's, `aud` the platform's client id alone,
/// not expired, and the nonce of this sign-in. The provider's discovery document and keys are
/// fetched when first needed and kept; keys again when a token names one not seen yet.
struct SocialSignIn: Sendable {
    struct ProviderSettings: Sendable {
        var id: String
        var name: String
        /// `SOCIAL_<ID>_ISSUER`: the discovery document is at `<issuer>/.well-known/openid-configuration`.
        var issuer: String
        var clientId: String
        var clientSecret: String
    }

    /// The accepted signature algorithms, whatever a token's header says: never `none`, and never
    /// an HMAC keyed by a public key.
    static let algorithms: Set<String> = ["RS256", "ES256"]

    let providers: [String: Provider]
    /// What `identity.providers` answers, in the configured order.
    let listed: [Identity.Provider]
    let database: Database
    let keys: KeyRing
    let logger: Logger

    init(settings: [ProviderSettings], database: Database, keys: KeyRing, timeout: TimeAmount, logger: Logger) {
        providers = Dictionary(settings.map { ($0.id, Provider(settings: $0, timeout: timeout, logger: logger)) }) { first, _ in first }
        listed = settings.map { Identity.Provider(id: $0.id, name: $0.name) }
        self.database = database
        self.keys = keys
        self.logger = logger
    }

    func register(on worker: ServiceWorker) {
        worker.handle(Identity.Providers.self) { _, _ in
            Identity.Providers.Response(items: listed)
        }
        worker.handle(Identity.Begin.self) { request, _ in try await begin(request) }
        worker.handle(Identity.Complete.self) { request, context in
            guard context.caller.has(.system) else { throw ServiceError(.forbidden, "sign-ins are completed by the platform") }
            return try await complete(request)
        }
    }

    private func provider(_ id: String) throws -> Provider {
        guard let provider = providers[id] else { throw ServiceError(.notFound, "no sign-in provider is called that") }
        return provider
    }

    func begin(_ request: Identity.Begin.Request) async throws -> Identity.Begin.Response {
        let provider = try provider(request.provider)
        guard request.redirectUri.utf8.count <= 2000, let url = URL(string: request.redirectUri), url.host != nil,
            ["http", "https"].contains(url.scheme ?? "")
        else { throw ServiceError(.validationFailed, "redirectUri must be an http(s) URL") }
        let metadata = try await provider.metadata()
        let state = SecureRandom.token()
        let nonce = SecureRandom.token()
        let verifier = SecureRandom.token()
        let sealed = try keys.seal(Data(verifier.utf8), associatedData: Data("social-sign-in".utf8))
        try await database.withConnection { connection in
            try connection.execute(
                """
                INSERT INTO social_sign_ins (state_hash, provider, nonce_hash, verifier_sealed, redirect_uri, expires_at)
                VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))
                """, SHA256.hash(Data(state.utf8)), provider.settings.id, SHA256.hash(Data(nonce.utf8)), sealed, request.redirectUri,
                Identity.pendingSeconds)
        }
        let query = FormEncoding.encode([
            ("response_type", "code"), ("client_id", provider.settings.clientId), ("redirect_uri", request.redirectUri),
            ("scope", "openid email profile"), ("state", state), ("nonce", nonce),
            ("code_challenge", Base64.encode(SHA256.hash(Data(verifier.utf8)), alphabet: .url)), ("code_challenge_method", "S256"),
        ])
        let endpoint = metadata.authorizationEndpoint
        return .init(authorizationUrl: endpoint + (endpoint.contains("?") ? "&" : "?") + query, state: state)
    }

    func complete(_ request: Identity.Complete.Request) async throws -> Identity.Verified {
        let provider = try provider(request.provider)
        guard request.code.utf8.count <= 2000, request.state.utf8.count <= 200, !request.code.isEmpty else {
            throw ServiceError(.invalidState, "this sign-in is not valid; start again")
        }
        // Taken once, before anything is sent: a second answer for the same state finds nothing.
        let started = try await database.withConnection { connection in
            try connection.queryOne(
                """
                DELETE FROM social_sign_ins WHERE state_hash = $1 AND provider = $2
                RETURNING nonce_hash, verifier_sealed, redirect_uri, expires_at > now() AS live
                """, SHA256.hash(Data(request.state.utf8)), provider.settings.id)
        }
        guard let started, try started.decode("live", as: Bool.self) else {
            throw ServiceError(.invalidState, "this sign-in has expired or was finished already; start again")
        }
        let verifier = String(
            decoding: try keys.open(try started.decode("verifier_sealed"), associatedData: Data("social-sign-in".utf8)), as: UTF8.self)
        let idToken = try await provider.exchange(code: request.code, verifier: verifier, redirectUri: try started.decode("redirect_uri"))
        let claims = try await provider.verify(idToken, nonceHash: try started.decode("nonce_hash"))
        logger.info("social sign-in verified", metadata: ["identity.provider": "\(provider.settings.id)"])
        return Identity.Verified(
            provider: provider.settings.id, providerName: provider.settings.name, issuer: claims.issuer.value, subject: claims.subject.value,
            email: claims.email.flatMap { $0.isEmpty || $0.utf8.count > 254 ? nil : $0 }, emailVerified: claims.emailVerified?.value ?? false,
            name: claims.name.map { String($0.prefix(100)) })
    }

    /// Started sign-ins nobody finished.
    func retention() -> MaintenanceTask {
        MaintenanceTask(name: "integration.prune-social-sign-ins", interval: .seconds(300)) { database in
            try await MaintenanceTask.deleteInBatches(database) { connection in
                try connection.execute(
                    """
                    DELETE FROM social_sign_ins WHERE state_hash IN (
                        SELECT state_hash FROM social_sign_ins WHERE expires_at < now() LIMIT \(MaintenanceTask.batch))
                    """)
            }
        }
    }
}

/// What an ID token says, as OpenID Connect Core §2 names it.
struct IDTokenClaims: JWTIdentityToken {
    var issuer: IssuerClaim
    var subject: SubjectClaim
    var audience: AudienceClaim
    var expires: ExpirationClaim
    var issuedAt: IssuedAtClaim
    var nonce: String?
    var email: String?
    var emailVerified: BoolClaim?
    var name: String?

    enum CodingKeys: String, CodingKey {
        case issuer = "iss", subject = "sub", audience = "aud", expires = "exp", issuedAt = "iat", nonce, email, name
        case emailVerified = "email_verified"
    }

    /// A minute's leeway for clocks that differ on expiry, five on issue (a token issued further
    /// in the future is not taken).
    func verify(using _: some JWTAlgorithm) async throws {
        try expires.verifyNotExpired(currentDate: Date().addingTimeInterval(-60))
        guard issuedAt.value <= Date().addingTimeInterval(300) else {
            throw JWTError.claimVerificationFailure(failedClaim: issuedAt, reason: "issued in the future")
        }
    }
}

extension SocialSignIn {
    /// One provider: its settings, and its discovery document and keys once fetched.
    actor Provider {
        struct Metadata: Decodable {
            var issuer: String
            var authorizationEndpoint: String
            var tokenEndpoint: String
            var jwksUri: String
            enum CodingKeys: String, CodingKey {
                case issuer
                case authorizationEndpoint = "authorization_endpoint"
                case tokenEndpoint = "token_endpoint"
                case jwksUri = "jwks_uri"
            }
        }

        nonisolated let settings: ProviderSettings
        private let timeout: TimeAmount
        private let logger: Logger
        private var metadataFetched: (Metadata, ContinuousClock.Instant)?
        private var keys: JWTKeyCollection?
        private var keysFetchedAt: ContinuousClock.Instant?

        init(settings: ProviderSettings, timeout: TimeAmount, logger: Logger) {
            self.settings = settings
            self.timeout = timeout
            self.logger = logger
        }

        /// The discovery document, kept an hour; its `issuer` must be the one configured (OpenID
        /// Connect Discovery §4.3), or every token would be checked against a stranger's keys.
        func metadata() async throws -> Metadata {
            if let (metadata, at) = metadataFetched, at.duration(to: .now) < .seconds(3600) { return metadata }
            // OpenID Connect Discovery §4: the issuer without a trailing slash, then the well-known path.
            let base = settings.issuer.hasSuffix("/") ? String(settings.issuer.dropLast()) : settings.issuer
            guard let metadata = try? JSONDecoder().decode(Metadata.self, from: try await get(base + "/.well-known/openid-configuration"))
            else {
                logger.error("the provider's discovery document cannot be read", metadata: ["identity.provider": "\(settings.id)"])
                throw ServiceError(.unavailable, "sign-in with this provider is not working; try again later")
            }
            guard metadata.issuer == settings.issuer else {
                logger.error("the provider's discovery document names another issuer", metadata: ["identity.provider": "\(settings.id)"])
                throw ServiceError(.unavailable, "the sign-in provider is misconfigured")
            }
            metadataFetched = (metadata, .now)
            return metadata
        }

        /// The provider's signing keys, kept an hour (a key the provider withdraws stops being
        /// trusted within it); fetched again sooner when `refresh` and not within the last minute
        /// (a token naming an unknown key may follow a rotation, or be a forgery: not a reason to
        /// fetch on every request).
        private func keyCollection(refresh: Bool) async throws -> JWTKeyCollection {
            if let keys, let fetchedAt = keysFetchedAt {
                let age = fetchedAt.duration(to: .now)
                if age < .seconds(3600), !refresh || age < .seconds(60) { return keys }
            }
            let collection = JWTKeyCollection()
            for key in try Self.signingKeys(in: try await get(try await metadata().jwksUri)) {
                _ = try? await collection.add(jwk: key)
            }
            keys = collection
            keysFetchedAt = .now
            return collection
        }

        /// The keys of a JWKS document the platform verifies with: RSA keys for RS256 and P-256
        /// keys for ES256, for signing (not `use: enc`), each pinned to its algorithm (a key that
        /// names none would otherwise take the token header's). Any other key is skipped, one by
        /// one: a key of a kind jwt-kit does not read must not take the others with it.
        static func signingKeys(in document: Data) throws -> [JWK] {
            guard let object = try? JSONSerialization.jsonObject(with: document) as? [String: Any],
                let keys = object["keys"] as? [[String: Any]]
            else { throw ServiceError(.unavailable, "the sign-in provider's keys cannot be read; try again later") }
            return keys.compactMap { key in
                guard let type = key["kty"] as? String, key["kid"] is String, (key["use"] as? String ?? "sig") == "sig" else { return nil }
                let algorithm: String
                switch (type, key["crv"] as? String) {
                case ("RSA", _): algorithm = "RS256"
                case ("EC", "P-256"): algorithm = "ES256"
                default: return nil
                }
                guard (key["alg"] as? String ?? algorithm) == algorithm else { return nil }
                var pinned = key
                pinned["alg"] = algorithm
                return (try? JSONSerialization.data(withJSONObject: pinned)).flatMap { try? JSONDecoder().decode(JWK.self, from: $0) }
            }
        }

        private struct TokenAnswer: Decodable {
            var idToken: String
            enum CodingKeys: String, CodingKey { case idToken = "id_token" }
        }

        /// The ID token for `code` (RFC 6749 §4.1.3 with the PKCE verifier, client_secret_basic).
        func exchange(code: String, verifier: String, redirectUri: String) async throws -> String {
            var request = HTTPClientRequest(url: try await metadata().tokenEndpoint)
            request.method = .POST
            let credentials = FormEncoding.escaped(settings.clientId) + ":" + FormEncoding.escaped(settings.clientSecret)
            request.headers.add(name: "Authorization", value: "Basic " + Data(credentials.utf8).base64EncodedString())
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.headers.add(name: "Accept", value: "application/json")
            request.body = .bytes(
                ByteBuffer(
                    string: FormEncoding.encode([
                        ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirectUri), ("code_verifier", verifier),
                    ])))
            let (status, body) = try await send(request)
            if status == 401 {
                // The platform's own client id or secret is wrong: an operator's fault, not the person's.
                logger.error("the provider refused the platform's client credentials", metadata: ["identity.provider": "\(settings.id)"])
                throw ServiceError(.unavailable, "sign-in with this provider is not working; try again later")
            }
            if (400..<500).contains(status) {
                logger.info("the provider refused a sign-in's code", metadata: ["identity.provider": "\(settings.id)", "http.status": "\(status)"])
                throw ServiceError(.identityRejected, "the provider did not confirm this sign-in; start again")
            }
            guard (200..<300).contains(status), let answer = try? JSONDecoder().decode(TokenAnswer.self, from: body) else {
                logger.warning("the provider's token endpoint failed", metadata: ["identity.provider": "\(settings.id)", "http.status": "\(status)"])
                throw ServiceError(.unavailable, "the sign-in provider is not answering; try again shortly")
            }
            return answer.idToken
        }

        /// The token's claims, when everything checks; `identity_rejected` otherwise (the reason is
        /// logged, never the token).
        func verify(_ token: String, nonceHash: Data) async throws -> IDTokenClaims {
            func rejected(_ reason: String) -> ServiceError {
                logger.warning("an ID token was refused", metadata: ["identity.provider": "\(settings.id)", "reason": "\(reason)"])
                return ServiceError(.identityRejected, "the provider's answer could not be verified; start again")
            }
            guard let algorithm = Self.headerAlgorithm(of: token) else { throw rejected("malformed") }
            guard SocialSignIn.algorithms.contains(algorithm) else { throw rejected("algorithm \(algorithm.prefix(20)) is not accepted") }
            var claims: IDTokenClaims?
            var failure: (any Error)?
            for refresh in [false, true] {
                do {
                    claims = try await keyCollection(refresh: refresh).verify(token, as: IDTokenClaims.self, expectedAudience: settings.clientId)
                    break
                } catch let error as ServiceError {
                    throw error  // the keys could not be fetched: the provider's fault, not the token's
                } catch let error as JWTError where [.signatureVerificationFailed, .unknownKID, .noKeyProvided].contains(error.errorType) {
                    // Perhaps a key published since the keys were fetched: once more with fresh keys.
                    failure = error
                } catch {
                    failure = error
                    break
                }
            }
            guard let claims else { throw rejected(failure.map { String(String(describing: $0).prefix(200)) } ?? "no key") }
            guard claims.issuer.value == settings.issuer else { throw rejected("issuer") }
            guard let nonce = claims.nonce, ConstantTime.equals(SHA256.hash(Data(nonce.utf8)), nonceHash) else { throw rejected("nonce") }
            guard !claims.subject.value.isEmpty, claims.subject.value.utf8.count <= 255 else { throw rejected("subject") }
            return claims
        }

        /// The `alg` of a compact JWS's protected header, or nil when it is not one.
        private static func headerAlgorithm(of token: String) -> String? {
            let parts = token.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 3, token.utf8.count <= 16_384 else { return nil }
            var header = String(parts[0]).replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            header += String(repeating: "=", count: (4 - header.count % 4) % 4)
            guard let data = Data(base64Encoded: header),
                let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
            else { return nil }
            return object["alg"] as? String
        }

        private func get(_ url: String) async throws -> Data {
            var request = HTTPClientRequest(url: url)
            request.headers.add(name: "Accept", value: "application/json")
            let (status, body) = try await send(request)
            guard status == 200 else {
                logger.warning("the sign-in provider answered an error", metadata: ["identity.provider": "\(settings.id)", "http.status": "\(status)"])
                throw ServiceError(.unavailable, "the sign-in provider is not answering; try again shortly")
            }
            return body
        }

        private func send(_ request: HTTPClientRequest) async throws -> (Int, Data) {
            do {
                let response = try await HTTPClient.shared.execute(request, timeout: timeout)
                return (Int(response.status.code), Data(try await response.body.collect(upTo: 1 << 20).readableBytesView))
            } catch {
                logger.warning("the sign-in provider is out of reach", metadata: ["identity.provider": "\(settings.id)", "error": "\(type(of: error))"])
                throw ServiceError(.unavailable, "the sign-in provider is not answering; try again shortly")
            }
        }
    }
}
