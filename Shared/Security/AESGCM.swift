public import Foundation
import COpenSSL

/// AES-256 in Galois/Counter Mode (NIST SP 800-38D): the raw cipher beneath `KeyRing`.
///
/// Prefer `KeyRing`, which picks nonces and records key ids. Never seal twice under one key with
/// the same nonce: that reveals the XOR of the plaintexts and lets anyone forge tags.
public enum AESGCM {
    /// The key size in bytes (AES-256).
    public static let keyLength = 32
    /// The nonce size in bytes, the one GCM is designed for.
    public static let nonceLength = 12
    /// The tag size in bytes; shorter tags are not accepted.
    public static let tagLength = 16

    /// Encrypts `plaintext` and authenticates it together with `aad`.
    /// - Throws: `SecurityError.invalidParameters` if the key or nonce has the wrong length or an
    ///   input exceeds 2 GiB; `SecurityError.cryptoFailure` if libcrypto fails.
    public static func seal(
        key: Data, nonce: Data, plaintext: Data, aad: Data = Data()
    ) throws -> (ciphertext: Data, tag: Data) {
        try checkSizes(key: key, nonce: nonce, text: plaintext, aad: aad)
        let context = try CipherContext()
        var ciphertext = [UInt8](repeating: 0, count: plaintext.count + tagLength)
        var tag = [UInt8](repeating: 0, count: tagLength)
        var written: Int32 = 0
        let succeeded = key.withNonNullBytes { keyBytes, _ in
            nonce.withNonNullBytes { nonceBytes, _ in
                aad.withNonNullBytes { aadBytes, aadCount in
                    plaintext.withNonNullBytes { input, inputCount in
                        ciphertext.withUnsafeMutableBufferPointer { output in
                            var aadWritten: Int32 = 0
                            var final: Int32 = 0
                            guard EVP_EncryptInit_ex(context.pointer, EVP_aes_256_gcm(), nil, keyBytes, nonceBytes) == 1,
                                aadCount == 0 || EVP_EncryptUpdate(context.pointer, nil, &aadWritten, aadBytes, Int32(aadCount)) == 1,
                                inputCount == 0
                                    || EVP_EncryptUpdate(context.pointer, output.baseAddress, &written, input, Int32(inputCount)) == 1,
                                EVP_EncryptFinal_ex(context.pointer, output.baseAddress! + Int(written), &final) == 1,
                                EVP_CIPHER_CTX_ctrl(context.pointer, EVP_CTRL_GCM_GET_TAG, Int32(tagLength), &tag) == 1
                            else { return false }
                            written += final
                            return true
                        }
                    }
                }
            }
        }
        guard succeeded, Int(written) == plaintext.count else { throw SecurityError.drainingLibCryptoErrors() }
        return (Data(ciphertext[..<plaintext.count]), Data(tag))
    }

    /// Checks `tag` over `ciphertext` and `aad`, and returns the plaintext only if it matches.
    /// - Throws: `SecurityError.authenticationFailed` if the tag does not match (tampering, the
    ///   wrong key, nonce or associated data); `SecurityError.invalidParameters` if the key, nonce
    ///   or tag has the wrong length or an input exceeds 2 GiB; `SecurityError.cryptoFailure` if
    ///   libcrypto fails.
    public static func open(
        key: Data, nonce: Data, ciphertext: Data, tag: Data, aad: Data = Data()
    ) throws -> Data {
        try checkSizes(key: key, nonce: nonce, text: ciphertext, aad: aad)
        guard tag.count == tagLength else { throw SecurityError.invalidParameters }
        let context = try CipherContext()
        var plaintext = [UInt8](repeating: 0, count: ciphertext.count + tagLength)
        var written: Int32 = 0
        var tagBytes = [UInt8](tag)
        enum Outcome { case opened, forged, failed }
        let outcome = key.withNonNullBytes { keyBytes, _ in
            nonce.withNonNullBytes { nonceBytes, _ in
                aad.withNonNullBytes { aadBytes, aadCount in
                    ciphertext.withNonNullBytes { input, inputCount in
                        plaintext.withUnsafeMutableBufferPointer { output -> Outcome in
                            var aadWritten: Int32 = 0
                            var final: Int32 = 0
                            guard EVP_DecryptInit_ex(context.pointer, EVP_aes_256_gcm(), nil, keyBytes, nonceBytes) == 1,
                                aadCount == 0 || EVP_DecryptUpdate(context.pointer, nil, &aadWritten, aadBytes, Int32(aadCount)) == 1,
                                inputCount == 0
                                    || EVP_DecryptUpdate(context.pointer, output.baseAddress, &written, input, Int32(inputCount)) == 1,
                                EVP_CIPHER_CTX_ctrl(context.pointer, EVP_CTRL_GCM_SET_TAG, Int32(tagLength), &tagBytes) == 1
                            else { return .failed }
                            // The one check that matters: libcrypto compares the tag here, in constant time.
                            guard EVP_DecryptFinal_ex(context.pointer, output.baseAddress! + Int(written), &final) == 1 else {
                                return .forged
                            }
                            written += final
                            return .opened
                        }
                    }
                }
            }
        }
        switch outcome {
        case .opened where Int(written) == ciphertext.count:
            return Data(plaintext[..<ciphertext.count])
        case .forged:
            ERR_clear_error()
            throw SecurityError.authenticationFailed
        case .opened, .failed:
            throw SecurityError.drainingLibCryptoErrors()
        }
    }

    private static func checkSizes(key: Data, nonce: Data, text: Data, aad: Data) throws {
        guard key.count == keyLength, nonce.count == nonceLength,
            text.count <= Int(Int32.max), aad.count <= Int(Int32.max)
        else { throw SecurityError.invalidParameters }
    }
}

/// An `EVP_CIPHER_CTX` freed (and so wiped, key schedule included) when the Swift value goes.
private final class CipherContext {
    let pointer: OpaquePointer

    init() throws {
        guard let pointer = EVP_CIPHER_CTX_new() else { throw SecurityError.drainingLibCryptoErrors() }
        self.pointer = pointer
    }

    deinit {
        EVP_CIPHER_CTX_free(pointer)
    }
}
