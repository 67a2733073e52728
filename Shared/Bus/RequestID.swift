import Synchronization

/// Request ids: unique per call, cheap to make (no system call, unlike `UUID()` on Linux, which
/// opens /dev/urandom each time).
///
/// A random 64-bit prefix drawn once per process, then a counter: `9f2c41d07a3be815-1a2b`.
/// Ids are for correlation in logs and replies, not secrets, so predictability is harmless.
enum RequestID {
    private static let prefix: String = {
        var generator = SystemRandomNumberGenerator()
        let bits = generator.next() as UInt64
        let hex = String(bits, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }()
    private static let counter = Atomic<UInt64>(0)

    static func next() -> String {
        prefix + "-" + String(counter.add(1, ordering: .relaxed).newValue, radix: 16)
    }
}
