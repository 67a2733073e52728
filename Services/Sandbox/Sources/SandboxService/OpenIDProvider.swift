import CryptoExtras
import Foundation
import HTTPTypes
import Hummingbird
import JWTKit
import Logging
import NIOCore
import PlatformSecurity
import ServiceKit

/// The sandbox's OpenID provider (OpenID Connect Core 1.0, authorization code flow with PKCE), at
/// `<public URL>/oidc`: a discovery document, its keys (one RSA key for RS256 and one P-256 key
/// for ES256, made at start), a sign-in page where anyone says who they are (email, name, and
/// whether the provider vouches for the email), and a token endpoint that checks the client's
/// secret, the redirect URI and the PKCE verifier before it issues an ID token. For tests, the
/// next token can be signed with ES256, or carry a fault a real provider's answer might (or an
/// attacker's would): `POST /v1/sandbox/oidc/next-token {algorithm?, fault?}`.
actor OpenIDProvider {
    struct Settings: Sendable {
        /// Where people and the platform reach the sandbox (`SANDBOX_PUBLIC_URL`).
        var publicURL: String
        /// The one client it knows: the platform (`SANDBOX_OIDC_CLIENT_ID`, `SANDBOX_OIDC_CLIENT_SECRET`).
        var clientId: String
        var clientSecret: String

        var issuer: String { publicURL + "/oidc" }
    }

    /// What may be wrong with the next token, each something a relying party must refuse.
    enum Fault: String, Codable, CaseIterable, Sendable {
        /// Signed by a key that is not the provider's, under the provider's key id.
        case forged
        case wrongAudience = "wrong-audience"
        /// The platform's client id and another beside it.
        case extraAudience = "extra-audience"
        case missingNonce = "missing-nonce"
        case expired
        case wrongNonce = "wrong-nonce"
        case wrongIssuer = "wrong-issuer"
        /// `alg: none` and no signature.
        case unsigned
        /// HS256 keyed with the RSA public key's PEM, under the RSA key's id (the old confusion attack).
        case hmacWithPublicKey = "hmac-with-public-key"
    }

    struct Person: Sendable {
        var email: String
        var name: String
        var emailVerified: Bool
    }

    private struct Grant {
        var redirectUri: String
        var challenge: String
        var nonce: String?
        var person: Person
        var expiresAt: Date
    }

    /// The claims of an ID token as issued.
    private struct Claims: JWTPayload {
        var iss: String
        var sub: String
        var aud: [String]
        var exp: Int
        var iat: Int
        var nonce: String?
        var email: String
        var emailVerified: Bool
        var name: String
        enum CodingKeys: String, CodingKey {
            case iss, sub, aud, exp, iat, nonce, email, name
            case emailVerified = "email_verified"
        }
        func verify(using _: some JWTAlgorithm) async throws {}
    }

    let settings: Settings
    private let signers: JWTKeyCollection
    private let rsaPublicPEM: String
    let jwks: Data
    private var grants: [String: Grant] = [:]
    private var nextAlgorithm = "RS256"
    private var nextFault: Fault?
    static let rsaKid = "sandbox-rsa-1"
    static let ecKid = "sandbox-ec-1"

    init(settings: Settings) async throws {
        self.settings = settings
        let rsa = try Insecure.RSA.PrivateKey(backing: _RSA.Signing.PrivateKey(keySize: .bits2048))
        let ec = ES256PrivateKey()
        signers = JWTKeyCollection()
        await signers.add(rsa: rsa, digestAlgorithm: .sha256, kid: JWKIdentifier(string: Self.rsaKid))
        await signers.add(ecdsa: ec, kid: JWKIdentifier(string: Self.ecKid))
        rsaPublicPEM = rsa.publicKey.pemRepresentation
        let (modulus, exponent) = try rsa.publicKey.getKeyPrimitives()
        guard let point = ec.publicKey.parameters else { throw KeyFailure() }
        let keys = JWKS(keys: [
            .rsa(
                .rs256, identifier: JWKIdentifier(string: Self.rsaKid), modulus: Base64.encode(modulus, alphabet: .url),
                exponent: Base64.encode(exponent, alphabet: .url)),
            .ecdsa(.es256, identifier: JWKIdentifier(string: Self.ecKid), x: point.x, y: point.y, curve: .p256),
        ])
        // Beside the signing keys, what real providers publish too and a relying party must pass
        // over: an encryption key, and a key of a kind it may not read.
        guard var document = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(keys)) as? [String: Any],
            var listed = document["keys"] as? [[String: Any]]
        else { throw KeyFailure() }
        listed.append([
            "kty": "RSA", "use": "enc", "alg": "RSA-OAEP-256", "kid": "sandbox-enc-1", "n": Base64.encode(modulus, alphabet: .url),
            "e": Base64.encode(exponent, alphabet: .url),
        ])
        listed.append(["kty": "OKP", "crv": "X25519", "use": "enc", "kid": "sandbox-x25519-1", "x": Base64.encode(SecureRandom.bytes(32), alphabet: .url)])
        document["keys"] = listed
        jwks = try JSONSerialization.data(withJSONObject: document)
    }

    /// A key without its public part, which never happens.
    struct KeyFailure: Error {}

    func setNext(algorithm: String?, fault: Fault?) {
        nextAlgorithm = algorithm ?? "RS256"
        nextFault = fault
    }

    /// A one-use code for `person`, valid a minute.
    func authorize(person: Person, redirectUri: String, challenge: String, nonce: String?) -> String {
        let now = Date()
        grants = grants.filter { $0.value.expiresAt > now }
        let code = SecureRandom.token()
        grants[code] = Grant(redirectUri: redirectUri, challenge: challenge, nonce: nonce, person: person, expiresAt: now.addingTimeInterval(60))
        return code
    }

    enum TokenRefusal: Error {
        case invalidGrant(String)
    }

    /// The ID token for `code`, which is spent whatever the outcome (RFC 6749 §4.1.2: used once).
    func token(code: String, redirectUri: String, verifier: String) async throws -> String {
        guard let grant = grants.removeValue(forKey: code), grant.expiresAt > Date() else {
            throw TokenRefusal.invalidGrant("the code is unknown, used or expired")
        }
        guard grant.redirectUri == redirectUri else { throw TokenRefusal.invalidGrant("redirect_uri differs from the authorization request's") }
        guard ConstantTime.equals(Data(Base64.encode(SHA256.hash(Data(verifier.utf8)), alphabet: .url).utf8), Data(grant.challenge.utf8)) else {
            throw TokenRefusal.invalidGrant("the code_verifier does not match the code_challenge")
        }
        let fault = nextFault
        let algorithm = nextAlgorithm
        nextFault = nil
        nextAlgorithm = "RS256"
        let now = Int(Date().timeIntervalSince1970)
        var claims = Claims(
            iss: settings.issuer, sub: "sbx-" + Hex.encode(SHA256.hash(Data(grant.person.email.lowercased().utf8))).prefix(24),
            aud: [settings.clientId], exp: now + 600, iat: now, nonce: grant.nonce, email: grant.person.email,
            emailVerified: grant.person.emailVerified, name: grant.person.name)
        switch fault {
        case .wrongAudience: claims.aud = ["another-client"]
        case .extraAudience: claims.aud = [settings.clientId, "another-client"]
        case .missingNonce: claims.nonce = nil
        case .expired: (claims.iat, claims.exp) = (now - 1200, now - 600)
        case .wrongNonce: claims.nonce = SecureRandom.token()
        case .wrongIssuer: claims.iss = settings.publicURL + "/another-issuer"
        case .unsigned:
            return try Self.compact(header: ["alg": "none", "kid": Self.rsaKid], claims: claims) { _ in Data() }
        case .hmacWithPublicKey:
            let key = Data(rsaPublicPEM.utf8)
            return try Self.compact(header: ["alg": "HS256", "kid": Self.rsaKid, "typ": "JWT"], claims: claims) {
                HMAC.sha256(key: key, message: $0)
            }
        case .forged:
            let impostor = JWTKeyCollection()
            if algorithm == "ES256" {
                await impostor.add(ecdsa: ES256PrivateKey(), kid: JWKIdentifier(string: Self.ecKid))
                return try await impostor.sign(claims, kid: JWKIdentifier(string: Self.ecKid))
            }
            let rsa = try Insecure.RSA.PrivateKey(backing: _RSA.Signing.PrivateKey(keySize: .bits2048))
            await impostor.add(rsa: rsa, digestAlgorithm: .sha256, kid: JWKIdentifier(string: Self.rsaKid))
            return try await impostor.sign(claims, kid: JWKIdentifier(string: Self.rsaKid))
        case nil: break
        }
        return try await signers.sign(claims, kid: JWKIdentifier(string: algorithm == "ES256" ? Self.ecKid : Self.rsaKid))
    }

    /// A compact JWS built by hand, for the tokens no honest library makes.
    private static func compact(header: [String: String], claims: Claims, signature: (Data) -> Data) throws -> String {
        let signed = Base64.encode(try JSONEncoder().encode(header), alphabet: .url) + "."
            + Base64.encode(try JSONEncoder().encode(claims), alphabet: .url)
        return signed + "." + Base64.encode(signature(Data(signed.utf8)), alphabet: .url)
    }
}

