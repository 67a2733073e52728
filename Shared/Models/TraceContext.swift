public import Instrumentation
import Synchronization

/// W3C Trace Context (https://www.w3.org/TR/trace-context/): the trace a piece of work belongs to
/// and the span doing it, as the `traceparent` header writes them.
///
/// The gateway continues a client's trace or starts one; every bus call and every event carries
/// it on (`RequestHeader.traceparent`, `EventMetadata.traceparent`), each hop as a new span of the
/// same trace, so one trace id finds a request's lines in every process's log (`trace.id`).
public struct TraceContext: Sendable, Equatable {
    /// 32 lowercase hex digits, never all zero: the whole request, across every process.
    public let traceId: String
    /// 16 lowercase hex digits, never all zero: this span, the parent of the next hop's.
    public let spanId: String
    /// The trace flags; bit 0 is `sampled`.
    public let flags: UInt8

    /// Reads a `traceparent` value; nil for anything the specification says to ignore
    /// (a wrong length, upper-case or non-hex digits, an all-zero id, version `ff`).
    ///
    /// A version above `00` is read by its first four fields, as the specification asks, as long
    /// as anything after them follows a dash.
    public init?(traceparent: String) {
        let bytes = Array(traceparent.utf8)
        guard bytes.count >= 55, bytes[2] == UInt8(ascii: "-"), bytes[35] == UInt8(ascii: "-"),
            bytes[52] == UInt8(ascii: "-"),
            let version = Self.hexValue(bytes[0..<2]), version != 0xFF,
            let flags = Self.hexValue(bytes[53..<55]),
            Self.isNonZeroHex(bytes[3..<35]), Self.isNonZeroHex(bytes[36..<52])
        else { return nil }
        if version == 0 {
            guard bytes.count == 55 else { return nil }
        } else if bytes.count > 55 {
            guard bytes[55] == UInt8(ascii: "-") else { return nil }
        }
        self.traceId = String(decoding: bytes[3..<35], as: UTF8.self)
        self.spanId = String(decoding: bytes[36..<52], as: UTF8.self)
        // Only `sampled` is defined; unknown flags are not passed on (the specification's rule).
        self.flags = flags & 0x01
    }

    private init(traceId: String, spanId: String, flags: UInt8) {
        self.traceId = traceId
        self.spanId = spanId
        self.flags = flags
    }

    /// A new trace, sampled: for a request that came without one.
    public static func root() -> TraceContext {
        TraceContext(traceId: SpanIDs.next() + SpanIDs.next(), spanId: SpanIDs.next(), flags: 0x01)
    }

    /// The span of work that a `traceparent` (a header, an event's metadata) asked for: a child of
    /// that span when it is valid, else a new trace.
    public static func continuing(_ traceparent: String?) -> TraceContext {
        traceparent.flatMap(TraceContext.init(traceparent:))?.child() ?? .root()
    }

    /// The next hop's span: the same trace and flags, a new span id.
    public func child() -> TraceContext {
        TraceContext(traceId: traceId, spanId: SpanIDs.next(), flags: flags)
    }

    /// The `traceparent` header value (version `00`).
    public var traceparent: String {
        "00-\(traceId)-\(spanId)-\(Hex.byte(flags))"
    }

    private static func hexValue(_ digits: ArraySlice<UInt8>) -> UInt8? {
        var value: UInt8 = 0
        for digit in digits {
            guard let nibble = Hex.nibble(digit) else { return nil }
            value = value << 4 | nibble
        }
        return value
    }

    private static func isNonZeroHex(_ digits: ArraySlice<UInt8>) -> Bool {
        var nonZero = false
        for digit in digits {
            guard Hex.nibble(digit) != nil else { return false }
            nonZero = nonZero || digit != UInt8(ascii: "0")
        }
        return nonZero
    }
}

/// Span and trace ids without a system call per id: a random 64-bit seed drawn once per process,
/// then SplitMix64 over a counter. The mix is a bijection, so ids never repeat within a process,
/// and two processes' seeds make collisions between them as unlikely as random ids would. Ids
/// correlate logs; they are not secrets.
enum SpanIDs {
    private static let seed: UInt64 = {
        var generator = SystemRandomNumberGenerator()
        return generator.next()
    }()
    private static let counter = Atomic<UInt64>(0)

    /// 16 lowercase hex digits, never all zero.
    static func next() -> String {
        while true {
            var value = seed &+ counter.add(1, ordering: .relaxed).newValue &* 0x9E37_79B9_7F4A_7C15
            value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
            value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
            value ^= value >> 31
            if value != 0 { return Hex.word(value) }
        }
    }
}

/// Lowercase hexadecimal, as trace context writes it.
enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        default: nil
        }
    }

    static func byte(_ value: UInt8) -> String {
        String(decoding: [digits[Int(value >> 4)], digits[Int(value & 0x0F)]], as: UTF8.self)
    }

    static func word(_ value: UInt64) -> String {
        String(unsafeUninitializedCapacity: 16) { buffer in
            for index in 0..<16 {
                buffer[index] = digits[Int((value >> UInt64(60 - 4 * index)) & 0x0F)]
            }
            return 16
        }
    }
}

// MARK: - Carried in the task

/// The trace of the work the current task is doing.
public enum TraceContextKey: ServiceContextKey {
    public typealias Value = TraceContext
    public static var nameOverride: String? { "trace.id" }
}

/// The id of the request the current task serves: the gateway's request id, or a bus call's.
public enum RequestIDKey: ServiceContextKey {
    public typealias Value = String
    public static var nameOverride: String? { "request.id" }
}

extension ServiceContext {
    /// The trace of the work in hand (`ServiceContext.current?.traceContext`).
    public var traceContext: TraceContext? {
        get { self[TraceContextKey.self] }
        set { self[TraceContextKey.self] = newValue }
    }

    /// The id of the request in hand.
    public var requestId: String? {
        get { self[RequestIDKey.self] }
        set { self[RequestIDKey.self] = newValue }
    }

    /// A context for serving one request: its id and its trace, on top of the current context.
    public static func serving(requestId: String, trace: TraceContext) -> ServiceContext {
        var context = ServiceContext.current ?? .topLevel
        context.requestId = requestId
        context.traceContext = trace
        return context
    }

    /// A context for work that belongs to a trace but answers no request (applying an event).
    public static func following(_ trace: TraceContext) -> ServiceContext {
        var context = ServiceContext.current ?? .topLevel
        context.traceContext = trace
        return context
    }
}
