import Foundation
import Models

/// Fast JSON for the two fixed-schema frames every call carries: `RequestHeader` and `ReplyHeader`.
///
/// Foundation's coders cost 10–15 µs per header on our machines, a large share of a bus call.
/// The writer emits the same JSON as `WireCoding` (sorted keys, absent optionals omitted), and
/// the reader understands any JSON for these shapes; whatever it does not expect (an exponent in
/// a number, a field of the wrong type) is handed to `JSONDecoder`, which decides or throws.
/// Payloads stay on `WireCoding`: their types belong to the services.
enum HeaderCoding {
    // MARK: Writing

    static func encode(_ header: RequestHeader) -> Data {
        var out = JSONWriter(capacity: 256)
        out.raw("{\"caller\":{")
        if let account = header.caller.accountId {
            out.raw("\"accountId\":")
            out.string(account.uuidString)
            out.raw(",")
        }
        out.raw("\"doNotTrack\":")
        out.raw(header.caller.doNotTrack ? "true" : "false")
        out.raw(",\"roles\":[")
        for (index, role) in header.caller.roles.map(\.rawValue).sorted().enumerated() {
            if index > 0 { out.raw(",") }
            out.string(role)
        }
        out.raw("]},\"deadline\":")
        out.raw(String(header.deadline))
        if let key = header.idempotencyKey {
            out.raw(",\"idempotencyKey\":")
            out.string(key)
        }
        out.raw(",\"operation\":")
        out.string(header.operation)
        if let peer = header.peer {
            out.raw(",\"peer\":")
            out.string(peer)
        }
        out.raw(",\"requestId\":")
        out.string(header.requestId)
        if let traceparent = header.traceparent {
            out.raw(",\"traceparent\":")
            out.string(traceparent)
        }
        out.raw("}")
        return out.data
    }

    /// A reply header; only a success is written by hand, an error (rare) goes through Foundation.
    static func encode(_ header: ReplyHeader) -> Data {
        guard header.error == nil else {
            // Strings and arrays of strings only: Foundation cannot fail to encode them.
            return (try? Wire.encoder.encode(header)) ?? Data()
        }
        var out = JSONWriter(capacity: 64)
        out.raw("{\"requestId\":")
        out.string(header.requestId)
        out.raw("}")
        return out.data
    }

    // MARK: Reading

    static func decodeRequestHeader(_ data: Data) throws -> RequestHeader {
        if let header = fastRequestHeader(data) { return header }
        return try Wire.decoder.decode(RequestHeader.self, from: data)
    }

    static func decodeReplyHeader(_ data: Data) throws -> ReplyHeader {
        if let object = JSONScanner.object(data), object.count == 1, case .string(let id)? = object["requestId"] {
            return ReplyHeader(requestId: id)
        }
        return try Wire.decoder.decode(ReplyHeader.self, from: data)
    }

    private static func fastRequestHeader(_ data: Data) -> RequestHeader? {
        guard let object = JSONScanner.object(data),
            case .string(let operation)? = object["operation"],
            case .string(let requestID)? = object["requestId"],
            case .integer(let deadline)? = object["deadline"],
            case .object(let caller)? = object["caller"],
            case .bool(let doNotTrack)? = caller["doNotTrack"],
            case .array(let roleValues)? = caller["roles"],
            let idempotencyKey = optionalString(object["idempotencyKey"]),
            let traceparent = optionalString(object["traceparent"]),
            let peer = optionalString(object["peer"]),
            let accountText = optionalString(caller["accountId"])
        else { return nil }
        var roles = Set<Role>()
        for value in roleValues {
            guard case .string(let role) = value else { return nil }
            roles.insert(Role(rawValue: role))
        }
        var accountID: UUID?
        if let text = accountText {
            guard let uuid = UUID(uuidString: text) else { return nil }
            accountID = uuid
        }
        return RequestHeader(
            operation: operation, requestId: requestID,
            caller: Caller(accountId: accountID, roles: roles, doNotTrack: doNotTrack), deadline: deadline,
            traceparent: traceparent, idempotencyKey: idempotencyKey, peer: peer)
    }

    /// `.some(nil)` for absent or null, `.some(text)` for a string, nil (not understood) otherwise.
    private static func optionalString(_ value: JSONScanner.Value?) -> String?? {
        switch value {
        case nil, .null?: return .some(nil)
        case .string(let text)?: return .some(text)
        default: return nil
        }
    }
}

/// Appends JSON text to a byte buffer.
private struct JSONWriter {
    private var bytes: [UInt8]

    init(capacity: Int) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    var data: Data { Data(bytes) }

    mutating func raw(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    /// A JSON string: quotes, backslashes and control characters escaped, the rest as UTF-8.
    mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: Array("\\u00".utf8))
                bytes.append(hex[Int(byte >> 4)])
                bytes.append(hex[Int(byte & 0x0F)])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}

/// A small JSON reader (RFC 8259) producing plain values; nil for anything malformed.
enum JSONScanner {
    enum Value {
        case string(String)
        case integer(Int64)
        /// A number with a fraction or exponent, or too large for Int64: left to Foundation.
        case otherNumber
        case bool(Bool)
        case null
        case array([Value])
        case object([String: Value])
    }

    /// The top-level object of `data`, or nil if `data` is not exactly one JSON object.
    static func object(_ data: Data) -> [String: Value]? {
        data.withUnsafeBytes { raw -> [String: Value]? in
            var parser = Parser(bytes: raw.bindMemory(to: UInt8.self))
            guard case .object(let object)? = parser.value(depth: 0) else { return nil }
            parser.skipWhitespace()
            return parser.atEnd ? object : nil
        }
    }

