public import Foundation
import COpenSSL

/// SHA-256 (FIPS 180-4), for storing hashes of session tokens and chaining audit records.
public enum SHA256 {
    /// The digest size in bytes.
    public static let digestLength = 32

    /// Returns the 32-byte SHA-256 digest of `data`.
    public static func hash(_ data: Data) -> Data {
        var digest = [UInt8](repeating: 0, count: digestLength)
        var written: UInt32 = 0
        let status = data.withNonNullBytes { input, count in
            digest.withUnsafeMutableBufferPointer { output in
                EVP_Digest(input, count, output.baseAddress, &written, EVP_sha256(), nil)
            }
        }
        // EVP_Digest over a built-in digest fails only when memory is exhausted.
        precondition(status == 1 && written == UInt32(digestLength), "libcrypto failed to compute SHA-256")
        return Data(digest)
    }
}
