import Bus
import Foundation
import HTTPTypes
import Hummingbird
import Models
import PlatformSecurity
import ServiceKit

/// Social sign-in in the browser (OpenID Connect through the integration service): a link sends
/// the person to the provider (`GET /auth/social/{provider}/start`), the provider sends them back
/// (`…/callback`), and accounts decides: signed in, or a page here to confirm a link with the
/// account's password (`POST /auth/social/link`) or to finish registering (`POST
/// /auth/social/register`). The state travels in a cookie of this browser as well as through the
/// provider, so nobody can finish a sign-in in someone else's browser (login CSRF); what the
/// provider vouched for waits in accounts behind a ticket kept in another HttpOnly cookie.
struct SocialSignInRoutes: Sendable {
    let bus: BusClient
    let accountRoutes: AccountRoutes
    let secure: Bool
    /// The public address the provider sends people back to (`GATEWAY_PUBLIC_URL`); unset, the
    /// gateway as the request reached it.
    let publicURL: String?
    /// Sign-ins each client address may start a minute, on each gateway (each start is a row in
    /// integration for ten minutes).
    let starts = RateLimiter<String>(perMinute: Self.startsPerMinute)
    static let startsPerMinute = 30

    /// Under TLS the flow's cookies are `__Host-` cookies (Secure, `Path=/`, no Domain), which a
    /// sibling subdomain cannot set for this host (cookie tossing would defeat the state check).
    private var stateCookie: String { (secure ? "__Host-" : "") + "social_state" }
    private var nextCookie: String { (secure ? "__Host-" : "") + "social_next" }
    private var ticketCookie: String { (secure ? "__Host-" : "") + "social_ticket" }

    private func origin(of request: Request) -> String {
        OwnPages.origin(of: request, publicURL: publicURL, secure: secure)
    }

