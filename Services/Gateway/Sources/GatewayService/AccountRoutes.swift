import Bus
import Foundation
import HTTPTypes
import Hummingbird
import Models
import ServiceKit

/// The routes of docs/api.md "Accounts, identity, privacy": registration, sessions, the caller's
/// own account, consents, the privacy policy and the caller's histories, each one bus call to accounts.
struct AccountRoutes {
    let bus: BusClient
    let sessions: SessionCache
    /// Whether the session cookie is marked `Secure` (the gateway speaks TLS).
    let secureCookies: Bool

    /// `POST /v1/accounts` body; the address is the gateway's to add.
    struct RegistrationBody: JSONRequestBody {
        var email: String
        var password: String
        var displayName: String
        var role: String
        var acceptPolicyVersion: String
        var marketingEmailOptIn: Bool?
        var referralCode: String?
        var country: String?
        enum CodingKeys: String, CodingKey, CaseIterable {
            case email, password, displayName, role, acceptPolicyVersion, marketingEmailOptIn, referralCode, country
        }
    }

    /// `PATCH /v1/me` body; the session that stays signed in is the gateway's to add.
    struct ProfileBody: JSONRequestBody {
        var displayName: String?
        var phone: String?
        var email: String?
        var password: String?
        var currentPassword: String?
        enum CodingKeys: String, CodingKey, CaseIterable { case displayName, phone, email, password, currentPassword }
    }

    /// `POST /v1/me/phone/verification` body: the code texted to the number given.
    struct PhoneCodeBody: JSONRequestBody {
        var code: String
        enum CodingKeys: String, CodingKey, CaseIterable { case code }
    }

    /// `POST /v1/sessions`'s answer to a browser: the token is in the cookie only.
    struct CookieSession: Encodable {
        var expiresAt: Date
        var account: Accounts.Account
    }

    /// `POST /v1/sessions` body.
    struct SignInBody: JSONRequestBody {
        var email: String
        var password: String
        enum CodingKeys: String, CodingKey, CaseIterable { case email, password }
    }

    /// `PUT /v1/me/consents` body: only the consents given change.
    struct ConsentsBody: JSONRequestBody {
        var performanceCookies: Bool?
        var functionalityCookies: Bool?
        var marketingEmail: Bool?
        var marketingSms: Bool?
        var partners: [String: Bool]?
        enum CodingKeys: String, CodingKey, CaseIterable {
            case performanceCookies, functionalityCookies, marketingEmail, marketingSms, partners
        }
    }

    /// `POST /v1/me/policy-acceptances` body.
    struct AcceptanceBody: JSONRequestBody {
        var version: String
        enum CodingKeys: String, CodingKey, CaseIterable { case version }
    }

