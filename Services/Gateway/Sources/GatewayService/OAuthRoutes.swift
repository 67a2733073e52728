import Bus
import Foundation
import HTTPTypes
import Hummingbird
import Models
import NIOCore
import ServiceKit

/// The authorization server's HTTP side (OAuth 2.0 with PKCE): the consent page a partner app
/// sends a person to (`GET /oauth/authorize`), the person's answer (`POST /oauth/authorize`),
/// the token and revocation endpoints partners call (`POST /oauth/token`, RFC 6749 §4.1.3 and
/// §6; `POST /oauth/revoke`, RFC 7009), and the server's metadata (RFC 8414). Accounts keeps the
/// grants, codes and tokens. The consent page names the partner and each scope in plain words;
/// a person not signed in signs in on it, for this answer only. A request with DNT or Sec-GPC is
/// refused: nothing is shared with a partner then. The issuer is the gateway as the request
/// reached it (its `Host`, so a proxy in front must pass it on) unless `GATEWAY_PUBLIC_URL` names it.
struct OAuthRoutes: Sendable {
    let bus: BusClient
    /// Whether the gateway is reached over HTTPS (the issuer's scheme when `publicURL` is unset).
    let secure: Bool
    /// The issuer (`GATEWAY_PUBLIC_URL`); unset, the gateway as the request reached it.
    let publicURL: String?

    private func issuer(of request: Request) -> String {
        OwnPages.origin(of: request, publicURL: publicURL, secure: secure)
    }

    /// An authorization request's parameters, as the page carries them on.
    private struct AuthorizationRequest {
        var clientId: String
        var redirectUri: String
        var scopes: [String]
        var state: String?
        var codeChallenge: String
        var partnerName: String

        var hiddenFields: String {
            [
                ("client_id", clientId), ("redirect_uri", redirectUri), ("scope", scopes.joined(separator: " ")),
                ("state", state ?? ""), ("code_challenge", codeChallenge), ("code_challenge_method", "S256"), ("response_type", "code"),
            ].map { #"<input type="hidden" name="\#($0.0)" value="\#(NotificationsRoutes.escaped($0.1))">"# }.joined()
        }
    }

    /// What went wrong with a request, as RFC 6749 §4.1.2.1 says: before the client and redirect
    /// URI are known good, a page here; after, a redirect back to the client with `error`.
    private enum Refusal: Error {
        case page(HTTPResponse.Status, String, String)
        case redirect(String, error: String, description: String, state: String?)
    }

