import Foundation
import PlatformSecurity
import Testing

@Suite("Random bytes, constant-time comparison, hex and SHA-256")
struct PrimitivesTests {
    @Test("SecureRandom returns exactly the bytes asked for", arguments: [0, 1, 12, 16, 32, 1000])
    func randomLengths(count: Int) {
        #expect(SecureRandom.bytes(count).count == count)
    }

    @Test("Two draws of random bytes differ")
    func randomDrawsDiffer() {
        #expect(SecureRandom.bytes(32) != SecureRandom.bytes(32))
        #expect(SecureRandom.token() != SecureRandom.token())
    }

    @Test("Random tokens are unpadded base64url of the requested size")
    func tokenShape() {
        let token = SecureRandom.token()
        #expect(token.count == 43)
        #expect(token.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
        #expect(SecureRandom.token(bytes: 16).count == 22)
    }

    @Test("ConstantTime.equals compares content and length")
    func constantTimeEquals() {
        let value = Data("correct horse".utf8)
        #expect(ConstantTime.equals(value, Data("correct horse".utf8)))
        #expect(!ConstantTime.equals(value, Data("correct horsf".utf8)))
        #expect(!ConstantTime.equals(value, Data("Correct horse".utf8)))
        #expect(!ConstantTime.equals(value, Data("correct hors".utf8)))
        #expect(!ConstantTime.equals(value, Data()))
        #expect(ConstantTime.equals(Data(), Data()))
    }

    @Test("ConstantTime.equals works on slices")
    func constantTimeSlices() {
        let data = Data("xxabcxx".utf8)
        #expect(ConstantTime.equals(data[2..<5], Data("abc".utf8)))
    }

    @Test("Hex round-trips and rejects what is not hex")
    func hex() throws {
        let data = Data([0x00, 0x01, 0x7F, 0x80, 0xAB, 0xFF])
        #expect(Hex.encode(data) == "00017f80abff")
        #expect(Hex.decode("00017F80ABff") == data)
        #expect(Hex.decode("") == Data())
        #expect(Hex.decode("abc") == nil)
        #expect(Hex.decode("zz") == nil)
        #expect(Hex.decode("0x12") == nil)
    }

    @Test(
        "SHA-256 matches the FIPS 180-2 examples",
        arguments: [
            ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            (
                "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
            ),
        ])
    func sha256(message: String, digest: String) {
        #expect(Hex.encode(SHA256.hash(Data(message.utf8))) == digest)
    }
}
