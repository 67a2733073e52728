public import Foundation
import COpenSSL

/// The scrypt key-derivation function (RFC 7914), as libcrypto's `EVP_PBE_scrypt` computes it.
///
/// For passwords use `PasswordHasher`, which picks the salt, stores the parameters with the hash
/// and refuses costs that would exhaust the machine; this is the raw function beneath it.
public enum Scrypt {
    /// Derives `length` bytes from `password` and `salt` with cost `n` (a power of two greater
    /// than 1), block size `r` and parallelism `p`.
    ///
    /// Memory use is about `128 · r · n` bytes and time grows with `n · r · p`. This call blocks
    /// its thread for the whole derivation.
    /// - Throws: `SecurityError.invalidParameters` if `n` is not a power of two above 1, `r` or `p`
    ///   is zero, `length` is not in 1...4096, or the memory needed does not fit in 64 bits;
    ///   `SecurityError.cryptoFailure` if libcrypto refuses or cannot allocate the memory.
    public static func derive(
        password: Data, salt: Data, n: UInt64, r: UInt64, p: UInt64, length: Int
    ) throws -> Data {
        guard n > 1, n & (n - 1) == 0, r > 0, p > 0, (1...4096).contains(length),
            let maximumMemory = memoryBound(n: n, r: r, p: p)
        else { throw SecurityError.invalidParameters }

        var key = [UInt8](repeating: 0, count: length)
        let status = password.withNonNullBytes { passwordBytes, passwordCount in
            salt.withNonNullBytes { saltBytes, saltCount in
                key.withUnsafeMutableBufferPointer { output in
                    UnsafeRawPointer(passwordBytes).withMemoryRebound(to: CChar.self, capacity: passwordCount) {
                        EVP_PBE_scrypt(
                            $0, passwordCount, saltBytes, saltCount, n, r, p, maximumMemory,
                            output.baseAddress, length)
                    }
                }
            }
        }
        guard status == 1 else { throw SecurityError.drainingLibCryptoErrors() }
        return Data(key)
    }

    /// The `maxmem` to give libcrypto: what its scrypt allocates (`V`: 128·r·(n+2), `B`: 128·r·p)
    /// plus 1 MiB of margin, or nil on overflow. libcrypto's own default (32 MiB) is below the
    /// just over 32 MiB that `N = 2^15, r = 8` needs, so it must always be set.
    static func memoryBound(n: UInt64, r: UInt64, p: UInt64) -> UInt64? {
        let (blockBytes, blockOverflow) = r.multipliedReportingOverflow(by: 128)
        let (vectorBytes, vectorOverflow) = blockBytes.multipliedReportingOverflow(by: n &+ 2)
        let (bufferBytes, bufferOverflow) = blockBytes.multipliedReportingOverflow(by: p)
        let (sum, sumOverflow) = vectorBytes.addingReportingOverflow(bufferBytes)
        let (total, totalOverflow) = sum.addingReportingOverflow(1 << 20)
        guard n < UInt64.max - 2,
            !(blockOverflow || vectorOverflow || bufferOverflow || sumOverflow || totalOverflow)
        else { return nil }
        return total
    }
}