    func register(on router: Router<GatewayRequestContext>) {
        router.get("v1/auth/providers") { _, context in
            JSONBody.relay(try await bus.callReturningJSON(Identity.Providers.self, Empty(), as: context.caller))
        }
        router.get("auth/social/{provider}/start") { request, context in
            let provider = context.parameters.get("provider") ?? ""
            if let wait = starts.take(context.clientAddress) {
                var page = NotificationsRoutes.page(
                    status: .tooManyRequests, "Too many sign-ins started", "Try again in \(wait) seconds.")
                page.headers[.retryAfter] = "\(wait)"
                return page
            }
            let begun: Identity.Begin.Response
            do {
                begun = try await bus.call(
                    Identity.Begin.self,
                    .init(provider: provider, redirectUri: origin(of: request) + "/auth/social/\(provider)/callback"), as: .anonymous)
            } catch let error as ServiceError where [.notFound, .validationFailed, .unavailable].contains(error.code) {
                return NotificationsRoutes.page(
                    status: error.code == .unavailable ? .serviceUnavailable : .notFound, "Sign-in is not possible", error.message)
            }
            var response = Response(status: .seeOther, headers: [.location: begun.authorizationUrl, .cacheControl: "no-store"])
            setCookie(stateCookie, begun.state, on: &response)
            setCookie(nextCookie, Self.localPath(request.uri.queryParameters["next"].map(String.init)), on: &response)
            return response
        }
        router.get("auth/social/{provider}/callback") { request, context in
            let provider = context.parameters.get("provider") ?? ""
            let query = request.uri.queryParameters
            let expected = Self.cookie(stateCookie, of: request) ?? ""
            guard let state = query["state"].map(String.init), !expected.isEmpty,
                ConstantTime.equals(Data(state.utf8), Data(expected.utf8))
            else {
                return NotificationsRoutes.page(
                    status: .forbidden, "This sign-in was not started here",
                    "Start again from the sign-in page of this browser.")
            }
            if let error = query["error"] {
                return clearing(
                    stateCookie,
                    NotificationsRoutes.page(
                        status: .ok, "Sign-in cancelled", "The provider did not sign you in (\(String(error.prefix(60)))). Nothing was changed."))
            }
            let outcome: Accounts.SocialOutcome
            do {
                outcome = try await bus.call(
                    Accounts.SocialSignIn.self,
                    .init(
                        provider: provider, state: state, code: query["code"].map(String.init) ?? "", ipAddress: context.clientAddress,
                        userAgent: request.headers[.userAgent] ?? ""),
                    as: .anonymous)
            } catch let error as ServiceError where Self.shownOnPage.contains(error.code) {
                return clearing(stateCookie, Self.refusal(error))
            }
            var response: Response
            switch outcome.outcome {
            case .signedIn:
                guard let session = outcome.session else { throw ServiceError(.internalError, "signed in without a session") }
                response = accountRoutes.settingSession(session, on: continuing(request))
            case .linkRequired:
                response = linkPage(outcome.providerName, email: outcome.email ?? "")
                setCookie(ticketCookie, outcome.ticket ?? "", on: &response)
            case .registrationRequired:
                let policyVersion = try await accountRoutes.sessions.policies.current().version
                response = registrationPage(
                    outcome.providerName, email: outcome.email ?? "", displayName: outcome.displayName ?? "", policyVersion: policyVersion)
                setCookie(ticketCookie, outcome.ticket ?? "", on: &response)
            }
            return clearing(stateCookie, response)
        }
        router.post("auth/social/link") { request, context in
            let (form, ticket, refused) = try await formAndTicket(request)
            if let refused { return refused }
            do {
                let session = try await bus.call(
                    Accounts.SocialLink.self,
                    .init(
                        ticket: ticket, password: form["password"] ?? "", ipAddress: context.clientAddress,
                        userAgent: request.headers[.userAgent] ?? ""),
                    as: .anonymous)
                return clearing(ticketCookie, accountRoutes.settingSession(session, on: continuing(request)))
            } catch let error as ServiceError where [.invalidCredentials, .rateLimited].contains(error.code) {
                return linkPage(
                    form["provider_name"] ?? "the provider", email: form["email"] ?? "", problem: error.message,
                    status: error.code == .rateLimited ? .tooManyRequests : .unauthorized)
            } catch let error as ServiceError where Self.shownOnPage.contains(error.code) {
                return clearing(ticketCookie, Self.refusal(error))
            }
        }
        router.post("auth/social/register") { request, context in
            let (form, ticket, refused) = try await formAndTicket(request)
            if let refused { return refused }
            do {
                let session = try await bus.call(
                    Accounts.SocialRegister.self,
                    .init(
                        ticket: ticket, password: form["password"] ?? "", displayName: form["displayName"] ?? "",
                        role: form["role"] ?? "member", acceptPolicyVersion: form["acceptPolicyVersion"] ?? "",
                        marketingEmailOptIn: form["marketingEmailOptIn"] == "true", ipAddress: context.clientAddress,
                        userAgent: request.headers[.userAgent] ?? ""),
                    as: .anonymous)
                return clearing(ticketCookie, accountRoutes.settingSession(session, on: continuing(request)))
            } catch let error as ServiceError where [.validationFailed, .emailTaken, .rateLimited].contains(error.code) {
                let fields = error.fieldErrors.map { "\($0.field): \($0.code)" }.joined(separator: ", ")
                return registrationPage(
                    form["provider_name"] ?? "the provider", email: form["email"] ?? "", displayName: form["displayName"] ?? "",
                    policyVersion: form["policyVersion"] ?? "", problem: error.message + (fields.isEmpty ? "" : " (\(fields))"),
                    status: error.code == .rateLimited ? .tooManyRequests : error.code == .emailTaken ? .conflict : .unprocessableContent)
            } catch let error as ServiceError where Self.shownOnPage.contains(error.code) {
                return clearing(ticketCookie, Self.refusal(error))
            }
        }

        let me = router.group(context: AuthenticatedContext.self)
        me.get("v1/me/social-identities") { _, context in
            JSONBody.relay(try await bus.callReturningJSON(Accounts.SocialIdentities.self, Empty(), as: context.caller))
        }
        me.delete("v1/me/social-identities/{provider}") { _, context in
            _ = try await bus.call(Accounts.SocialUnlink.self, .init(provider: context.parameters.get("provider") ?? ""), as: context.caller)
            return Response(status: .noContent)
        }
    }

    /// What a sign-in's failure shows on a page rather than as a fault.
    private static let shownOnPage: Set<ServiceError.Code> = [
        .invalidState, .identityRejected, .emailNotVerified, .accountDisabled, .conflict, .notFound, .unavailable, .rateLimited,
        .invalidCredentials,
    ]

    private static func refusal(_ error: ServiceError) -> Response {
        let status = HTTPResponse.Status(code: ErrorCatalog.statuses[error.code.rawValue] ?? 400)
        return NotificationsRoutes.page(status: status, "Sign-in did not work", error.message)
    }