    func register(on router: Router<GatewayRequestContext>) {
        router.get(".well-known/oauth-authorization-server") { request, context in
            let issuer = issuer(of: request)
            return try JSONBody.response(
                Metadata(
                    issuer: issuer, authorizationEndpoint: issuer + "/oauth/authorize", tokenEndpoint: issuer + "/oauth/token",
                    revocationEndpoint: issuer + "/oauth/revoke", responseTypesSupported: ["code"],
                    grantTypesSupported: ["authorization_code", "refresh_token"], codeChallengeMethodsSupported: ["S256"],
                    tokenEndpointAuthMethodsSupported: ["client_secret_basic", "client_secret_post"],
                    revocationEndpointAuthMethodsSupported: ["client_secret_basic", "client_secret_post"],
                    scopesSupported: Accounts.OAuth.userScopes.map(\.scope)))
        }
        router.get("oauth/authorize") { request, context in
            do {
                let asked = try await authorizationRequest(request.uri.queryParameters.reduce(into: [:]) { $0[String($1.key)] = String($1.value) })
                return consentPage(asked, signedIn: context.session != nil)
            } catch Refusal.redirect(_, let error, let description, _) {
                // Before the person has done anything, a faulty request is shown here rather than
                // sent on (RFC 9700 §4.11.2: no redirect the platform's origin would lend itself to).
                return NotificationsRoutes.page(status: .badRequest, "This link is not valid (\(error))", description)
            } catch let refusal as Refusal {
                return Self.answer(refusal)
            }
        }
        router.post("oauth/authorize") { request, context in
            // Only the consent page itself may post this.
            guard OwnPages.postedHere(request, origin: issuer(of: request)) else {
                return NotificationsRoutes.page(status: .forbidden, "This request is not valid", "Answer on the consent page itself.")
            }
            guard let form = try await OwnPages.form(of: request) else {
                return NotificationsRoutes.page(status: .badRequest, "This request is not valid", "Send the form as the consent page does.")
            }
            do {
                let asked = try await authorizationRequest(form)
                guard form["decision"] == "allow" else {
                    throw Refusal.redirect(asked.redirectUri, error: "access_denied", description: "the person did not allow it", state: asked.state)
                }
                guard !context.doNotTrack else {
                    throw Refusal.redirect(
                        asked.redirectUri, error: "access_denied", description: "the browser asks that nothing be shared (DNT or Sec-GPC)",
                        state: asked.state)
                }
                let caller: Caller
                var signedInForThis: String?
                if context.session != nil {
                    caller = context.caller
                } else {
                    let answer: Accounts.SignIn.Response
                    do {
                        answer = try await bus.call(
                            Accounts.SignIn.self,
                            .init(
                                email: form["email"] ?? "", password: form["password"] ?? "", ipAddress: context.clientAddress,
                                userAgent: request.headers[.userAgent] ?? ""),
                            as: context.caller)
                    } catch let error as ServiceError where [.invalidCredentials, .validationFailed, .rateLimited, .accountDisabled].contains(error.code) {
                        return consentPage(asked, signedIn: false, problem: error.message, status: error.code == .rateLimited ? .tooManyRequests : .unauthorized)
                    }
                    signedInForThis = answer.token
                    caller = Caller(accountId: answer.account.id, roles: Set(answer.account.roles.map(Role.init(rawValue:))))
                }
                defer {
                    // The session made for this answer alone ends with it.
                    if let token = signedInForThis { Task { _ = try? await bus.call(Accounts.SignOut.self, .init(token: token), as: .anonymous) } }
                }
                let code = try await bus.call(
                    Accounts.Authorize.self,
                    .init(partnerId: asked.clientId, redirectUri: asked.redirectUri, scopes: asked.scopes, codeChallenge: asked.codeChallenge),
                    as: caller
                ).code
                return Self.redirect(asked.redirectUri, [("code", code)] + (asked.state.map { [("state", $0)] } ?? []))
            } catch let refusal as Refusal {
                return Self.answer(refusal)
            }
        }
        router.post("oauth/token") { request, context in
            do {
                let (form, clientId, secret) = try await Self.clientRequest(request)
                let tokens = try await bus.call(
                    Accounts.Token.self,
                    .init(
                        partnerId: clientId, clientSecret: secret, grantType: form["grant_type"] ?? "", code: form["code"],
                        redirectUri: form["redirect_uri"], codeVerifier: form["code_verifier"], refreshToken: form["refresh_token"]),
                    as: .anonymous)
                var response = try JSONBody.response(
                    TokenAnswer(
                        accessToken: tokens.accessToken, tokenType: "Bearer", expiresIn: tokens.expiresIn, refreshToken: tokens.refreshToken,
                        scope: tokens.scope))
                response.headers[.cacheControl] = "no-store"
                return response
            } catch let error as ServiceError {
                return try Self.oauthError(error)
            }
        }
        router.post("oauth/revoke") { request, context in
            do {
                let (form, clientId, secret) = try await Self.clientRequest(request)
                guard let token = form["token"], !token.isEmpty else { throw ServiceError(.badRequest, "token is required") }
                _ = try await bus.call(Accounts.RevokeToken.self, .init(partnerId: clientId, clientSecret: secret, token: token), as: .anonymous)
                return Response(status: .ok)
            } catch let error as ServiceError {
                return try Self.oauthError(error)
            }
        }

        let me = router.group(context: AuthenticatedContext.self)
        me.get("v1/me/grants") { _, context in
            JSONBody.relay(try await bus.callReturningJSON(Accounts.Grants.self, Empty(), as: context.caller))
        }
        me.delete("v1/me/grants/{partnerId}") { _, context in
            _ = try await bus.call(Accounts.WithdrawGrant.self, .init(partnerId: context.parameters.get("partnerId") ?? ""), as: context.caller)
            return Response(status: .noContent)
        }
    }

