public import Foundation
import COpenSSL

/// Comparisons whose running time does not depend on where the inputs differ.
public enum ConstantTime {
    /// Whether `a` and `b` hold the same bytes, compared in time that depends only on the length.
    ///
    /// Inputs of different lengths are unequal at once; only the lengths leak, never the content.
    /// Use this for MACs, hashes and tokens, where `==` would tell an attacker how many leading
    /// bytes of a guess were right.
    public static func equals(_ a: Data, _ b: Data) -> Bool {
        guard a.count == b.count else { return false }
        return a.withNonNullBytes { left, count in
            b.withNonNullBytes { right, _ in CRYPTO_memcmp(left, right, count) == 0 }
        }
    }
}