    private struct Parser {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        var atEnd: Bool { index >= bytes.count }

        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        mutating func value(depth: Int) -> Value? {
            guard depth < 32 else { return nil }
            skipWhitespace()
            guard index < bytes.count else { return nil }
            switch bytes[index] {
            case UInt8(ascii: "{"): return object(depth: depth)
            case UInt8(ascii: "["): return array(depth: depth)
            case UInt8(ascii: "\""): return string().map(Value.string)
            case UInt8(ascii: "t"): return literal("true", .bool(true))
            case UInt8(ascii: "f"): return literal("false", .bool(false))
            case UInt8(ascii: "n"): return literal("null", .null)
            default: return number()
            }
        }

        private mutating func literal(_ word: StaticString, _ value: Value) -> Value? {
            let count = word.utf8CodeUnitCount
            guard index + count <= bytes.count else { return nil }
            for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] { return nil }
            index += count
            return value
        }

        private mutating func object(depth: Int) -> Value? {
            index += 1
            var result: [String: Value] = [:]
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
                return .object(result)
            }
            while true {
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\""), let key = string() else { return nil }
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return nil }
                index += 1
                guard let element = value(depth: depth + 1) else { return nil }
                result[key] = element
                skipWhitespace()
                guard index < bytes.count else { return nil }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                } else if bytes[index] == UInt8(ascii: "}") {
                    index += 1
                    return .object(result)
                } else {
                    return nil
                }
            }
        }

        private mutating func array(depth: Int) -> Value? {
            index += 1
            var result: [Value] = []
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
                return .array(result)
            }
            while true {
                guard let element = value(depth: depth + 1) else { return nil }
                result.append(element)
                skipWhitespace()
                guard index < bytes.count else { return nil }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                } else if bytes[index] == UInt8(ascii: "]") {
                    index += 1
                    return .array(result)
                } else {
                    return nil
                }
            }
        }

        /// At an opening quote: the decoded string, escapes resolved; nil if malformed.
        private mutating func string() -> String? {
            index += 1
            let start = index
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
                    index += 1
                    return text
                }
                if byte == UInt8(ascii: "\\") { break }
                if byte < 0x20 { return nil }
                index += 1
            }
            var buffer = Array(bytes[start..<index])
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return String(decoding: buffer, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard index < bytes.count else { return nil }
                    let escape = bytes[index]
                    index += 1
                    switch escape {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): buffer.append(escape)
                    case UInt8(ascii: "b"): buffer.append(0x08)
                    case UInt8(ascii: "f"): buffer.append(0x0C)
                    case UInt8(ascii: "n"): buffer.append(0x0A)
                    case UInt8(ascii: "r"): buffer.append(0x0D)
                    case UInt8(ascii: "t"): buffer.append(0x09)
                    case UInt8(ascii: "u"):
                        guard let scalar = unicodeEscape() else { return nil }
                        buffer.append(contentsOf: Array(String(Character(scalar)).utf8))
                    default: return nil
                    }
                case 0..<0x20:
                    return nil
                default:
                    buffer.append(byte)
                }
            }
            return nil
        }

        /// After `\u`: four hex digits, and a low surrogate escape after a high one.
        private mutating func unicodeEscape() -> Unicode.Scalar? {
            guard let high = hex4() else { return nil }
            if (0xD800..<0xDC00).contains(high) {
                guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
                else { return nil }
                index += 2
                guard let low = hex4(), (0xDC00..<0xE000).contains(low) else { return nil }
                return Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
            }
            return Unicode.Scalar(high)
        }

        private mutating func hex4() -> UInt32? {
            guard index + 4 <= bytes.count else { return nil }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[index]
                index += 1
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: return nil
                }
                value = value << 4 | UInt32(digit)
            }
            return value
        }

        /// An integer becomes `.integer`; any other valid number `.otherNumber`.
        private mutating func number() -> Value? {
            let start = index
            var negative = false
            if index < bytes.count, bytes[index] == UInt8(ascii: "-") {
                negative = true
                index += 1
            }
            let digitsStart = index
            var magnitude: UInt64 = 0
            var overflow = false
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
                let (times, o1) = magnitude.multipliedReportingOverflow(by: 10)
                let (plus, o2) = times.addingReportingOverflow(UInt64(bytes[index] - UInt8(ascii: "0")))
                overflow = overflow || o1 || o2
                magnitude = plus
                index += 1
            }
            let digits = index - digitsStart
            guard digits > 0, !(digits > 1 && bytes[digitsStart] == UInt8(ascii: "0")) else { return nil }
            var integral = true
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                integral = false
                index += 1
                guard skipDigits() else { return nil }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                integral = false
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                    index += 1
                }
                guard skipDigits() else { return nil }
            }
            guard index > start else { return nil }
            if !integral || overflow { return .otherNumber }
            if negative {
                if magnitude == UInt64(Int64.max) + 1 { return .integer(.min) }
                return magnitude <= UInt64(Int64.max) ? .integer(-Int64(magnitude)) : .otherNumber
            }
            return magnitude <= UInt64(Int64.max) ? .integer(Int64(magnitude)) : .otherNumber
        }

        private mutating func skipDigits() -> Bool {
            let start = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            return index > start
        }
    }
}
