import Foundation
import PlatformSecurity

/// The signed token of an unsubscribe link (RFC 8058): it names the account and the consent it
/// withdraws, and holds for `lifetime`, so a message read months later still lets its reader out.
struct UnsubscribeLinks: Sendable {
    let signer: TokenSigner
    static let lifetime: TimeInterval = 400 * 86_400

    func token(for account: UUID, consent: String, now: Date = Date()) throws -> String {
        try signer.sign(payload: Data("unsubscribe:\(consent):\(account.uuidString.lowercased())".utf8), expiresAt: now + Self.lifetime)
    }

    /// The account and consent of a genuine, unexpired token; nil for any other text.
    func read(_ token: String) -> (account: UUID, consent: String)? {
        guard let payload = try? signer.verify(token) else { return nil }
        let parts = String(decoding: payload, as: UTF8.self).split(separator: ":")
        guard parts.count == 3, parts[0] == "unsubscribe", let account = UUID(uuidString: String(parts[2])) else { return nil }
        return (account, String(parts[1]))
    }
}
