public import Foundation

/// The payment processor's webhook signature (Stripe's scheme): the header
/// `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, possibly with several `v1`
/// values while the processor rolls its secret. A receiver checks it before reading anything
/// else of the request, and refuses a timestamp further than `tolerance` from its clock, so a
/// captured delivery cannot be replayed later.
public enum WebhookSignature {
    /// The header value that signs `body` at `time`.
    public static func header(for body: Data, secret: String, at time: Date = Date()) -> String {
        let timestamp = Int(time.timeIntervalSince1970)
        return "t=\(timestamp),v1=\(Hex.encode(mac(body, timestamp: timestamp, secret: secret)))"
    }

    /// Whether `header` signs `body` with `secret` within `tolerance` of `now`.
    public static func isValid(
        _ header: String, body: Data, secret: String, tolerance: TimeInterval = 300, now: Date = Date()
    ) -> Bool {
        var timestamp: Int?
        var signatures: [Data] = []
        for part in header.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2 else { continue }
            switch pair[0] {
            case "t": timestamp = Int(pair[1])
            case "v1": if let signature = Hex.decode(pair[1]) { signatures.append(signature) }
            default: continue
            }
        }
        guard let timestamp, !signatures.isEmpty, signatures.count <= 8,
            abs(now.timeIntervalSince1970 - TimeInterval(timestamp)) <= tolerance
        else { return false }
        let expected = mac(body, timestamp: timestamp, secret: secret)
        // Every candidate is compared, in constant time each.
        return signatures.reduce(false) { found, signature in ConstantTime.equals(signature, expected) || found }
    }

    private static func mac(_ body: Data, timestamp: Int, secret: String) -> Data {
        var message = Data("\(timestamp).".utf8)
        message.append(body)
        return HMAC.sha256(key: Data(secret.utf8), message: message)
    }
}