    /// The form of a page's answer and the ticket cookie, or the page that refuses it: only the
    /// gateway's own pages may post these (SameSite=Lax keeps the cookie from cross-site posts; this
    /// refuses same-site pages that are not the gateway's).
    private func formAndTicket(_ request: Request) async throws -> ([String: String], String, Response?) {
        guard OwnPages.postedHere(request, origin: origin(of: request)) else {
            return ([:], "", NotificationsRoutes.page(status: .forbidden, "This request is not valid", "Answer on the sign-in page itself."))
        }
        guard let form = try await OwnPages.form(of: request) else {
            return ([:], "", NotificationsRoutes.page(status: .badRequest, "This request is not valid", "Send the form as the page does."))
        }
        guard let ticket = Self.cookie(ticketCookie, of: request), !ticket.isEmpty else {
            return (form, "", Self.refusal(ServiceError(.invalidState, "this sign-in has expired or was finished already; start again")))
        }
        return (form, ticket, nil)
    }

    private func linkPage(
        _ providerName: String, email: String, problem: String? = nil, status: HTTPResponse.Status = .ok
    ) -> Response {
        let e = NotificationsRoutes.escaped
        return NotificationsRoutes.page(
            status: status, "Sign in with \(providerName)",
            "An account with \(email) exists. Give its password once, and \(providerName) signs you in to it from now on.",
            form: OwnPages.warning(problem) + """
                <form method="post" action="/auth/social/link">\
                <input type="hidden" name="provider_name" value="\(e(providerName))"><input type="hidden" name="email" value="\(e(email))">\
                <p><label>Password <input type="password" name="password" autocomplete="current-password" required></label></p>\
                <button type="submit">Link and sign in</button></form>
                """)
    }

    private func registrationPage(
        _ providerName: String, email: String, displayName: String, policyVersion: String, problem: String? = nil,
        status: HTTPResponse.Status = .ok
    ) -> Response {
        let e = NotificationsRoutes.escaped
        return NotificationsRoutes.page(
            status: status, "Join with \(providerName)",
            "\(providerName) confirmed \(email). Choose how you appear and a password (it confirms changes to your account, "
                + "and signs you in without \(providerName)).",
            form: OwnPages.warning(problem) + """
                <form method="post" action="/auth/social/register">\
                <input type="hidden" name="provider_name" value="\(e(providerName))"><input type="hidden" name="email" value="\(e(email))">\
                <input type="hidden" name="policyVersion" value="\(e(policyVersion))">\
                <p><label>Display name <input name="displayName" value="\(e(displayName))" required maxlength="50"></label></p>\
                <p><label>Password <input type="password" name="password" autocomplete="new-password" required minlength="10"></label></p>\
                <p><label><input type="radio" name="role" value="member" checked> I am looking for advice</label> \
                <label><input type="radio" name="role" value="advisor"> I give advice</label></p>\
                <p><label><input type="checkbox" name="acceptPolicyVersion" value="\(e(policyVersion))" required> I accept the \
                <a href="/v1/privacy/policy">privacy policy</a> (version \(e(policyVersion)))</label></p>\
                <p><label><input type="checkbox" name="marketingEmailOptIn" value="true"> Email me offers</label></p>\
                <button type="submit">Join</button></form>
                """)
    }

    /// 303 to where the sign-in was started for (a path of this site only).
    private func continuing(_ request: Request) -> Response {
        let next = Self.localPath(Self.cookie(nextCookie, of: request))
        return clearing(nextCookie, Response(status: .seeOther, headers: [.location: next, .cacheControl: "no-store"]))
    }

    /// `path` when it is a path on this site (not `//host` or `/\host`, which browsers take for
    /// another site), `/` otherwise: no open redirect.
    static func localPath(_ path: String?) -> String {
        guard let path, path.hasPrefix("/"), !path.hasPrefix("//"), !path.hasPrefix("/\\"), path.utf8.count <= 500,
            !path.contains(where: { $0.isWhitespace || $0.isNewline || $0 == "\0" })
        else { return "/" }
        return path
    }

    /// A cookie for this flow alone: HttpOnly, SameSite=Lax (it must come back on the provider's
    /// top-level redirect), ten minutes; under TLS Secure and for the whole host (`__Host-`),
    /// otherwise under `/auth/social`. The value is percent-encoded (a path may hold what a cookie
    /// may not).
    private func setCookie(_ name: String, _ value: String, on response: inout Response, maxAge: Int = Identity.pendingSeconds) {
        if let cookie = try? Cookie.validated(
            name: name, value: FormEncoding.escaped(value), maxAge: maxAge, path: secure ? "/" : "/auth/social", secure: secure,
            httpOnly: true, sameSite: .lax)
        {
            response.setCookie(cookie)
        }
    }

    private static func cookie(_ name: String, of request: Request) -> String? {
        request.cookies[name]?.value.removingPercentEncoding
    }

    private func clearing(_ name: String, _ response: Response) -> Response {
        var response = response
        setCookie(name, "", on: &response, maxAge: 0)
        return response
    }
}
