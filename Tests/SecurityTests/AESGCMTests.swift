import Foundation
import PlatformSecurity
import Testing

/// One test case from McGrew and Viega, "The Galois/Counter Mode of Operation (GCM)", appendix B.
struct GCMVector: Sendable, CustomTestStringConvertible {
    let testCase: Int
    let key: String
    let nonce: String
    let plaintext: String
    let aad: String
    let ciphertext: String
    let tag: String
    var testDescription: String { "gcm-spec test case \(testCase)" }
}

private let zeroKey = String(repeating: "00", count: 32)
private let specKey = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"
private let specPlaintext =
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
    + "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255"
private let specCiphertext =
    "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
    + "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad"

/// The 256-bit-key cases with 96-bit nonces (13–16); 17 and 18 use nonces of other lengths.
let gcmSpec: [GCMVector] = [
    GCMVector(
        testCase: 13, key: zeroKey, nonce: String(repeating: "00", count: 12), plaintext: "", aad: "",
        ciphertext: "", tag: "530f8afbc74536b9a963b4f1c4cb738b"),
    GCMVector(
        testCase: 14, key: zeroKey, nonce: String(repeating: "00", count: 12),
        plaintext: String(repeating: "00", count: 16), aad: "",
        ciphertext: "cea7403d4d606b6e074ec5d3baf39d18", tag: "d0d1c8a799996bf0265b98b5d48ab919"),
    GCMVector(
        testCase: 15, key: specKey, nonce: "cafebabefacedbaddecaf888", plaintext: specPlaintext, aad: "",
        ciphertext: specCiphertext, tag: "b094dac5d93471bdec1a502270e3cc6c"),
    GCMVector(
        testCase: 16, key: specKey, nonce: "cafebabefacedbaddecaf888",
        plaintext: String(specPlaintext.dropLast(8)), aad: "feedfacedeadbeeffeedfacedeadbeefabaddad2",
        ciphertext: String(specCiphertext.dropLast(8)), tag: "76fc6ece0f4e1768cddf8853bb2d551b"),
]

@Suite("AES-256-GCM against the GCM specification's vectors")
struct AESGCMTests {
    @Test("Sealing produces the published ciphertext and tag", arguments: gcmSpec)
    func seal(vector: GCMVector) throws {
        let (ciphertext, tag) = try AESGCM.seal(
            key: bytes(vector.key), nonce: bytes(vector.nonce), plaintext: bytes(vector.plaintext),
            aad: bytes(vector.aad))
        #expect(Hex.encode(ciphertext) == vector.ciphertext)
        #expect(Hex.encode(tag) == vector.tag)
    }

    @Test("Opening the published ciphertext gives back the plaintext", arguments: gcmSpec)
    func open(vector: GCMVector) throws {
        let plaintext = try AESGCM.open(
            key: bytes(vector.key), nonce: bytes(vector.nonce), ciphertext: bytes(vector.ciphertext),
            tag: bytes(vector.tag), aad: bytes(vector.aad))
        #expect(Hex.encode(plaintext) == vector.plaintext)
    }

    @Test("A changed ciphertext, tag, nonce or associated data is refused", arguments: [gcmSpec[3]])
    func tampering(vector: GCMVector) throws {
        let key = try bytes(vector.key)
        let nonce = try bytes(vector.nonce)
        let ciphertext = try bytes(vector.ciphertext)
        let tag = try bytes(vector.tag)
        let aad = try bytes(vector.aad)
        #expect(throws: SecurityError.authenticationFailed) {
            try AESGCM.open(key: key, nonce: nonce, ciphertext: flippingBit(of: ciphertext, at: 5), tag: tag, aad: aad)
        }
        #expect(throws: SecurityError.authenticationFailed) {
            try AESGCM.open(key: key, nonce: nonce, ciphertext: ciphertext, tag: flippingBit(of: tag, at: 15), aad: aad)
        }
        #expect(throws: SecurityError.authenticationFailed) {
            try AESGCM.open(key: key, nonce: flippingBit(of: nonce, at: 0), ciphertext: ciphertext, tag: tag, aad: aad)
        }
        #expect(throws: SecurityError.authenticationFailed) {
            try AESGCM.open(key: key, nonce: nonce, ciphertext: ciphertext, tag: tag, aad: Data())
        }
        #expect(throws: SecurityError.authenticationFailed) {
            try AESGCM.open(key: flippingBit(of: key, at: 31), nonce: nonce, ciphertext: ciphertext, tag: tag, aad: aad)
        }
    }

    @Test("Keys, nonces and tags of the wrong size are refused")
    func sizes() {
        let key = Data(count: 32)
        let nonce = Data(count: 12)
        #expect(throws: SecurityError.invalidParameters) {
            try AESGCM.seal(key: Data(count: 16), nonce: nonce, plaintext: Data())
        }
        #expect(throws: SecurityError.invalidParameters) {
            try AESGCM.seal(key: key, nonce: Data(count: 8), plaintext: Data())
        }
        #expect(throws: SecurityError.invalidParameters) {
            try AESGCM.open(key: key, nonce: nonce, ciphertext: Data(), tag: Data(count: 12))
        }
    }
}
