/// A failure of the bus transport itself (not of the service that was called).
///
/// A struct around a private code, so that adding a case later breaks nobody; compare with the
/// static members (`error == .timeout`). Equality looks at the kind only, not at `detail`.
public struct BusError: Error, Sendable, Equatable, CustomStringConvertible {
    enum Code: String, Sendable {
        case timeout
        case closed
        case protocolViolation = "protocol violation"
        case invalidEndpoint = "invalid endpoint"
        case addressInUse = "address in use"
        case socketError = "socket error"
        case invalidKey = "invalid CURVE key"
    }

    let code: Code
    /// What went wrong in words, for logs; never carries message contents or keys.
    public let detail: String?

    init(_ code: Code, detail: String? = nil) {
        self.code = code
        self.detail = detail
    }

    /// No answer came before the deadline.
    public static let timeout = BusError(.timeout)
    /// The component or its context was closed.
    public static let closed = BusError(.closed)
    /// A peer sent something MDP does not allow.
    public static let protocolViolation = BusError(.protocolViolation)
    /// The endpoint text is not one libzmq can connect to or bind.
    public static let invalidEndpoint = BusError(.invalidEndpoint)
    /// A bind found its address taken (another broker, or another program, holds the port).
    public static let addressInUse = BusError(.addressInUse)
    /// libzmq refused an operation for another reason.
    public static let socketError = BusError(.socketError)
    /// A CURVE key is not 40 characters of Z85, or a public key does not match its secret key.
    public static let invalidKey = BusError(.invalidKey)

    /// Same kind of failure; the detail text is not compared.
    public static func == (lhs: BusError, rhs: BusError) -> Bool { lhs.code == rhs.code }

    /// The kind, and the detail when there is one.
    public var description: String {
        if let detail { return "bus \(code.rawValue): \(detail)" }
        return "bus \(code.rawValue)"
    }
}
