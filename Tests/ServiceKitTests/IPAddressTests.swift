import Foundation
import Models
import ServiceKit
import Testing

@Suite("Addresses and text checks")
struct IPAddressTests {
    @Test("IPv4 and IPv6 parse to one canonical form; an IPv4-mapped IPv6 address is the IPv4 address")
    func parsing() throws {
        #expect(IPAddress("192.0.2.1")?.description == "192.0.2.1")
        #expect(IPAddress("2001:DB8:0:0::1")?.description == "2001:db8::1")
        #expect(IPAddress("::ffff:192.0.2.1") == IPAddress("192.0.2.1"))
        for bad in ["", "192.0.2", "192.0.2.256", "[::1]", "fe80::1%eth0", "example.com", "1.2.3.4 "] {
            #expect(IPAddress(bad) == nil, "\(bad) refused")
        }
    }

    @Test("rate limits count an IPv6 client by its /64 and an IPv4 client by its address")
    func rateLimitKeys() {
        #expect(IPAddress.rateLimitKey("2001:db8:1:2:aaaa::1") == IPAddress.rateLimitKey("2001:db8:1:2:bbbb::2"))
        #expect(IPAddress.rateLimitKey("2001:db8:1:2::1") == "2001:db8:1:2::/64")
        #expect(IPAddress.rateLimitKey("2001:db8:1:3::1") != IPAddress.rateLimitKey("2001:db8:1:2::1"))
        #expect(IPAddress.rateLimitKey("192.0.2.1") != IPAddress.rateLimitKey("192.0.2.2"))
        #expect(IPAddress.rateLimitKey("unknown") == "unknown")
    }

    @Test("a block contains exactly the addresses under its prefix, never across families")
    func networks() throws {
        let block = try #require(IPNetwork("10.1.0.0/16"))
        #expect(block.contains(IPAddress("10.1.255.7")!))
        #expect(!block.contains(IPAddress("10.2.0.1")!))
        let odd = try #require(IPNetwork("192.0.2.128/25"))
        #expect(odd.contains(IPAddress("192.0.2.200")!))
        #expect(!odd.contains(IPAddress("192.0.2.127")!))
        let single = try #require(IPNetwork("127.0.0.1"))
        #expect(single.contains(IPAddress("127.0.0.1")!) && !single.contains(IPAddress("127.0.0.2")!))
        #expect(IPNetwork("2001:db8::/32")!.contains(IPAddress("2001:db8:ffff::1")!))
        #expect(!IPNetwork("0.0.0.0/0")!.contains(IPAddress("::1")!))
        for bad in ["10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/", "::/129", "nonsense/8", "10.0.0.0/8x"] {
            #expect(IPNetwork(bad) == nil, "\(bad) refused")
        }
    }

    @Test("a NUL anywhere in JSON text is found; an escaped backslash before u0000 is not a NUL")
    func nulInJSON() {
        #expect(JSONText.containsNUL(Data(#"{"email":"a\u0000@b.c"}"#.utf8)))
        #expect(JSONText.containsNUL(Data([0x7B, 0x00, 0x7D])))
        #expect(!JSONText.containsNUL(Data(#"{"text":"\\u0000 is how JSON writes NUL"}"#.utf8)))
        #expect(JSONText.containsNUL(Data(#"{"text":"\\\u0000"}"#.utf8)))
        #expect(JSONText.containsNUL(Data(#"{"a":"\u00001"}"#.utf8)))
        #expect(!JSONText.containsNUL(Data(#"{"a":"\u0001 \n \""}"#.utf8)))
    }
}
