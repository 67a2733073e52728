import Foundation
import PlatformSecurity
import Testing

@Suite("scrypt against RFC 7914 §12")
struct ScryptTests {
    @Test("P=\"\", S=\"\", N=16, r=1, p=1")
    func emptyPasswordAndSalt() throws {
        let key = try Scrypt.derive(password: Data(), salt: Data(), n: 16, r: 1, p: 1, length: 64)
        #expect(
            Hex.encode(key)
                == "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442"
                + "fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906")
    }

    @Test("P=\"password\", S=\"NaCl\", N=1024, r=8, p=16")
    func password() throws {
        let key = try Scrypt.derive(
            password: Data("password".utf8), salt: Data("NaCl".utf8), n: 1024, r: 8, p: 16, length: 64)
        #expect(
            Hex.encode(key)
                == "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162"
                + "2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640")
    }

    @Test("P=\"pleaseletmein\", S=\"SodiumChloride\", N=16384, r=8, p=1 (above libcrypto's default memory cap)")
    func pleaseLetMeIn() throws {
        let key = try Scrypt.derive(
            password: Data("pleaseletmein".utf8), salt: Data("SodiumChloride".utf8), n: 16384, r: 8, p: 1,
            length: 64)
        #expect(
            Hex.encode(key)
                == "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2"
                + "d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887")
    }

    @Test(
        "Parameters scrypt does not define are refused",
        arguments: [
            (n: UInt64(0), r: UInt64(1), p: UInt64(1), length: 32),
            (n: 1, r: 1, p: 1, length: 32),
            (n: 1000, r: 1, p: 1, length: 32),
            (n: 16, r: 0, p: 1, length: 32),
            (n: 16, r: 1, p: 0, length: 32),
            (n: 16, r: 1, p: 1, length: 0),
            (n: 1 << 62, r: 1 << 40, p: 1, length: 32),
        ])
    func invalid(n: UInt64, r: UInt64, p: UInt64, length: Int) {
        #expect(throws: SecurityError.invalidParameters) {
            try Scrypt.derive(password: Data("pw".utf8), salt: Data("salt".utf8), n: n, r: r, p: p, length: length)
        }
    }
}