    /// Checks an authorization request: the client and redirect URI first (a page if not good),
    /// then the rest (a redirect back with the error).
    private func authorizationRequest(_ fields: [String: String]) async throws -> AuthorizationRequest {
        guard let clientId = fields["client_id"], let redirectUri = fields["redirect_uri"], clientId.utf8.count <= 63,
            redirectUri.utf8.count <= 2000, !fields.values.contains(where: { $0.contains("\0") })
        else { throw Refusal.page(.badRequest, "This link is not valid", "It names no partner app or no address to return to.") }
        let client: Accounts.OAuthClient.Response
        do {
            client = try await bus.call(Accounts.OAuthClient.self, .init(partnerId: clientId), as: .anonymous)
        } catch let error as ServiceError where error.code == .notFound {
            throw Refusal.page(.notFound, "This link is not valid", "It names a partner app the platform does not know.")
        }
        guard client.redirectUris.contains(redirectUri) else {
            throw Refusal.page(.notFound, "This link is not valid", "The partner app did not register the address it would return you to.")
        }
        let state = fields["state"].flatMap { $0.isEmpty ? nil : $0 }
        if let state, state.utf8.count > 500 || state.contains("\0") {
            throw Refusal.redirect(redirectUri, error: "invalid_request", description: "state is too long", state: nil)
        }
        guard fields["response_type"] == "code" else {
            throw Refusal.redirect(redirectUri, error: "unsupported_response_type", description: "response_type is code", state: state)
        }
        guard fields["code_challenge_method"] == "S256", let challenge = fields["code_challenge"],
            challenge.wholeMatch(of: /[A-Za-z0-9_-]{43}/) != nil
        else {
            throw Refusal.redirect(redirectUri, error: "invalid_request", description: "PKCE with S256 is required", state: state)
        }
        let scopes = Array(Set((fields["scope"] ?? "").split(separator: " ").map(String.init))).sorted()
        let known = Set(Accounts.OAuth.userScopes.map(\.scope))
        guard !scopes.isEmpty, scopes.allSatisfy({ known.contains($0) && client.scopes.contains($0) }) else {
            throw Refusal.redirect(redirectUri, error: "invalid_scope", description: "the scopes a person may grant: \(known.sorted().joined(separator: " "))", state: state)
        }
        return AuthorizationRequest(
            clientId: clientId, redirectUri: redirectUri, scopes: scopes, state: state, codeChallenge: challenge, partnerName: client.name)
    }

    private func consentPage(
        _ asked: AuthorizationRequest, signedIn: Bool, problem: String? = nil, status: HTTPResponse.Status = .ok
    ) -> Response {
        let meanings = Dictionary(Accounts.OAuth.userScopes.map { ($0.scope, $0.meaning) }, uniquingKeysWith: { first, _ in first })
        let list = asked.scopes.map { "<li>\(NotificationsRoutes.escaped(meanings[$0] ?? $0))</li>" }.joined()
        let signIn = signedIn ? "" : """
            <p><label>Email <input type="email" name="email" autocomplete="username" required></label></p>\
            <p><label>Password <input type="password" name="password" autocomplete="current-password" required></label></p>
            """
        let warning = OwnPages.warning(problem)
        return NotificationsRoutes.page(
            status: status, "Allow \(asked.partnerName) to use your Advisor Platform account?",
            "\(asked.partnerName) asks to:",
            form: """
                <ul>\(list)</ul><p>It will not see your email, your messages, your payments or anything else. You can take this \
                back at any time in your privacy center, and it stops at once.</p>\(warning)\
                <form method="post" action="/oauth/authorize">\(asked.hiddenFields)\(signIn)\
                <button type="submit" name="decision" value="allow">Allow</button> \
                <button type="submit" name="decision" value="deny" formnovalidate>Deny</button></form>
                """)
    }

    private static func answer(_ refusal: Refusal) -> Response {
        switch refusal {
        case .page(let status, let title, let text):
            return NotificationsRoutes.page(status: status, title, text)
        case .redirect(let uri, let error, let description, let state):
            return redirect(uri, [("error", error), ("error_description", description)] + (state.map { [("state", $0)] } ?? []))
        }
    }

