import Foundation
import PlatformSecurity
import Testing

/// The processor's webhook signature: what a receiver accepts and refuses.
@Suite struct WebhookSignatureTests {
    let body = Data(#"{"id":"evt_1","type":"payment_intent.succeeded"}"#.utf8)
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test("a body signed with the secret within the tolerance is accepted")
    func accepted() {
        let header = WebhookSignature.header(for: body, secret: "whsec_a", at: now.addingTimeInterval(-299))
        #expect(WebhookSignature.isValid(header, body: body, secret: "whsec_a", now: now))
    }

    @Test("the header is Stripe's: t and a hex HMAC-SHA256 of \"t.body\"")
    func knownValue() {
        let header = WebhookSignature.header(for: Data("{}".utf8), secret: "whsec_test", at: Date(timeIntervalSince1970: 1_700_000_000))
        // HMAC-SHA256("whsec_test", "1700000000.{}"), computed with Python's hmac module.
        #expect(header == "t=1700000000,v1=35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91")
    }

    @Test("another body, another secret, an old or future timestamp, or no signature: refused")
    func refused() {
        let header = WebhookSignature.header(for: body, secret: "whsec_a", at: now)
        #expect(!WebhookSignature.isValid(header, body: body + Data(" ".utf8), secret: "whsec_a", now: now))
        #expect(!WebhookSignature.isValid(header, body: body, secret: "whsec_b", now: now))
        #expect(!WebhookSignature.isValid(header, body: body, secret: "whsec_a", now: now.addingTimeInterval(301)))
        #expect(!WebhookSignature.isValid(header, body: body, secret: "whsec_a", now: now.addingTimeInterval(-301)))
        #expect(!WebhookSignature.isValid("t=\(Int(now.timeIntervalSince1970))", body: body, secret: "whsec_a", now: now))
        #expect(!WebhookSignature.isValid("", body: body, secret: "whsec_a", now: now))
        #expect(!WebhookSignature.isValid("v1=" + (header.split(separator: "=").last ?? ""), body: body, secret: "whsec_a", now: now))
    }

    @Test("while the secret rolls, any one matching v1 among several is enough")
    func rollingSecrets() {
        let old = WebhookSignature.header(for: body, secret: "whsec_old", at: now)
        let new = WebhookSignature.header(for: body, secret: "whsec_new", at: now)
        let both = old + "," + new.split(separator: ",")[1]
        #expect(WebhookSignature.isValid(both, body: body, secret: "whsec_new", now: now))
        #expect(WebhookSignature.isValid(both, body: body, secret: "whsec_old", now: now))
    }
}
