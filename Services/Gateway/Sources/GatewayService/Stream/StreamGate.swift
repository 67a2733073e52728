import Foundation
import HTTPTypes
import Hummingbird
import Models
import ServiceKit

/// Who may open `GET /v1/stream`: a signed-in person (the `session` cookie, a `bearer.<token>`
/// WebSocket subprotocol, or an `Authorization: Bearer` header; never a token in the URL), from
/// an allowed origin when a browser says where the page came from. The upgrade and the plain
/// route ask the same gate, so a refused upgrade is answered as precisely as any request.
struct StreamGate: Sendable {
    let sessions: SessionCache
    /// `GATEWAY_ALLOWED_ORIGINS`; the gateway's own origin is always allowed.
    let allowedOrigins: Set<String>

    /// The subprotocol the gateway selects when a client offers it (browsers that offer
    /// `bearer.<token>` must also offer one the server can select).
    static let subprotocol = "advisor-stream.v1"
    static let maxResumedChats = 100

    struct Admission: Sendable {
        var session: Session
        var doNotTrack: Bool
        /// `after=<chatId>:<seq>`: the last message the client saw of each chat it resumes.
        var resume: [UUID: Int64]
        var subprotocol: String?
    }

    /// - Parameter authority: the request's `Host`, which a same-origin page's `Origin` names.
    func admit(path: String, authority: String?, headers: HTTPFields) async -> Result<Admission, ServiceError> {
        // Every Origin given must be allowed (a browser sends exactly one).
        if headers[values: .origin].contains(where: { !allows(origin: $0, host: authority) }) {
            return .failure(ServiceError(.forbidden, "this page's origin may not open the stream"))
        }
        let offered = headers[values: .secWebSocketProtocol].flatMap { $0.split(separator: ",") }.map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        let resume: [UUID: Int64]
        switch Self.resume(in: path) {
        case .success(let value): resume = value
        case .failure(let error): return .failure(error)
        }
        guard let token = Self.token(offered: offered, headers: headers) else {
            return .failure(
                ServiceError(.unauthenticated, "Sign in first: the session cookie or a bearer.<token> subprotocol opens the stream."))
        }
        do {
            let session = try await sessions.session(for: token)
            return .success(
                Admission(
                    session: session, doNotTrack: headers[.dnt] == "1" || headers[.secGPC] == "1", resume: resume,
                    subprotocol: offered.contains(Self.subprotocol) ? Self.subprotocol : nil))
        } catch let error as ServiceError {
            return .failure(error)
        } catch {
            return .failure(ServiceError(.unavailable, "The session could not be checked; try again."))
        }
    }

    /// A browser page may connect from the gateway's own origin or an allowed one.
    func allows(origin: String, host: String?) -> Bool {
        allowedOrigins.contains(origin) || OwnPages.isOwn(origin: origin, authority: host)
    }

    static func token(offered: [String], headers: HTTPFields) -> String? {
        if let token = offered.first(where: { $0.hasPrefix("bearer.") }).map({ String($0.dropFirst("bearer.".count)) }),
            !token.isEmpty
        {
            return token
        }
        if let authorization = headers[.authorization], let token = AuthenticationMiddleware.bearerToken(in: authorization) {
            return token
        }
        for cookie in headers[values: .cookie].flatMap({ $0.split(separator: ";") }) {
            let pair = cookie.trimmingCharacters(in: .whitespaces)
            if pair.hasPrefix("session="), pair.count > "session=".count { return String(pair.dropFirst("session=".count)) }
        }
        return nil
    }

    /// The `after=<chatId>:<seq>` parameters of the stream's URL.
    static func resume(in path: String) -> Result<[UUID: Int64], ServiceError> {
        let invalid = ServiceError(
            .validationFailed, "after is <chatId>:<seq>, at most \(maxResumedChats) of them",
            fieldErrors: [.init(field: "after", code: "invalid")])
        guard let items = URLComponents(string: path)?.queryItems else { return .success([:]) }
        var resume: [UUID: Int64] = [:]
        for item in items where item.name == "after" {
            let parts = (item.value ?? "").split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, let chatId = UUID(uuidString: String(parts[0])), let seq = Int64(parts[1]), seq >= 0 else {
                return .failure(invalid)
            }
            resume[chatId] = seq
        }
        return resume.count <= maxResumedChats ? .success(resume) : .failure(invalid)
    }

    /// `GET /v1/stream` without an upgrade: the gate's refusal, or 426 when nothing else is wrong.
    func register(on router: Router<GatewayRequestContext>) {
        router.get("v1/stream") { request, _ -> Response in
            if case .failure(let error) = await admit(path: request.uri.description, authority: request.head.authority, headers: request.headers) { throw error }
            let problem = Problem(
                status: HTTPResponse.Status(code: 426, reasonPhrase: "Upgrade Required"), code: "upgrade_required",
                detail: "This is a WebSocket: open it with Upgrade: websocket.")
            var response = try JSONBody.response(problem, status: HTTPResponse.Status(code: 426, reasonPhrase: "Upgrade Required"))
            response.headers[.upgrade] = "websocket"
            response.headers[.contentType] = "application/problem+json"
            return response
        }
    }
}