/// The OpenID provider's HTTP side.
struct OpenIDProviderRoutes {
    let provider: OpenIDProvider
    let logger: Logger

    private struct Discovery: Encodable {
        var issuer: String
        var authorizationEndpoint: String
        var tokenEndpoint: String
        var jwksUri: String
        var responseTypesSupported = ["code"]
        var subjectTypesSupported = ["public"]
        var idTokenSigningAlgValuesSupported = ["RS256", "ES256"]
        var scopesSupported = ["openid", "email", "profile"]
        var tokenEndpointAuthMethodsSupported = ["client_secret_basic", "client_secret_post"]
        var codeChallengeMethodsSupported = ["S256"]
        var claimsSupported = ["iss", "sub", "aud", "exp", "iat", "nonce", "email", "email_verified", "name"]
        enum CodingKeys: String, CodingKey {
            case issuer
            case authorizationEndpoint = "authorization_endpoint"
            case tokenEndpoint = "token_endpoint"
            case jwksUri = "jwks_uri"
            case responseTypesSupported = "response_types_supported"
            case subjectTypesSupported = "subject_types_supported"
            case idTokenSigningAlgValuesSupported = "id_token_signing_alg_values_supported"
            case scopesSupported = "scopes_supported"
            case tokenEndpointAuthMethodsSupported = "token_endpoint_auth_methods_supported"
            case codeChallengeMethodsSupported = "code_challenge_methods_supported"
            case claimsSupported = "claims_supported"
        }
    }

