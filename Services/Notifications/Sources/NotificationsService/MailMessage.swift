import Foundation

/// An email as RFC 5322 text: MIME (RFC 2045/2046) with a text and an HTML alternative, both
/// base64 (7-bit clean, so no relay rewrites them and a DKIM signature over them holds), and
/// headers with RFC 2047 encoded words wherever they hold more than ASCII.
struct MailMessage: Sendable {
    var fromName: String
    var fromAddress: String
    var toName: String?
    var toAddress: String
    var subject: String
    var text: String
    var html: String
    var messageID: String
    var date: Date
    /// More headers, after the standard ones (List-Unsubscribe and the like).
    var extraHeaders: [(name: String, value: String)] = []

    /// The whole message, CRLF line ends.
    func rendered() -> String {
        let boundary = "=_alt_" + messageID.filter { $0.isLetter || $0.isNumber }.prefix(32)
        var headers: [(String, String)] = [
            ("From", Self.mailbox(fromName, fromAddress)),
            ("To", toName.map { Self.mailbox($0, toAddress) } ?? toAddress),
            ("Subject", Self.encodedWords(subject)),
            ("Date", Self.rfc5322(date)),
            ("Message-ID", "<\(messageID)>"),
            ("MIME-Version", "1.0"),
        ]
        headers += extraHeaders
        headers.append(("Content-Type", "multipart/alternative; boundary=\"\(boundary)\""))
        var lines = headers.map { "\($0.0): \($0.1)" }
        lines.append("")
        for (type, content) in [("text/plain", text), ("text/html", html)] {
            lines.append("--\(boundary)")
            lines.append("Content-Type: \(type); charset=utf-8")
            lines.append("Content-Transfer-Encoding: base64")
            lines.append("")
            lines.append(contentsOf: Self.base64Lines(Data(content.utf8)))
        }
        lines.append("--\(boundary)--")
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    /// `Name <address>`, the name quoted or encoded as it needs.
    static func mailbox(_ name: String, _ address: String) -> String {
        let clean = name.filter { $0 != "\r" && $0 != "\n" }
        if clean.allSatisfy({ $0.isASCII }) {
            let escaped = clean.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            return "\"\(escaped)\" <\(address)>"
        }
        return "\(encodedWords(clean)) <\(address)>"
    }

    /// The text as is when it is printable ASCII; else RFC 2047 `=?UTF-8?B?…?=` words of whole
    /// characters, each within the 75-character limit, folded onto lines of their own.
    static func encodedWords(_ text: String) -> String {
        let clean = text.filter { $0 != "\r" && $0 != "\n" }
        if clean.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value < 0x7F }) { return clean }
        var words: [String] = []
        var chunk = Data()
        for character in clean {
            let bytes = Data(String(character).utf8)
            // 45 bytes make 60 base64 characters, inside 75 with the 12 of the wrapping.
            if chunk.count + bytes.count > 45 {
                words.append("=?UTF-8?B?\(chunk.base64EncodedString())?=")
                chunk = Data()
            }
            chunk.append(bytes)
        }
        if !chunk.isEmpty { words.append("=?UTF-8?B?\(chunk.base64EncodedString())?=") }
        return words.joined(separator: "\r\n ")
    }

    static func base64Lines(_ data: Data) -> [String] {
        let encoded = Array(data.base64EncodedString().utf8)
        return stride(from: 0, to: encoded.count, by: 76).map { start in
            String(decoding: encoded[start..<min(start + 76, encoded.count)], as: UTF8.self)
        }
    }

    /// RFC 5322 date-time, in UTC: `Sun, 06 Dec 2026 07:30:00 +0000`.
    static func rfc5322(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) +0000"
    }
}
