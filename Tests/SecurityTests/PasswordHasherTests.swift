import Foundation
@testable import PlatformSecurity
import Synchronization
import Testing

@Suite("Password hashing with scrypt")
struct PasswordHasherTests {
    /// Cheap parameters (1 MiB, a few ms) so most tests stay fast; the format is the same.
    let fast: PasswordHasher

    init() throws {
        fast = PasswordHasher(parameters: try PasswordHasher.Parameters(logN: 10, r: 8, p: 1))
    }

    @Test("A hash verifies its own password and no other")
    func roundTrip() throws {
        let encoded = try fast.hash("correct horse battery staple")
        #expect(try fast.verify("correct horse battery staple", against: encoded))
        #expect(try !fast.verify("correct horse battery stapLe", against: encoded))
        #expect(try !fast.verify("", against: encoded))
    }

    @Test("The default hasher stores N=2^15, r=8, p=1, a 16-byte salt and a 32-byte key")
    func defaultFormat() async throws {
        let hasher = PasswordHasher()
        let encoded = try await hasher.hash("hunter2")
        let fields = encoded.split(separator: "$", omittingEmptySubsequences: false)
        #expect(fields.count == 5)
        #expect(encoded.hasPrefix("$scrypt$ln=15,r=8,p=1$"))
        #expect(fields.last?.count == 43)
        #expect(fields[3].count == 22)
        #expect(try await hasher.verify("hunter2", against: encoded))
        #expect(try await !hasher.verify("hunter3", against: encoded))
        #expect(!hasher.needsRehash(encoded))
    }

    @Test("Concurrent async hashing all completes, and each result verifies")
    func concurrentAsync() async throws {
        let hasher = fast
        let results = try await withThrowingTaskGroup(of: (String, String).self) { group in
            for index in 0..<8 {
                group.addTask { ("password \(index)", try await hasher.hash("password \(index)")) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count == 8)
        for (password, encoded) in results {
            #expect(try await fast.verify(password, against: encoded))
        }
    }

    @Test("A derivation that cannot finish in time is refused at once; one still queued when its deadline passes is dropped; one with time left runs")
    func deadlines() async throws {
        // A set of its own, one thread wide, that has learned a derivation takes about 100 ms.
        let threads = DerivationThreads(width: 1)
        try await threads.run { Thread.sleep(forTimeInterval: 0.1) }
        let release = DispatchSemaphore(value: 0)
        let started = StartCount()
        let blocker = Task {
            try await threads.run {
                started.count.withLock { $0 += 1 }
                release.wait()
            }
        }
        while started.count.withLock({ $0 }) < 1 { try await Task.sleep(for: .milliseconds(1)) }

        // 50 ms left and a thread busy for at least 100 ms: refused, not queued (queued, it would
        // wait for the release below and be dropped as late).
        let tooSoon = Task { try await threads.run(deadline: Date().addingTimeInterval(0.05)) { "computed" } }
        // Far enough for the estimate (about a mean and a half, however slow a loaded machine
        // made the 100 ms job) to admit it, and passed before the thread is freed.
        let lateDeadline = Date().addingTimeInterval(2)
        let late = Task { try await threads.run(deadline: lateDeadline) { "computed" } }
        let onTime = Task { try await threads.run(deadline: Date().addingTimeInterval(60)) { "computed" } }
        while Date() <= lateDeadline { try await Task.sleep(for: .milliseconds(5)) }
        release.signal()
        try await blocker.value
        let refused = await #expect(throws: SecurityError.self) { try await tooSoon.value }
        #expect(refused == .overloaded)
        let dropped = await #expect(throws: SecurityError.self) { try await late.value }
        #expect(dropped == .deadlinePassed)
        #expect(try await onTime.value == "computed")
    }

    @Test("The same password hashes differently each time (fresh salt)")
    func saltsDiffer() throws {
        #expect(try fast.hash("same") != fast.hash("same"))
    }

    @Test("Composed and decomposed accents are the same password")
    func unicodeNormalization() throws {
        let encoded = try fast.hash("caf\u{E9}")
        #expect(try fast.verify("cafe\u{301}", against: encoded))
    }

    @Test("A hash made with other parameters still verifies: parameters come from the hash")
    func parametersTravelWithTheHash() throws {
        let older = PasswordHasher(parameters: try PasswordHasher.Parameters(logN: 8, r: 4, p: 2, saltLength: 8))
        let encoded = try older.hash("pw")
        #expect(encoded.hasPrefix("$scrypt$ln=8,r=4,p=2$"))
        #expect(try fast.verify("pw", against: encoded))
    }

    @Test("Changing any part of a stored hash makes the right password fail")
    func tamperedFieldsFail() throws {
        let encoded = try fast.hash("pw")
        var fields = encoded.split(separator: "$", omittingEmptySubsequences: false).map(String.init)
        let original = fields

        fields[2] = "ln=11,r=8,p=1"
        #expect(try !fast.verify("pw", against: fields.joined(separator: "$")))

        fields = original
        fields[3] = replacingMiddleCharacter(of: fields[3])
        #expect(try !fast.verify("pw", against: fields.joined(separator: "$")))

        fields = original
        fields[4] = replacingMiddleCharacter(of: fields[4])
        #expect(try !fast.verify("pw", against: fields.joined(separator: "$")))
    }

    @Test(
        "Strings not in the format are refused as malformed",
        arguments: [
            "",
            "password",
            "$scrypt$ln=10,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA",
            "$bcrypt$ln=10,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U",
            "$scrypt$ln=10,r=8$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U",
            "$scrypt$r=8,ln=10,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U",
            "$scrypt$ln=010,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U",
            "$scrypt$ln=-1,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U",
            "$scrypt$ln=10,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA==$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U",
            "$scrypt$ln=10,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U$",
            "$scrypt$ln=10,r=8,p=1$c2Fsd!NhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U",
            "$scrypt$ln=10,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$" + String(repeating: "A", count: 300),
        ])
    func malformed(encoded: String) {
        #expect(throws: SecurityError.malformed) { try fast.verify("pw", against: encoded) }
        #expect(fast.needsRehash(encoded))
    }

    @Test(
        "Absurd parameters in a stored hash are refused before any work",
        arguments: [
            "ln=21,r=8,p=1",  // N above 2^20
            "ln=99,r=8,p=1",
            "ln=10,r=1024,p=1",  // r above 32
            "ln=10,r=8,p=64",  // p above 16
            "ln=20,r=16,p=1",  // 2 GiB of memory
            "ln=18,r=8,p=16",  // 2^25 work
            "ln=0,r=8,p=1",
            "ln=10,r=0,p=1",
        ])
    func absurdParameters(settings: String) {
        let encoded = "$scrypt$\(settings)$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"
        #expect(throws: SecurityError.invalidParameters) { try fast.verify("pw", against: encoded) }
    }

    @Test("Salts and keys of unreasonable length are refused")
    func unreasonableLengths() {
        let key = "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"
        #expect(throws: SecurityError.invalidParameters) {
            try fast.verify("pw", against: "$scrypt$ln=10,r=8,p=1$c2FsdA$\(key)")
        }
        #expect(throws: SecurityError.invalidParameters) {
            try fast.verify("pw", against: "$scrypt$ln=10,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5")
        }
    }