    private struct NextToken: Decodable {
        var algorithm: String?
        var fault: OpenIDProvider.Fault?
    }

    func register(on router: Router<BasicRequestContext>) {
        let settings = provider.settings
        router.get("oidc/.well-known/openid-configuration") { _, _ -> Response in
            let issuer = settings.issuer
            return Self.json(
                try JSONEncoder().encode(
                    Discovery(
                        issuer: issuer, authorizationEndpoint: issuer + "/authorize", tokenEndpoint: issuer + "/token",
                        jwksUri: issuer + "/jwks")))
        }
        router.get("oidc/jwks") { _, _ -> Response in Self.json(provider.jwks) }
        router.get("oidc/authorize") { request, _ -> Response in
            let fields = request.uri.queryParameters.reduce(into: [String: String]()) { $0[String($1.key)] = String($1.value) }
            switch Self.check(fields, settings: settings) {
            case .failure(let failure): return failure.page
            case .success:
                return Self.page(
                    "Sign in to Sandbox ID",
                    """
                    <p>This is the sandbox's OpenID provider: say who you are, and it vouches for it.</p>\
                    <form method="post" action="/oidc/authorize">\(Self.hidden(fields))\
                    <p><label>Email <input type="email" name="email" required></label></p>\
                    <p><label>Name <input name="name" value="Sandbox Person"></label></p>\
                    <p><label><input type="checkbox" name="email_verified" value="true" checked> the email is verified</label></p>\
                    <button type="submit" name="decision" value="allow">Continue</button> \
                    <button type="submit" name="decision" value="deny" formnovalidate>Cancel</button></form>
                    """)
            }
        }
        router.post("oidc/authorize") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 16 * 1024)
            guard let fields = FormEncoding.decode(Data(body.readableBytesView)) else {
                return Self.page("Not valid", "<p>Send the form as the sign-in page does.</p>", status: .badRequest)
            }
            guard case .success(let redirect) = Self.check(fields, settings: settings) else {
                return Self.page("Not valid", "<p>This sign-in request is not valid.</p>", status: .badRequest)
            }
            let state = fields["state"].map { [("state", $0)] } ?? []
            guard fields["decision"] == "allow" else {
                return Self.redirect(redirect, [("error", "access_denied")] + state)
            }
            let email = (fields["email"] ?? "").trimmingCharacters(in: .whitespaces)
            guard email.contains("@"), email.utf8.count <= 254 else {
                return Self.page("Not valid", "<p>An email address is needed.</p>", status: .unprocessableContent)
            }
            let person = OpenIDProvider.Person(
                email: email, name: String((fields["name"] ?? "").prefix(100)), emailVerified: fields["email_verified"] == "true")
            let code = await provider.authorize(
                person: person, redirectUri: redirect, challenge: fields["code_challenge"] ?? "", nonce: fields["nonce"])
            return Self.redirect(redirect, [("code", code)] + state)
        }
        router.post("oidc/token") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 16 * 1024)
            let fields = FormEncoding.decode(Data(body.readableBytesView)) ?? [:]
            guard Self.clientAuthenticated(request, fields, settings: settings) else {
                return Self.json(Data(#"{"error":"invalid_client"}"#.utf8), status: .unauthorized)
            }
            guard fields["grant_type"] == "authorization_code", let code = fields["code"], let redirect = fields["redirect_uri"],
                let verifier = fields["code_verifier"]
            else {
                return Self.json(Data(#"{"error":"invalid_request"}"#.utf8), status: .badRequest)
            }
            do {
                let idToken = try await provider.token(code: code, redirectUri: redirect, verifier: verifier)
                var response = Self.json(
                    try JSONEncoder().encode([
                        "access_token": SecureRandom.token(), "token_type": "Bearer", "expires_in": "3600", "id_token": idToken,
                        "scope": "openid email profile",
                    ]))
                response.headers[.cacheControl] = "no-store"
                return response
            } catch OpenIDProvider.TokenRefusal.invalidGrant(let reason) {
                logger.info("sandbox OpenID provider refused a code", metadata: ["reason": "\(reason)"])
                return Self.json(try JSONEncoder().encode(["error": "invalid_grant", "error_description": reason]), status: .badRequest)
            }
        }
        router.post("v1/sandbox/oidc/next-token") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 4096)
            guard let next = try? JSONDecoder().decode(NextToken.self, from: Data(body.readableBytesView)),
                [nil, "RS256", "ES256"].contains(next.algorithm)
            else {
                let faults = OpenIDProvider.Fault.allCases.map(\.rawValue).joined(separator: ", ")
                return Self.json(Data(#"{"error":"algorithm is RS256 or ES256; fault one of \#(faults)"}"#.utf8), status: .unprocessableContent)
            }
            await provider.setNext(algorithm: next.algorithm, fault: next.fault)
            return Response(status: .noContent)
        }
    }

    /// The authorization request's redirect URI when the client and the request are good.
    private static func check(_ fields: [String: String], settings: OpenIDProvider.Settings) -> Result<String, PageFailure> {
        guard fields["client_id"] == settings.clientId, let redirect = fields["redirect_uri"],
            let url = URL(string: redirect), ["http", "https"].contains(url.scheme ?? ""), url.host != nil
        else { return .failure(PageFailure(page: page("Not valid", "<p>Unknown client or redirect URI.</p>", status: .badRequest))) }
        guard fields["response_type"] == "code", (fields["scope"] ?? "").split(separator: " ").contains("openid"),
            fields["code_challenge_method"] == "S256", fields["code_challenge"]?.isEmpty == false
        else {
            return .failure(PageFailure(page: page("Not valid", "<p>Only the code flow with openid and PKCE (S256) is served.</p>", status: .badRequest)))
        }
        return .success(redirect)
    }

    private struct PageFailure: Error {
        let page: Response
    }

    private static func clientAuthenticated(_ request: Request, _ fields: [String: String], settings: OpenIDProvider.Settings) -> Bool {
        var id = fields["client_id"]
        var secret = fields["client_secret"]
        if let header = request.headers[.authorization], header.lowercased().hasPrefix("basic "),
            let decoded = Data(base64Encoded: String(header.dropFirst(6))), let pair = String(data: decoded, encoding: .utf8),
            let colon = pair.firstIndex(of: ":")
        {
            id = String(pair[..<colon]).removingPercentEncoding
            secret = String(pair[pair.index(after: colon)...]).removingPercentEncoding
        }
        return id == settings.clientId && ConstantTime.equals(Data((secret ?? "").utf8), Data(settings.clientSecret.utf8))
    }

    private static func hidden(_ fields: [String: String]) -> String {
        ["client_id", "redirect_uri", "response_type", "scope", "state", "nonce", "code_challenge", "code_challenge_method"]
            .compactMap { name in fields[name].map { #"<input type="hidden" name="\#(name)" value="\#(escaped($0))">"# } }.joined()
    }

    private static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    private static func page(_ title: String, _ body: String, status: HTTPResponse.Status = .ok) -> Response {
        let html = "<!doctype html><html><head><meta charset=\"utf-8\"><title>\(escaped(title))</title></head><body><h1>\(escaped(title))</h1>\(body)</body></html>"
        return Response(status: status, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    private static func redirect(_ uri: String, _ parameters: [(String, String)]) -> Response {
        Response(
            status: .seeOther,
            headers: [.location: uri + (uri.contains("?") ? "&" : "?") + FormEncoding.encode(parameters), .cacheControl: "no-store"])
    }

    private static func json(_ data: Data, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
