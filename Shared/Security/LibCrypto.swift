import COpenSSL
import Foundation

// MARK: Handing Data to libcrypto

extension Data {
    /// Calls `body` with a pointer to the bytes that is never null, even when the data is empty.
    ///
    /// Several libcrypto functions read a null pointer as "argument absent" rather than "zero
    /// bytes", and `Data` may hand out a null base address when empty.
    func withNonNullBytes<Result>(
        _ body: (UnsafePointer<UInt8>, Int) throws -> Result
    ) rethrows -> Result {
        try withUnsafeBytes { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            if let base = bytes.baseAddress, !bytes.isEmpty {
                return try body(base, bytes.count)
            }
            let placeholder: UInt8 = 0
            return try withUnsafePointer(to: placeholder) { try body($0, 0) }
        }
    }
}

// MARK: Errors from libcrypto

extension SecurityError {
    /// Discards libcrypto's queued error records for this thread and returns `cryptoFailure`.
    ///
    /// The queue is per thread; leaving records behind would make a later, unrelated caller on
    /// the same thread read them as its own.
    static func drainingLibCryptoErrors() -> SecurityError {
        ERR_clear_error()
        return .cryptoFailure
    }
}
