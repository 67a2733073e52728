public import Foundation
import COpenSSL

/// HMAC (RFC 2104) over SHA-256 and SHA-512, and over SHA-1 for the SMS provider's webhook
/// signatures, whose scheme the provider fixes (HMAC-SHA-1 is still sound as a MAC).
public enum HMAC {
    /// Returns the 32-byte HMAC-SHA-256 of `message` under `key`.
    public static func sha256(key: Data, message: Data) -> Data {
        mac(digest: "SHA256", length: 32, key: key, message: message)
    }

    /// Returns the 64-byte HMAC-SHA-512 of `message` under `key`.
    public static func sha512(key: Data, message: Data) -> Data {
        mac(digest: "SHA512", length: 64, key: key, message: message)
    }

    /// Returns the 20-byte HMAC-SHA-1 of `message` under `key`; only for protocols that fix it.
    public static func sha1(key: Data, message: Data) -> Data {
        mac(digest: "SHA1", length: 20, key: key, message: message)
    }

    private static func mac(digest: String, length: Int, key: Data, message: Data) -> Data {
        var output = [UInt8](repeating: 0, count: length)
        var written = 0
        let result = key.withNonNullBytes { keyBytes, keyCount in
            message.withNonNullBytes { messageBytes, messageCount in
                output.withUnsafeMutableBufferPointer { out in
                    EVP_Q_mac(
                        nil, "HMAC", nil, digest, nil, keyBytes, keyCount, messageBytes, messageCount,
                        out.baseAddress, length, &written)
                }
            }
        }
        // With a built-in digest and a buffer of the right size, this fails only when memory is exhausted.
        precondition(result != nil && written == length, "libcrypto failed to compute HMAC-\(digest)")
        return Data(output)
    }
}
