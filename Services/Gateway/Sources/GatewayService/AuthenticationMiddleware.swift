import Foundation
import HTTPTypes
import Hummingbird
import Models

/// Reads who is asking before any route runs: the client's address (through trusted proxies
/// only), the session token (a Bearer token, or else the
/// `session` cookie), resolved through the session cache, and the `DNT` / `Sec-GPC` privacy
/// signals. A missing or refused token leaves the request anonymous; routes that need a person
/// take an `AuthenticatedContext` and answer 401. On the way out, a signed-in person who has not
/// accepted the current policy gets `Policy-Acceptance-Required` on every response.
///
/// It sits outside the problem middleware so that error answers carry the policy header too.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext

    let sessions: SessionCache
    let proxies: TrustedProxies

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        var context = context
        context.clientAddress = proxies.clientAddress(peer: context.clientAddress, headers: request.headers)
        context.doNotTrack = request.headers[.dnt] == "1" || request.headers[.secGPC] == "1"
        if let (token, _) = Self.credential(in: request) {
            do {
                context.session = try await sessions.session(for: token)
            } catch let error as ServiceError where error.code == .unauthenticated {
                context.session = nil
            } catch {
                context.authenticationFailure =
                    error as? ServiceError ?? ServiceError(.unavailable, "The session could not be checked; try again.")
            }
        }
        var response = try await next(request, context)
        if let session = context.session, session.needsPolicyAcceptance,
            !Self.acceptedPolicy(request: request, response: response)
        {
            response.headers[.policyAcceptanceRequired] = session.currentPolicyVersion
        }
        return response
    }

    /// The token of the request: `Authorization: Bearer …` first, else the `session` cookie; and
    /// whether it came from the cookie.
    static func credential(in request: Request) -> (token: String, fromCookie: Bool)? {
        if let authorization = request.headers[.authorization], let token = bearerToken(in: authorization) {
            return (token, false)
        }
        if let cookie = request.cookies["session"], !cookie.value.isEmpty {
            return (cookie.value, true)
        }
        return nil
    }


    /// The token of `Bearer <token>` (the scheme in any case, blanks around the token ignored);
    /// nil for any other scheme or an empty token. Read byte by byte: it runs on every request.
    static func bearerToken(in authorization: String) -> String? {
        var bytes = authorization.utf8[...]
        let scheme = "bearer".utf8
        guard bytes.count > scheme.count,
            zip(bytes.prefix(scheme.count), scheme).allSatisfy({ $0 | 0x20 == $1 }),
            bytes[bytes.index(bytes.startIndex, offsetBy: scheme.count)] == UInt8(ascii: " ")
        else { return nil }
        bytes = bytes.dropFirst(scheme.count + 1)
        let blank: (UInt8) -> Bool = { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
        while let first = bytes.first, blank(first) { bytes = bytes.dropFirst() }
        while let last = bytes.last, blank(last) { bytes = bytes.dropLast() }
        return bytes.isEmpty ? nil : String(bytes)
    }

    /// This very response confirmed an acceptance, so the reminder is already out of date.
    private static func acceptedPolicy(request: Request, response: Response) -> Bool {
        request.method == .post && request.uri.path == "/v1/me/policy-acceptances" && response.status.kind == .successful
    }
}

extension HTTPField.Name {
    /// Do Not Track: `1` asks that nothing about the request be tracked.
    static let dnt = Self("DNT")!
    /// Global Privacy Control: `1` asks that nothing be sold or shared.
    static let secGPC = Self("Sec-GPC")!
    /// Where a browser says the request comes from (`same-origin`, `same-site`, `cross-site`,
    /// `none`); only browsers send it, and no page can set it.
    static let secFetchSite = Self("Sec-Fetch-Site")!
    /// Names the policy version a signed-in person has yet to accept.
    static let policyAcceptanceRequired = Self("Policy-Acceptance-Required")!
}

/// Refuses a change (any method but GET, HEAD and OPTIONS) that a browser sent from another site,
/// unless it carries a Bearer token (which no browser sends on its own): 403 `forbidden`. With the
/// session cookie such a request would act as the person (CSRF); without one it could sign the
/// browser into someone else's account (login CSRF) or register one. SameSite=Lax already keeps the
/// cookie off most cross-site requests; this also covers other origins of the same site and
/// browsers without SameSite. The browser's `Sec-Fetch-Site` decides when sent (a page cannot
/// forge it); otherwise the `Origin`'s host must be this gateway's. Clients that are not browsers
/// send neither header and are not affected; `GATEWAY_ALLOWED_ORIGINS` are let through.
struct CrossSiteChangeMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext

    /// `GATEWAY_PUBLIC_URL`, when set: whose host the site's own pages have.
    let publicURL: String?
    let allowedOrigins: Set<String>

    private static let safeMethods: Set<HTTPRequest.Method> = [.get, .head, .options]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        if !Self.safeMethods.contains(request.method), AuthenticationMiddleware.credential(in: request)?.fromCookie != false,
            !isFromOwnPages(request)
        {
            throw ServiceError(.forbidden, "A change must be sent from this site's own pages.")
        }
        return try await next(request, context)
    }

    private func isFromOwnPages(_ request: Request) -> Bool {
        let origin = request.headers[.origin]
        if let origin, allowedOrigins.contains(origin) { return true }
        if let site = request.headers[.secFetchSite] { return site == "same-origin" || site == "none" }
        guard let origin else { return true }
        return OwnPages.isOwn(origin: origin, of: request, publicURL: publicURL)
    }
}
