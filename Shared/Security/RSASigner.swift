public import Foundation
import COpenSSL

/// An RSA private key that signs with RSASSA-PKCS1-v1_5 over SHA-256 (RFC 8017), as DKIM's
/// `rsa-sha256` does (RFC 6376, 3.3.1).
///
/// `@unchecked Sendable`: the only state is the `EVP_PKEY`, never changed after it is read, and
/// OpenSSL 3 documents a key as safe to use from several threads at once for operations that do
/// not change it (crypto(7), "Multi-threaded applications"); each signature has its own
/// `EVP_MD_CTX`.
public final class RSASigner: @unchecked Sendable {
    private let key: OpaquePointer

    /// The key in PEM (PKCS #8 `PRIVATE KEY` or PKCS #1 `RSA PRIVATE KEY`).
    /// - Throws: `SecurityError.malformed` if it is not a readable RSA private key, or one under
    ///   2048 bits.
    public init(pem: String) throws {
        let bytes = Data(pem.utf8)
        let key = bytes.withNonNullBytes { pointer, count -> OpaquePointer? in
            guard let bio = BIO_new_mem_buf(pointer, Int32(count)) else { return nil }
            defer { BIO_free(bio) }
            return PEM_read_bio_PrivateKey(bio, nil, nil, nil)
        }
        guard let key else {
            ERR_clear_error()
            throw SecurityError.malformed
        }
        guard EVP_PKEY_is_a(key, "RSA") == 1, EVP_PKEY_get_bits(key) >= 2048 else {
            EVP_PKEY_free(key)
            throw SecurityError.malformed
        }
        self.key = key
    }

    deinit {
        EVP_PKEY_free(key)
    }

    /// The public key as DER SubjectPublicKeyInfo, base64: what a DKIM DNS record's `p=` holds.
    public var publicKeyBase64: String {
        var pointer: UnsafeMutablePointer<UInt8>?
        let length = i2d_PUBKEY(key, &pointer)
        guard length > 0, let pointer else { return "" }
        defer { CRYPTO_free(pointer, #file, #line) }
        return Data(bytes: pointer, count: Int(length)).base64EncodedString()
    }

    /// The signature of `message` (its SHA-256 digest, PKCS #1 v1.5 padding).
    public func signSHA256(_ message: Data) throws -> Data {
        guard let context = EVP_MD_CTX_new() else { throw SecurityError.drainingLibCryptoErrors() }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestSignInit_ex(context, nil, "SHA256", nil, nil, key, nil) == 1 else {
            throw SecurityError.drainingLibCryptoErrors()
        }
        var length = 0
        let sized = message.withNonNullBytes { bytes, count in EVP_DigestSign(context, nil, &length, bytes, count) }
        guard sized == 1 else { throw SecurityError.drainingLibCryptoErrors() }
        var signature = [UInt8](repeating: 0, count: length)
        let signed = message.withNonNullBytes { bytes, count in
            signature.withUnsafeMutableBufferPointer { output in EVP_DigestSign(context, output.baseAddress, &length, bytes, count) }
        }
        guard signed == 1 else { throw SecurityError.drainingLibCryptoErrors() }
        return Data(signature[..<length])
    }
}
