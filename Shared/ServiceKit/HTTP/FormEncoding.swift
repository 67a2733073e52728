public import Foundation

/// `application/x-www-form-urlencoded`, as outside providers' APIs and webhooks speak it.
public enum FormEncoding {
    private static let unreserved = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    /// RFC 3986 unreserved characters as they are, everything else percent-encoded, in the given order.
    public static func encode(_ fields: [(String, String)]) -> String {
        fields.map { name, value in escaped(name) + "=" + escaped(value) }.joined(separator: "&")
    }

    /// One name or value as `encode` writes it (also what RFC 6749 §2.3.1 asks of a client's id
    /// and secret before HTTP Basic joins them).
    public static func escaped(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
    }

    /// The fields of a form body (`+` is a space); of a name given twice, the last value; nil
    /// when a name or value is not valid percent-encoded UTF-8.
    public static func decode(_ body: Data) -> [String: String]? {
        var fields: [String: String] = [:]
        for pair in String(decoding: body, as: UTF8.self).split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map {
                $0.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
            }
            guard let name = parts[0], let value = parts.count > 1 ? parts[1] : "" else { return nil }
            fields[name] = value
        }
        return fields
    }
}