    @Test("Parameters beyond the limits cannot be configured")
    func configuredLimits() {
        #expect(throws: SecurityError.invalidParameters) { try PasswordHasher.Parameters(logN: 21, r: 8, p: 1) }
        #expect(throws: SecurityError.invalidParameters) { try PasswordHasher.Parameters(logN: 15, r: 64, p: 1) }
        #expect(throws: SecurityError.invalidParameters) { try PasswordHasher.Parameters(logN: 15, r: 8, p: 1, keyLength: 8) }
        #expect(throws: SecurityError.invalidParameters) { try PasswordHasher.Parameters(logN: 15, r: 8, p: 1, saltLength: 4) }
        #expect(throws: Never.self) { try PasswordHasher.Parameters(logN: 20, r: 8, p: 1) }
    }

    @Test("A hash made with ln=14 needs rehashing under the default ln=15; one made with ln=15 does not")
    func needsRehash() throws {
        let current = PasswordHasher()
        let weaker = PasswordHasher(parameters: try PasswordHasher.Parameters(logN: 14, r: 8, p: 1))
        let old = try weaker.hash("pw")
        #expect(current.needsRehash(old))
        #expect(!weaker.needsRehash(old))
        #expect(try current.verify("pw", against: old))

        #expect(!fast.needsRehash(old), "a stronger hash is kept")

        let shortSalt = PasswordHasher(parameters: try PasswordHasher.Parameters(logN: 10, r: 8, p: 1, saltLength: 8))
        #expect(fast.needsRehash(try shortSalt.hash("pw")), "same cost, shorter salt")
    }

    @Test("Descriptions show the parameters only")
    func description() {
        #expect(String(describing: PasswordHasher()) == "PasswordHasher(ln=15,r=8,p=1,key=32,salt=16)")
    }

    /// `text` with its middle character swapped for another base64 character, keeping it canonical.
    private func replacingMiddleCharacter(of text: String) -> String {
        var characters = Array(text)
        let middle = characters.count / 2
        characters[middle] = characters[middle] == "A" ? "B" : "A"
        return String(characters)
    }
}

/// How many blocking jobs have started on the derivation threads.
private final class StartCount: Sendable {
    let count = Mutex(0)
}
