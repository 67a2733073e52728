public import Foundation
import COpenSSL

/// Cryptographically secure random bytes from libcrypto's DRBG.
public enum SecureRandom {
    /// Returns `count` random bytes.
    ///
    /// Stops the process if libcrypto cannot produce randomness: every key, nonce and token
    /// depends on it, and there is no safe way to carry on without it.
    public static func bytes(_ count: Int) -> Data {
        precondition(count >= 0 && count <= Int(Int32.max), "SecureRandom.bytes: count out of range")
        var buffer = [UInt8](repeating: 0, count: count)
        guard count > 0 else { return Data() }
        let status = buffer.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32(count)) }
        guard status == 1 else {
            fatalError("RAND_bytes failed: the system's random source is unusable")
        }
        return Data(buffer)
    }

    /// Returns a random token of `bytes` random bytes, base64url-encoded without padding.
    ///
    /// The default 32 bytes (256 bits) is enough for session and reset tokens; the result is safe
    /// in URLs, cookies and headers as it is.
    public static func token(bytes count: Int = 32) -> String {
        Base64.encode(bytes(count), alphabet: .url)
    }
}
