public import Hummingbird
import Logging
import NIOCore
import Models
public import ServiceKit

/// The context of one front-end request: the request id that ties its logs and its answer together,
/// the 1 MiB body limit of the contract, and who is asking.
public struct GatewayRequestContext: IdentifiedRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Echoed in the `Request-Id` response header and carried into bus calls and logs.
    public var requestId: String
    /// The client's IP address, for the sign-in history and the rate limits: the connection's
    /// peer, or what a trusted proxy says (`GATEWAY_TRUSTED_PROXIES`).
    public var clientAddress: String
    /// `DNT: 1` or `Sec-GPC: 1` was on the request: every bus call says so.
    public var doNotTrack: Bool
    /// The signed-in person, when the request carried a token that accounts recognised.
    var session: Session?
    /// A token was presented but could not be checked (the bus failed); routes that need a session answer it.
    var authenticationFailure: ServiceError?

    public init(source: Source) {
        coreContext = .init(source: source)
        requestId = ""
        clientAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
        doNotTrack = false
    }

    /// Bodies over 1 MiB are refused with 413 (docs/api.md).
    public var maxUploadSize: Int { HTTPLimits.maxBodyBytes }

    /// Who bus calls are made for: the signed-in person, or anonymous.
    var caller: Caller {
        Caller(accountId: session?.accountId, roles: session?.roles ?? [], doNotTrack: doNotTrack)
    }
}

/// The context of a route that needs a signed-in person: it cannot be built without a session,
/// so such a route never runs for an anonymous request (401 `unauthenticated`).
struct AuthenticatedContext: ChildRequestContext {
    var coreContext: CoreRequestContextStorage
    let requestId: String
    let clientAddress: String
    let doNotTrack: Bool
    let session: Session

    init(context: GatewayRequestContext) throws {
        if let failure = context.authenticationFailure { throw failure }
        guard let session = context.session else {
            throw ServiceError(
                .unauthenticated, "Sign in first: send a session token as a Bearer token or in the session cookie.")
        }
        coreContext = context.coreContext
        requestId = context.requestId
        clientAddress = context.clientAddress
        doNotTrack = context.doNotTrack
        self.session = session
    }

    var maxUploadSize: Int { HTTPLimits.maxBodyBytes }

    /// The signed-in person, with the request's privacy signal, for every bus call.
    var caller: Caller { Caller(accountId: session.accountId, roles: session.roles, doNotTrack: doNotTrack) }
}
