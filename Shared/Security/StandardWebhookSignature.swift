public import Foundation

/// Standard Webhooks v1 (standardwebhooks.com): a message is signed as
/// `v1,<base64 HMAC-SHA256(key, "<webhook-id>.<webhook-timestamp>.<body>")>` under the key a
/// `whsec_<base64 key>` secret holds; during a rotation each secret's signature is given,
/// space-separated. The platform signs the webhooks partners receive this way, and checks the
/// credential verifier's this way.
public enum StandardWebhookSignature {
    /// A new secret: `whsec_` and 24 random bytes in base64.
    public static func newSecret() -> String {
        "whsec_" + SecureRandom.bytes(24).base64EncodedString()
    }

    /// The HMAC key a `whsec_` secret holds; nil for anything else.
    public static func key(of secret: String) -> Data? {
        guard secret.hasPrefix("whsec_"), let key = Data(base64Encoded: String(secret.dropFirst(6))), !key.isEmpty else { return nil }
        return key
    }

    /// The `webhook-signature` value: one signature per secret, space-separated.
    public static func signature(id: String, timestamp: Int, body: Data, secrets: [String]) -> String {
        secrets.compactMap { key(of: $0) }.map { "v1," + mac(id: id, timestamp: timestamp, body: body, key: $0).base64EncodedString() }
            .joined(separator: " ")
    }

    /// Whether `signatures` (a `webhook-signature` value) holds a signature of `body` under
    /// `secret`, with a timestamp within `tolerance` of `now`, so a captured delivery cannot be
    /// replayed later.
    public static func isValid(
        id: String, timestamp: String, signatures: String, body: Data, secret: String, tolerance: TimeInterval = 300,
        now: Date = Date()
    ) -> Bool {
        guard let key = key(of: secret), !id.isEmpty, id.utf8.count <= 256, let seconds = Int(timestamp),
            abs(now.timeIntervalSince1970 - TimeInterval(seconds)) <= tolerance
        else { return false }
        let expected = mac(id: id, timestamp: seconds, body: body, key: key)
        let given = signatures.split(separator: " ").prefix(8).compactMap { part -> Data? in
            guard part.hasPrefix("v1,") else { return nil }
            return Data(base64Encoded: String(part.dropFirst(3)))
        }
        // Every candidate is compared, in constant time each.
        return given.reduce(false) { found, signature in ConstantTime.equals(signature, expected) || found }
    }

    private static func mac(id: String, timestamp: Int, body: Data, key: Data) -> Data {
        var signed = Data("\(id).\(timestamp).".utf8)
        signed.append(body)
        return HMAC.sha256(key: key, message: signed)
    }
}
