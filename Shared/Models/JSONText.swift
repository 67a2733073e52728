public import Foundation

/// Checks on JSON text made before it is decoded.
public enum JSONText {
    /// Whether any string in the JSON text `data` holds a NUL character: the escape `\u0000`
    /// (not an escaped backslash followed by `u0000`), or a raw zero byte.
    ///
    /// PostgreSQL text cannot hold NUL, and a C string would end at it, so such input is refused
    /// at the boundary, whatever field it is in.
    public static func containsNUL(_ data: Data) -> Bool {
        data.withUnsafeBytes { bytes in
            var index = 0
            while index < bytes.count {
                switch bytes[index] {
                case 0:
                    return true
                case UInt8(ascii: "\\"):
                    if index + 5 < bytes.count, bytes[index + 1] == UInt8(ascii: "u"),
                        bytes[index + 2] == UInt8(ascii: "0"), bytes[index + 3] == UInt8(ascii: "0"),
                        bytes[index + 4] == UInt8(ascii: "0"), bytes[index + 5] == UInt8(ascii: "0")
                    {
                        return true
                    }
                    // Skip the escaped character, so `\\u0000` (a backslash, then text) is not taken for NUL.
                    index += 2
                default:
                    index += 1
                }
            }
            return false
        }
    }
}