    func register(on router: Router<GatewayRequestContext>) {
        router.post("v1/accounts") { request, context in
            let body = try await JSONBody.decode(RegistrationBody.self, from: request)
            let registration = Accounts.Register.Request(
                email: body.email, password: body.password, displayName: body.displayName, role: body.role,
                acceptPolicyVersion: body.acceptPolicyVersion, marketingEmailOptIn: body.marketingEmailOptIn,
                referralCode: body.referralCode, country: body.country, ipAddress: context.clientAddress)
            let account = try await bus.call(Accounts.Register.self, registration, as: context.caller)
            return try JSONBody.response(account, status: .created)
        }
        router.post("v1/sessions") { request, context in
            let body = try await JSONBody.decode(SignInBody.self, from: request)
            let signIn = Accounts.SignIn.Request(
                email: body.email, password: body.password, ipAddress: context.clientAddress,
                userAgent: request.headers[.userAgent] ?? "")
            let answer = try await bus.call(Accounts.SignIn.self, signIn, as: context.caller)
            // A browser keeps the session in the HttpOnly cookie alone: a token in the body would be readable by
            // any script on the page. Browsers send Sec-Fetch-Site (to HTTPS and local addresses) or Origin (on
            // every POST from a page); other clients send neither.
            let fromBrowser = request.headers[.secFetchSite] != nil || request.headers[.origin] != nil
            let response =
                fromBrowser
                ? try JSONBody.response(CookieSession(expiresAt: answer.expiresAt, account: answer.account), status: .created)
                : try JSONBody.response(answer, status: .created)
            return settingSession(answer, on: response)
        }
        router.get("v1/partners") { _, context in
            JSONBody.relay(try await bus.callReturningJSON(Accounts.ListPartners.self, Empty(), as: context.caller))
        }
        router.get("v1/privacy/policy") { _, context in
            JSONBody.relay(try await sessions.policies.current().json)
        }

        let me = router.group(context: AuthenticatedContext.self)
        me.delete("v1/sessions/current") { _, context in
            _ = try await bus.call(Accounts.SignOut.self, .init(token: context.session.token), as: context.caller)
            sessions.forget(context.session.token)
            return clearingSession(Response(status: .noContent))
        }
        me.get("v1/me") { _, context in
            JSONBody.relay(try await bus.callReturningJSON(Accounts.Me.self, Empty(), as: context.caller))
        }
        me.patch("v1/me") { request, context in
            let body = try await JSONBody.decode(ProfileBody.self, from: request)
            let change = Accounts.UpdateProfile.Request(
                displayName: body.displayName, phone: body.phone, email: body.email, password: body.password,
                currentPassword: body.currentPassword, currentToken: context.session.token)
            return JSONBody.relay(try await bus.callReturningJSON(Accounts.UpdateProfile.self, change, as: context.caller))
        }
        me.post("v1/me/phone/verification") { request, context in
            let body = try await JSONBody.decode(PhoneCodeBody.self, from: request)
            return JSONBody.relay(try await bus.callReturningJSON(Accounts.VerifyPhone.self, .init(code: body.code), as: context.caller))
        }
        me.get("v1/me/consents") { _, context in
            JSONBody.relay(try await bus.callReturningJSON(Accounts.GetConsents.self, .init(), as: context.caller))
        }
        me.put("v1/me/consents") { request, context in
            let body = try await JSONBody.decode(ConsentsBody.self, from: request)
            let change = Accounts.SetConsents.Request(
                performanceCookies: body.performanceCookies, functionalityCookies: body.functionalityCookies,
                marketingEmail: body.marketingEmail, marketingSms: body.marketingSms, partners: body.partners,
                source: .settings)
            return JSONBody.relay(try await bus.callReturningJSON(Accounts.SetConsents.self, change, as: context.caller))
        }
        me.get("v1/me/consents/history") { request, context in
            let page = try RouteParameters.page(from: request)
            return JSONBody.relay(try await bus.callReturningJSON(Accounts.ConsentHistory.self, page, as: context.caller))
        }
        me.post("v1/me/policy-acceptances") { request, context in
            let body = try await JSONBody.decode(AcceptanceBody.self, from: request)
            _ = try await bus.call(Accounts.AcceptPolicy.self, .init(version: body.version), as: context.caller)
            sessions.forget(context.session.token)
            return Response(status: .noContent)
        }
        me.get("v1/me/sign-ins") { request, context in
            let page = try RouteParameters.page(from: request)
            return JSONBody.relay(try await bus.callReturningJSON(Accounts.SignInHistory.self, page, as: context.caller))
        }
        me.get("v1/me/access-log") { request, context in
            let page = try RouteParameters.page(from: request)
            return JSONBody.relay(try await bus.callReturningJSON(Accounts.AccessLog.self, page, as: context.caller))
        }
    }

    /// The session cookie: HttpOnly so scripts never see it, SameSite=Lax against cross-site posts,
    /// Secure under TLS, for the whole site, living as long as the session.
    private func sessionCookie(value: String, maxAge: Int) throws -> Cookie {
        try Cookie.validated(
            name: "session", value: value, maxAge: maxAge, path: "/", secure: secureCookies, httpOnly: true,
            sameSite: .lax)
    }

    /// `response` with the session cookie of `session` set, living as long as the session.
    func settingSession(_ session: Accounts.SignIn.Response, on response: Response) -> Response {
        var response = response
        let seconds = max(0, Int(session.expiresAt.timeIntervalSinceNow.rounded(.down)))
        if let cookie = try? sessionCookie(value: session.token, maxAge: seconds) {
            response.setCookie(cookie)
        }
        return response
    }

    /// `response` with the session cookie cleared in the browser.
    func clearingSession(_ response: Response) -> Response {
        var response = response
        if let cookie = try? sessionCookie(value: "", maxAge: 0) {
            response.setCookie(cookie)
        }
        return response
    }
}
