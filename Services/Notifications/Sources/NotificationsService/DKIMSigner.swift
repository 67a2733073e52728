import Foundation
import PlatformSecurity

/// Signs messages with DKIM (RFC 6376): `rsa-sha256`, relaxed/relaxed canonicalization, over the
/// headers a receiver shows or acts on (the unsubscribe headers of RFC 8058 among them, when the
/// message has them).
struct DKIMSigner: Sendable {
    let domain: String
    let selector: String
    let key: RSASigner

    /// Signed when present, in this order.
    static let signedHeaders = [
        "from", "to", "subject", "date", "message-id", "mime-version", "content-type", "list-unsubscribe", "list-unsubscribe-post",
    ]

    /// `message` (CRLF line ends) with a `DKIM-Signature` header first.
    func sign(_ message: String, at date: Date = Date()) throws -> String {
        guard let split = message.range(of: "\r\n\r\n") else { return message }
        let head = String(message[..<split.lowerBound])
        let body = String(message[split.upperBound...])
        let fields = Self.fields(head)
        let signed = Self.signedHeaders.filter { name in fields.contains { $0.name == name } }
        let bodyHash = SHA256.hash(Data(Self.relaxedBody(body).utf8)).base64EncodedString()
        let tags = "v=1; a=rsa-sha256; c=relaxed/relaxed; d=\(domain); s=\(selector); t=\(Int(date.timeIntervalSince1970)); "
            + "h=\(signed.joined(separator: ":")); bh=\(bodyHash); b="
        var data = ""
        for name in signed {
            // The last occurrence of a field is the first one signed (RFC 6376, 5.4.2); each is once here.
            if let field = fields.last(where: { $0.name == name }) { data += Self.relaxedHeader(name, field.value) + "\r\n" }
        }
        data += Self.relaxedHeader("dkim-signature", tags)
        let signature = try key.signSHA256(Data(data.utf8)).base64EncodedString()
        let folded = stride(from: 0, to: signature.count, by: 72).map { start -> Substring in
            let from = signature.index(signature.startIndex, offsetBy: start)
            return signature[from..<(signature.index(from, offsetBy: 72, limitedBy: signature.endIndex) ?? signature.endIndex)]
        }.joined(separator: "\r\n ")
        return "DKIM-Signature: \(tags)\(folded)\r\n" + message
    }

    /// The header fields of a header block: lower-cased names, values unfolded as they came.
    static func fields(_ head: String) -> [(name: String, value: String)] {
        var fields: [(name: String, value: String)] = []
        for line in head.components(separatedBy: "\r\n") {
            if let first = line.first, first == " " || first == "\t", !fields.isEmpty {
                fields[fields.count - 1].value += line
            } else if let colon = line.firstIndex(of: ":") {
                fields.append((line[..<colon].lowercased().trimmingCharacters(in: .whitespaces), String(line[line.index(after: colon)...])))
            }
        }
        return fields
    }

    /// "relaxed" header canonicalization (RFC 6376, 3.4.2).
    static func relaxedHeader(_ name: String, _ value: String) -> String {
        name.lowercased() + ":" + collapse(value.replacingOccurrences(of: "\r\n", with: "")).trimmingCharacters(in: .whitespaces)
    }

    /// "relaxed" body canonicalization (RFC 6376, 3.4.4), byte by byte: runs of spaces and tabs
    /// become one space, none ends a line, and empty lines at the end go.
    static func relaxedBody(_ body: String) -> String {
        let space = UInt8(ascii: " "), tab = UInt8(ascii: "\t"), cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n")
        var output: [UInt8] = []
        output.reserveCapacity(body.utf8.count)
        var pendingSpace = false
        var lineStart = 0
        for byte in body.utf8 {
            switch byte {
            case space, tab:
                pendingSpace = true
            case cr:
                continue
            case lf:
                // The line ends: trailing white space is dropped with the pending space.
                pendingSpace = false
                output.append(cr)
                output.append(lf)
                lineStart = output.count
            default:
                if pendingSpace { output.append(space) }
                pendingSpace = false
                output.append(byte)
            }
        }
        if lineStart < output.count {
            output.append(cr)
            output.append(lf)
        }
        // Empty lines at the end are one CRLF each after the last line's own.
        while output.count >= 4, output[output.count - 4] == cr, output[output.count - 3] == lf, output[output.count - 2] == cr,
            output[output.count - 1] == lf
        {
            output.removeLast(2)
        }
        if output == [cr, lf] { return "" }
        return String(decoding: output, as: UTF8.self)
    }

    /// Runs of spaces and tabs as one space.
    private static func collapse(_ text: String) -> String {
        var result = ""
        var inSpace = false
        for character in text {
            if character == " " || character == "\t" {
                if !inSpace { result.append(" ") }
                inSpace = true
            } else {
                result.append(character)
                inSpace = false
            }
        }
        return result
    }
}
