import Foundation
import Hummingbird
import NIOCore

/// The sandbox's inbox over HTTP, for people on a local run and for tests: every message its mail
/// server kept, with its headers, its text and HTML parts decoded, and its raw source (which is
/// what a DKIM verifier needs).
struct MailRoutes: Sendable {
    let store: MailStore

    struct MailView: Encodable {
        struct Header: Encodable {
            var name: String
            var value: String
        }
        var id: String
        var from: String
        var to: [String]
        var subject: String?
        var headers: [Header]
        var text: String?
        var html: String?
        var raw: String
        var receivedAt: Date
    }

    func register(on router: Router<BasicRequestContext>) {
        router.get("v1/sandbox/mail") { request, _ -> Response in
            let to = request.uri.queryParameters["to"].map(String.init)
            let messages = store.messages(to: to).map(Self.view)
            return try Self.json(["messages": messages])
        }
        // For benchmarks: counting without the messages.
        router.get("v1/sandbox/mail/stats") { _, _ -> Response in
            let counts = store.counts()
            return try Self.json(["received": counts.received, "kept": counts.kept])
        }
        router.delete("v1/sandbox/mail") { _, _ -> Response in
            store.clear()
            return Response(status: .noContent)
        }
        // For tests: the next `count` transactions are refused at MAIL FROM with `code`.
        router.post("v1/sandbox/mail/failures") { request, _ -> Response in
            struct Failures: Decodable {
                var count: Int
                var code: Int
            }
            let body = try await request.body.collect(upTo: 4096)
            guard let failures = try? JSONDecoder().decode(Failures.self, from: Data(body.readableBytesView)), (0...1000).contains(failures.count),
                (400...599).contains(failures.code)
            else { return Response(status: .badRequest) }
            store.fail(next: failures.count, code: failures.code)
            return Response(status: .noContent)
        }
    }

    private static func json(_ value: some Encodable) throws -> Response {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Response(
            status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }

    static func view(_ mail: ReceivedMail) -> MailView {
        let message = MIMEPart(mail.raw)
        var view = MailView(
            id: mail.id, from: mail.from, to: mail.to, subject: message.header("Subject").map(MIMEPart.decodeWords),
            headers: message.headers.map { .init(name: $0.name, value: $0.value) }, raw: mail.raw, receivedAt: mail.receivedAt)
        for leaf in message.leaves() {
            switch leaf.contentType {
            case "text/plain" where view.text == nil: view.text = leaf.decodedBody
            case "text/html" where view.html == nil: view.html = leaf.decodedBody
            default: break
            }
        }
        return view
    }
}

/// A MIME entity (RFC 2045/2046): its headers, unfolded, and its body; multipart bodies split.
struct MIMEPart {
    let headers: [(name: String, value: String)]
    let body: String

    init(_ raw: String) {
        let normalized = raw.replacingOccurrences(of: "\r\n", with: "\n")
        let split = normalized.range(of: "\n\n")
        let head = split.map { String(normalized[..<$0.lowerBound]) } ?? normalized
        body = split.map { String(normalized[$0.upperBound...]) } ?? ""
        var headers: [(name: String, value: String)] = []
        for line in head.split(separator: "\n", omittingEmptySubsequences: false) {
            if let first = line.first, first == " " || first == "\t", !headers.isEmpty {
                headers[headers.count - 1].value += " " + line.trimmingCharacters(in: .whitespaces)
            } else if let colon = line.firstIndex(of: ":") {
                headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
            }
        }
        self.headers = headers
    }

    func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    /// The media type, lower-cased, without parameters (`text/plain` when there is none).
    var contentType: String {
        (header("Content-Type") ?? "text/plain").split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            ?? "text/plain"
    }

    /// A parameter of Content-Type (`boundary`, `charset`).
    func parameter(_ name: String) -> String? {
        for piece in (header("Content-Type") ?? "").split(separator: ";").dropFirst() {
            let pair = piece.split(separator: "=", maxSplits: 1)
            if pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces).lowercased() == name {
                return pair[1].trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
        }
        return nil
    }

    /// The single parts of this entity, depth first.
    func leaves() -> [MIMEPart] {
        guard contentType.hasPrefix("multipart/"), let boundary = parameter("boundary") else { return [self] }
        var parts: [MIMEPart] = []
        for chunk in body.components(separatedBy: "--" + boundary).dropFirst() {
            if chunk.hasPrefix("--") { break }
            parts.append(contentsOf: MIMEPart(String(chunk.drop { $0 == "\n" })).leaves())
        }
        return parts
    }

    /// The body without its transfer encoding, as UTF-8.
    var decodedBody: String {
        switch header("Content-Transfer-Encoding")?.lowercased() {
        case "base64":
            let compact = body.filter { !$0.isWhitespace }
            return Data(base64Encoded: compact).map { String(decoding: $0, as: UTF8.self) } ?? body
        case "quoted-printable":
            return Self.quotedPrintable(body)
        default:
            return body.hasSuffix("\n") ? String(body.dropLast()) : body
        }
    }

    static func quotedPrintable(_ text: String) -> String {
        var bytes: [UInt8] = []
        let source = Array(text.replacingOccurrences(of: "=\n", with: "").utf8)
        var index = 0
        while index < source.count {
            if source[index] == UInt8(ascii: "="), index + 2 < source.count,
                let byte = UInt8(String(decoding: source[(index + 1)...(index + 2)], as: UTF8.self), radix: 16)
            {
                bytes.append(byte)
                index += 3
            } else {
                bytes.append(source[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Decodes RFC 2047 encoded words (`=?UTF-8?B?…?=`, `=?UTF-8?Q?…?=`) in a header's value.
    static func decodeWords(_ value: String) -> String {
        let pattern = /=\?([^?]+)\?([BbQq])\?([^?]*)\?=/
        var result = value.replacing(/\?=\s+=\?/, with: "?==?")
        result = result.replacing(pattern) { match in
            let encoded = String(match.output.3)
            if match.output.2.uppercased() == "B" {
                return Data(base64Encoded: encoded).map { String(decoding: $0, as: UTF8.self) } ?? encoded
            }
            return quotedPrintable(encoded.replacingOccurrences(of: "_", with: " "))
        }
        return result
    }
}
