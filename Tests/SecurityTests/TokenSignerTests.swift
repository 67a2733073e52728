import Foundation
import PlatformSecurity
import Testing

@Suite("HMAC-signed expiring tokens")
struct TokenSignerTests {
    let signer: TokenSigner
    let payload = Data(#"{"account":"a-42","purpose":"unsubscribe"}"#.utf8)
    let now = Date(timeIntervalSince1970: 1_750_000_000)

    init() throws {
        signer = try TokenSigner(key: SecureRandom.bytes(32))
    }

    @Test("A token gives back its payload until it expires")
    func roundTrip() throws {
        let token = try signer.sign(payload: payload, expiresAt: now + 3600)
        #expect(try signer.verify(token, now: now) == payload)
        #expect(try signer.verify(token, now: now + 3599) == payload)
        #expect(try signer.verify(signer.sign(payload: Data(), expiresAt: now + 1), now: now) == Data())
    }

    @Test("Tokens are three base64url fields, the middle one the expiry in decimal seconds")
    func format() throws {
        let token = try signer.sign(payload: payload, expiresAt: now + 60.9)
        let fields = token.split(separator: ".", omittingEmptySubsequences: false)
        #expect(fields.count == 3)
        #expect(token.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) })
        let expiry = try #require(Data(base64Encoded: String(fields[1]) + "=="))
        #expect(String(decoding: expiry, as: UTF8.self) == "1750000060")
    }

    @Test("At or after its expiry a token is expired")
    func expired() throws {
        let token = try signer.sign(payload: payload, expiresAt: now)
        #expect(throws: SecurityError.expired) { try signer.verify(token, now: now) }
        #expect(throws: SecurityError.expired) { try signer.verify(token, now: now + 86_400) }
        #expect(throws: SecurityError.expired) {
            try signer.verify(signer.sign(payload: payload, expiresAt: now - 1))
        }
    }

    @Test("A changed payload, expiry or MAC is an invalid signature")
    func tampered() throws {
        let token = try signer.sign(payload: payload, expiresAt: now + 60)
        let fields = token.split(separator: ".").map(String.init)

        let otherPayload = encode(Data(#"{"account":"a-43","purpose":"unsubscribe"}"#.utf8))
        #expect(throws: SecurityError.invalidSignature) {
            try signer.verify([otherPayload, fields[1], fields[2]].joined(separator: "."), now: now)
        }

        let laterExpiry = encode(Data("99999999999".utf8))
        #expect(throws: SecurityError.invalidSignature) {
            try signer.verify([fields[0], laterExpiry, fields[2]].joined(separator: "."), now: now)
        }

        let mac = try #require(decode(fields[2]))
        for offset in [0, 16, 31] {
            let forged = encode(flippingBit(of: mac, at: offset))
            #expect(throws: SecurityError.invalidSignature) {
                try signer.verify([fields[0], fields[1], forged].joined(separator: "."), now: now)
            }
        }
    }

    @Test("A token from another key is an invalid signature")
    func otherKey() throws {
        let other = try TokenSigner(key: SecureRandom.bytes(32))
        let token = try other.sign(payload: payload, expiresAt: now + 60)
        #expect(throws: SecurityError.invalidSignature) { try signer.verify(token, now: now) }
    }

    @Test(
        "Text not in the token format is malformed",
        arguments: [
            "",
            "abc",
            "abc.def",
            "abc.def.ghi.jkl",
            "..",
            "ab!c.MTc1MDAwMDA2MA.AAAA",
            "YWJj.MTc1MDAwMDA2MA==.AAAA",
            "YWJj.MTc1MDAwMDA2MA.A",
            "YWJj.MTc1MDAwMDA2MA.AAAA",
            "YWJj.MTc1MDAwMDA2MA.AAAA AAAA",
        ])
    func malformed(token: String) {
        #expect(throws: SecurityError.malformed) { try signer.verify(token, now: now) }
    }

    @Test("A correctly signed but non-numeric expiry is malformed")
    func nonNumericExpiry() throws {
        let key = SecureRandom.bytes(32)
        let signer = try TokenSigner(key: key)
        for expiry in ["soon", "", "0123", "-5", "+5", "1e9"] {
            let signed = encode(payload) + "." + encode(Data(expiry.utf8))
            let token = signed + "." + encode(HMAC.sha256(key: key, message: Data(signed.utf8)))
            #expect(throws: SecurityError.malformed, "expiry \(expiry)") { try signer.verify(token, now: now) }
        }
    }

    @Test("Oversized tokens are refused before any work, and cannot be issued")
    func oversized() throws {
        let huge = String(repeating: "A", count: TokenSigner.maximumTokenLength + 1)
        #expect(throws: SecurityError.malformed) { try signer.verify(huge, now: now) }
        #expect(throws: SecurityError.invalidParameters) {
            try signer.sign(payload: Data(count: TokenSigner.maximumTokenLength), expiresAt: now)
        }
        let largest = try signer.sign(payload: Data(count: 6000), expiresAt: now + 60)
        #expect(try signer.verify(largest, now: now).count == 6000)
    }

    @Test("Short keys and pre-1970 expiry times are refused")
    func invalidParameters() throws {
        #expect(throws: SecurityError.invalidParameters) { try TokenSigner(key: Data(count: 16)) }
        #expect(throws: SecurityError.invalidParameters) {
            try signer.sign(payload: payload, expiresAt: Date(timeIntervalSince1970: -10))
        }
    }

    @Test("The description never shows the key")
    func description() throws {
        let signer = try TokenSigner(key: Data(repeating: 0x61, count: 32))
        #expect(!String(describing: signer).contains("aaaa"))
    }

    private func encode(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    private func decode(_ text: String) -> Data? {
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while standard.count % 4 != 0 {
            standard += "="
        }
        return Data(base64Encoded: standard)
    }
}
