public import Foundation

/// Base64 without padding, in the standard or the URL-safe alphabet, decoding canonical text only.
///
/// Canonical-only decoding means one value has exactly one accepted spelling: a token or hash
/// cannot be varied (padding, stray bits in the last character) and still be accepted.
public enum Base64 {
    /// The two alphabets of RFC 4648.
    public enum Alphabet {
        /// `A–Z a–z 0–9 + /` (RFC 4648 §4).
        case standard
        /// `A–Z a–z 0–9 - _` (RFC 4648 §5), safe in URLs and file names.
        case url
    }

    /// Encodes `data` without `=` padding.
    public static func encode(_ data: Data, alphabet: Alphabet) -> String {
        var text = data.base64EncodedString()
        while text.last == "=" {
            text.removeLast()
        }
        guard alphabet == .url else { return text }
        return String(text.map { character in
            switch character {
            case "+": "-"
            case "/": "_"
            default: character
            }
        })
    }

    /// Decodes unpadded text in `alphabet`; nil unless `text` is exactly what `encode` produces.
    static func decode(_ text: some StringProtocol, alphabet: Alphabet) -> Data? {
        var standard = [UInt8]()
        standard.reserveCapacity(text.utf8.count + 2)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"):
                standard.append(byte)
            case UInt8(ascii: "+") where alphabet == .standard, UInt8(ascii: "-") where alphabet == .url:
                standard.append(UInt8(ascii: "+"))
            case UInt8(ascii: "/") where alphabet == .standard, UInt8(ascii: "_") where alphabet == .url:
                standard.append(UInt8(ascii: "/"))
            default:
                return nil
            }
        }
        guard standard.count % 4 != 1 else { return nil }
        while standard.count % 4 != 0 {
            standard.append(UInt8(ascii: "="))
        }
        guard let data = Data(base64Encoded: Data(standard)),
            encode(data, alphabet: alphabet) == text
        else { return nil }
        return data
    }
}