    /// 303 to `uri` with `parameters` added to its query.
    private static func redirect(_ uri: String, _ parameters: [(String, String)]) -> Response {
        // Every value percent-encoded but the unreserved characters, so a `+` in a state comes back a `+`.
        let query = FormEncoding.encode(parameters)
        return Response(status: .seeOther, headers: [.location: uri + (uri.contains("?") ? "&" : "?") + query, .cacheControl: "no-store"])
    }

    /// A token or revocation request's form, and the client's id and secret (HTTP Basic, or in the form).
    private static func clientRequest(_ request: Request) async throws -> ([String: String], String, String) {
        guard let form = try await OwnPages.form(of: request) else {
            throw ServiceError(.badRequest, "the body is application/x-www-form-urlencoded, without NUL characters")
        }
        if let authorization = request.headers[.authorization], authorization.lowercased().hasPrefix("basic "),
            let decoded = Data(base64Encoded: String(authorization.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
            let pair = String(data: decoded, encoding: .utf8), let colon = pair.firstIndex(of: ":")
        {
            let id = String(pair[..<colon]).removingPercentEncoding ?? ""
            let secret = String(pair[pair.index(after: colon)...]).removingPercentEncoding ?? ""
            guard !id.contains("\0"), !secret.contains("\0") else { throw ServiceError(.invalidClient, "the client's credentials hold NUL") }
            guard form["client_secret"] == nil else {
                throw ServiceError(.badRequest, "authenticate one way: HTTP Basic or client_secret in the form, not both")
            }
            return (form, id, secret)
        }
        guard let id = form["client_id"], let secret = form["client_secret"] else {
            throw ServiceError(.invalidClient, "authenticate the client: HTTP Basic, or client_id and client_secret")
        }
        return (form, id, secret)
    }

    /// RFC 6749 §5.2: `{error, error_description}`, 400, or 401 with a challenge for the client.
    private static func oauthError(_ error: ServiceError) throws -> Response {
        let (status, code): (HTTPResponse.Status, String) =
            switch error.code {
            case .invalidClient: (.unauthorized, "invalid_client")
            case .invalidGrant: (.badRequest, "invalid_grant")
            case .unsupportedGrantType: (.badRequest, "unsupported_grant_type")
            case .badRequest, .validationFailed: (.badRequest, "invalid_request")
            default: throw error
            }
        var response = try JSONBody.response(OAuthError(error: code, errorDescription: error.message), status: status)
        response.headers[.cacheControl] = "no-store"
        if status == .unauthorized { response.headers[.wwwAuthenticate] = #"Basic realm="oauth""# }
        return response
    }

    private struct Metadata: Encodable {
        var issuer: String
        var authorizationEndpoint: String
        var tokenEndpoint: String
        var revocationEndpoint: String
        var responseTypesSupported: [String]
        var grantTypesSupported: [String]
        var codeChallengeMethodsSupported: [String]
        var tokenEndpointAuthMethodsSupported: [String]
        var revocationEndpointAuthMethodsSupported: [String]
        var scopesSupported: [String]
        enum CodingKeys: String, CodingKey {
            case issuer
            case authorizationEndpoint = "authorization_endpoint"
            case tokenEndpoint = "token_endpoint"
            case revocationEndpoint = "revocation_endpoint"
            case responseTypesSupported = "response_types_supported"
            case grantTypesSupported = "grant_types_supported"
            case codeChallengeMethodsSupported = "code_challenge_methods_supported"
            case tokenEndpointAuthMethodsSupported = "token_endpoint_auth_methods_supported"
            case revocationEndpointAuthMethodsSupported = "revocation_endpoint_auth_methods_supported"
            case scopesSupported = "scopes_supported"
        }
    }

    private struct TokenAnswer: Encodable {
        var accessToken: String
        var tokenType: String
        var expiresIn: Int
        var refreshToken: String
        var scope: String
        enum CodingKeys: String, CodingKey {
            case accessToken = "access_token"
            case tokenType = "token_type"
            case expiresIn = "expires_in"
            case refreshToken = "refresh_token"
            case scope
        }
    }

    private struct OAuthError: Encodable {
        var error: String
        var errorDescription: String
        enum CodingKeys: String, CodingKey {
            case error
            case errorDescription = "error_description"
        }
    }
}
