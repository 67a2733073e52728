import Foundation
import PlatformSecurity
import Testing

@Suite("Sealing with AES-256-GCM under a key ring")
struct KeyRingTests {
    let ring: KeyRing
    let plaintext = Data("tax id 123-45-6789".utf8)

    init() throws {
        ring = try KeyRing(current: SealingKey.generate(id: "2025-01"))
    }

    @Test("Sealed data opens to the plaintext, and names its key")
    func roundTrip() throws {
        let sealed = try ring.seal(plaintext, associatedData: Data("account 42".utf8))
        #expect(try ring.open(sealed, associatedData: Data("account 42".utf8)) == plaintext)
        #expect(try KeyRing.keyID(of: sealed) == "2025-01")
        #expect(try ring.open(ring.seal(Data())) == Data())
    }

    @Test("The sealed format is version, key id, nonce, ciphertext, tag")
    func format() throws {
        let sealed = [UInt8](try ring.seal(plaintext))
        #expect(sealed[0] == 1)
        #expect(Int(sealed[1]) == "2025-01".utf8.count)
        #expect(String(decoding: sealed[2..<9], as: UTF8.self) == "2025-01")
        #expect(sealed.count == 2 + 7 + 12 + plaintext.count + 16)
        #expect(!sealed.indices.contains { sealed[$0...].starts(with: plaintext) }, "no plaintext in the output")
    }

    @Test("Sealing the same plaintext twice gives different output (fresh nonce)")
    func freshNonces() throws {
        #expect(try ring.seal(plaintext) != ring.seal(plaintext))
    }

    @Test("Any flipped bit in the nonce, ciphertext or tag fails authentication")
    func tamperedBody() throws {
        let sealed = try ring.seal(plaintext)
        for offset in (2 + 7)..<sealed.count {
            #expect(throws: SecurityError.authenticationFailed, "offset \(offset)") {
                try ring.open(flippingBit(of: sealed, at: offset))
            }
        }
    }

    @Test("A flipped bit anywhere never opens")
    func tamperedAnywhere() throws {
        let sealed = try ring.seal(plaintext)
        for offset in 0..<sealed.count {
            #expect(throws: SecurityError.self, "offset \(offset)") { try ring.open(flippingBit(of: sealed, at: offset)) }
        }
    }

    @Test("Wrong associated data fails authentication")
    func wrongAssociatedData() throws {
        let sealed = try ring.seal(plaintext, associatedData: Data("account 42".utf8))
        #expect(throws: SecurityError.authenticationFailed) {
            try ring.open(sealed, associatedData: Data("account 43".utf8))
        }
        #expect(throws: SecurityError.authenticationFailed) { try ring.open(sealed) }
    }

    @Test("Data sealed under a key the ring lacks is an unknown key")
    func unknownKey() throws {
        let other = try KeyRing(current: SealingKey.generate(id: "elsewhere"))
        #expect(throws: SecurityError.unknownKey) { try ring.open(other.seal(plaintext)) }
    }

    @Test("Relabelling sealed data with another held key's id fails authentication")
    func relabelled() throws {
        let first = try SealingKey.generate(id: "key-a")
        let second = try SealingKey.generate(id: "key-b")
        let ring = try KeyRing(current: first, previous: [second])
        var sealed = [UInt8](try ring.seal(plaintext))
        sealed[2 + 4] = UInt8(ascii: "b")
        #expect(throws: SecurityError.authenticationFailed) { try ring.open(Data(sealed)) }
    }

    @Test("Truncated or empty input is malformed")
    func truncated() throws {
        let sealed = try ring.seal(plaintext)
        // Down to header + nonce + 16 bytes, the cut input is still long enough to parse and fails its tag.
        for length in 0..<(2 + 7 + 12 + 16) {
            #expect(throws: SecurityError.malformed, "length \(length)") { try ring.open(sealed.prefix(length)) }
        }
        #expect(throws: SecurityError.authenticationFailed) { try ring.open(sealed.dropLast()) }
    }

    @Test("An unknown format version is malformed")
    func unknownVersion() throws {
        var sealed = try ring.seal(plaintext)
        sealed[sealed.startIndex] = 2
        #expect(throws: SecurityError.malformed) { try ring.open(sealed) }
        #expect(throws: SecurityError.malformed) { try KeyRing.keyID(of: sealed) }
    }

    @Test("After rotation, new data uses the new key and old data still opens")
    func rotation() throws {
        let old = try ring.seal(plaintext)
        let rotated = try ring.rotated(to: SealingKey.generate(id: "2025-07"))
        let new = try rotated.seal(plaintext)
        #expect(rotated.current.id == "2025-07")
        #expect(rotated.keyIDs == ["2025-01", "2025-07"])
        #expect(try KeyRing.keyID(of: new) == "2025-07")
        #expect(try rotated.open(old) == plaintext)
        #expect(try rotated.open(new) == plaintext)
        #expect(throws: SecurityError.unknownKey) { try ring.open(new) }
    }

    @Test("Key ids must be unique within a ring")
    func duplicateIDs() throws {
        let key = try SealingKey.generate(id: "same")
        #expect(throws: SecurityError.invalidParameters) { try KeyRing(current: key, previous: [key]) }
        #expect(throws: SecurityError.invalidParameters) { try ring.rotated(to: SealingKey.generate(id: "2025-01")) }
    }

    @Test("Key ids and material are checked")
    func keyValidation() throws {
        #expect(throws: SecurityError.invalidParameters) { try SealingKey.generate(id: "") }
        #expect(throws: SecurityError.invalidParameters) {
            try SealingKey.generate(id: String(repeating: "k", count: 256))
        }
        #expect(throws: SecurityError.invalidParameters) { try SealingKey(id: "k", material: Data(count: 16)) }
        let longest = try SealingKey.generate(id: String(repeating: "k", count: 255))
        let ring = try KeyRing(current: longest)
        #expect(try ring.open(ring.seal(plaintext)) == plaintext)
    }

    @Test("A key restored from its material opens what the original sealed")
    func restoredKey() throws {
        let restored = try KeyRing(current: SealingKey(id: ring.current.id, material: ring.current.material))
        #expect(try restored.open(ring.seal(plaintext)) == plaintext)
    }

    @Test("Descriptions name key ids, never material")
    func descriptions() throws {
        let key = try SealingKey(id: "k1", material: Data(repeating: 0xAB, count: 32))
        let text = String(describing: key) + String(describing: try KeyRing(current: key))
        #expect(text.contains("k1"))
        #expect(!text.lowercased().contains("abab"))
        #expect(!text.contains("32 bytes"))
    }
}
