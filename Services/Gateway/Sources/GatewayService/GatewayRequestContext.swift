public import Hummingbird
import Logging
public import ServiceKit

/// The context of one front-end request: the request id that ties its logs and its answer together,
/// and the 1 MiB body limit of the contract.
public struct GatewayRequestContext: IdentifiedRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Echoed in the `Request-Id` response header and carried into bus calls and logs.
    public var requestId: String

    public init(source: Source) {
        coreContext = .init(source: source)
        requestId = ""
    }

    /// Bodies over 1 MiB are refused with 413 (CONTRACT.md).
    public var maxUploadSize: Int { HTTPLimits.maxBodyBytes }
}
