import Foundation
import Models
import PlatformSecurity
import ServiceKit
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// How webhooks go out to partners.
struct WebhookSettings: Sendable {
    /// The wait before each attempt, the first being the immediate one
    /// (`INTEGRATION_WEBHOOK_RETRY_SECONDS`): Standard Webhooks' schedule over about three days,
    /// after which a delivery has failed for good.
    var retrySchedule: [Int]
    /// How long one attempt may take (`INTEGRATION_WEBHOOK_TIMEOUT_SECONDS`, 15).
    var timeoutSeconds: Int
    /// Whether endpoints may be on private, loopback or link-local addresses
    /// (`INTEGRATION_WEBHOOK_ALLOW_PRIVATE=1`: local runs and tests only; otherwise a partner could
    /// point a webhook at our own network).
    var allowPrivateAddresses: Bool
    /// Attempts in flight at once on each instance (`INTEGRATION_WEBHOOK_CONCURRENCY`, 64).
    var concurrency: Int
    /// An endpoint whose every attempt has failed this long is disabled
    /// (`INTEGRATION_WEBHOOK_DISABLE_AFTER_HOURS`, 120).
    var disableAfterSeconds: Int
    /// How long a rotated-out secret still signs beside the new one.
    var rotationOverlapSeconds = 24 * 3600

    static let standardSchedule = [0, 5, 300, 1800, 7200, 18_000, 36_000, 50_400, 72_000, 86_400]

    init(reading reader: inout ConfigReader) {
        let schedule = reader.list("INTEGRATION_WEBHOOK_RETRY_SECONDS")
        if schedule.isEmpty {
            retrySchedule = Self.standardSchedule
        } else {
            retrySchedule = schedule.compactMap { Int($0) }.filter { (0...604_800).contains($0) }
            if retrySchedule.count != schedule.count || retrySchedule.count > 20 {
                reader.problem("INTEGRATION_WEBHOOK_RETRY_SECONDS must be 1 to 20 waits in seconds (0 to 604800), comma-separated")
                retrySchedule = Self.standardSchedule
            }
        }
        timeoutSeconds = reader.int("INTEGRATION_WEBHOOK_TIMEOUT_SECONDS", default: 15, in: 1...60)
        allowPrivateAddresses = reader.int("INTEGRATION_WEBHOOK_ALLOW_PRIVATE", default: 0, in: 0...1) == 1
        concurrency = reader.int("INTEGRATION_WEBHOOK_CONCURRENCY", default: 64, in: 1...1024)
        disableAfterSeconds = 3600 * reader.int("INTEGRATION_WEBHOOK_DISABLE_AFTER_HOURS", default: 120, in: 1...8760)
    }

    /// The wait before the next attempt once `attempts` have been made; nil when none is left.
    func wait(after attempts: Int) -> Int? {
        attempts < retrySchedule.count ? retrySchedule[attempts] : nil
    }
}

/// The webhooks partners receive: their event types, ids and bodies (signed with
/// `StandardWebhookSignature`).
enum StandardWebhooks {
    /// The event types partners may subscribe to.
    static let eventTypes = ["advisor.status-changed", "grant.revoked", ReferralConversions.eventType]
    /// What `POST …/test` sends: every endpoint takes it, whatever it subscribed to.
    static let testEventType = "webhook.test"

    /// A message id, the `webhook-id` header: `msg_` and 16 random bytes, URL-safe.
    static func messageId() -> String {
        "msg_" + SecureRandom.token(bytes: 16)
    }

    /// A message body: `{"type", "timestamp", "data"}`, as Standard Webhooks recommends.
    static func body(type: String, at: Date, data: some Encodable & Sendable) throws -> String {
        String(decoding: try WireCoding.encoder().encode(Body(type: type, timestamp: at, data: data)), as: UTF8.self)
    }

    private struct Body<Payload: Encodable & Sendable>: Encodable, Sendable {
        var type: String
        var timestamp: Date
        var data: Payload
    }
}

/// Which webhook URLs may be used: `http(s)://host[:port]/path` without credentials, and (unless
/// private addresses are allowed) only hosts whose every address is public, so a partner cannot
/// make us call into our own network. Checked when the endpoint is saved and again before every
/// attempt, as a name may resolve elsewhere later.
enum WebhookAddressPolicy {
    /// Loopback, private, shared, link-local, multicast and reserved blocks, IPv4 and IPv6 (with
    /// the NAT64, Teredo and 6to4 prefixes, which can carry an IPv4 address inside).
    static let forbidden: [IPNetwork] = [
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24",
        "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4", "240.0.0.0/4", "::/128", "::1/128", "64:ff9b::/96", "2001::/32",
        "2002::/16", "fc00::/7", "fe80::/10", "ff00::/8",
    ].compactMap { IPNetwork($0) }

    enum Refusal: String, Error {
        /// Not an http(s) URL of at most 2,000 characters with a host and no credentials.
        case invalid
        /// The host names no address.
        case hostNotFound = "host_not_found"
        /// The host has a private, loopback or link-local address.
        case addressNotAllowed = "address_not_allowed"
    }

    /// The URL's syntax (the partner API's document gives the same pattern: http(s), a host name or
    /// an IPv4 address, an optional port, path and query; no credentials, fragment, percent-escapes
    /// or IPv6 literals, which schemathesis cannot generate); its host when fine.
    static func host(of text: String) throws(Refusal) -> String {
        let shape = /https?:\/\/[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:[0-9]{1,5})?(\/[A-Za-z0-9._~!$&'()*+,;=:@\/-]*)?(\?[A-Za-z0-9._~!$&'()*+,;=:@\/?-]*)?/
        guard text.utf8.count <= 2000, text.wholeMatch(of: shape) != nil, let host = URLComponents(string: text)?.host, !host.isEmpty
        else { throw .invalid }
        return host
    }

    /// Checks `text` as the policy says (the name resolved on a thread of its own, never the pool's).
    static func check(_ text: String, allowPrivate: Bool) async throws(Refusal) {
        let host = try host(of: text)
        guard !allowPrivate else { return }
        let addresses: [IPAddress]
        if let literal = IPAddress(host) {
            addresses = [literal]
        } else {
            addresses = await resolve(host)
        }
        guard !addresses.isEmpty else { throw .hostNotFound }
        guard addresses.allSatisfy({ address in !forbidden.contains { $0.contains(address) } }) else { throw .addressNotAllowed }
    }

    /// Every address `host` resolves to, or none if that takes longer than `timeout`
    /// (`getaddrinfo` blocks, so it runs on a thread of its own, which is left to finish alone).
    static func resolve(_ host: String, timeout: Duration = .seconds(5)) async -> [IPAddress] {
        let waiting = Mutex<CheckedContinuation<[IPAddress], Never>?>(nil)
        let finish: @Sendable ([IPAddress]) -> Void = { addresses in
            let continuation = waiting.withLock { waiting in
                defer { waiting = nil }
                return waiting
            }
            continuation?.resume(returning: addresses)
        }
        return await withCheckedContinuation { continuation in
            waiting.withLock { $0 = continuation }
            Task {
                try? await Task.sleep(for: timeout)
                finish([])
            }
            Thread.detachNewThread { finish(lookUp(host)) }
        }
    }

    /// `getaddrinfo`, blocking.
    private static func lookUp(_ host: String) -> [IPAddress] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0 else { return [] }
        defer { freeaddrinfo(list) }
        var found: [IPAddress] = []
        var entry = list
        while let info = entry?.pointee {
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            if info.ai_family == AF_INET, let address = info.ai_addr {
                address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                    var raw = pointer.pointee.sin_addr
                    _ = inet_ntop(AF_INET, &raw, &text, socklen_t(text.count))
                }
            } else if info.ai_family == AF_INET6, let address = info.ai_addr {
                address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                    var raw = pointer.pointee.sin6_addr
                    _ = inet_ntop(AF_INET6, &raw, &text, socklen_t(text.count))
                }
            }
            let length = text.firstIndex(of: 0) ?? text.count
            if let parsed = IPAddress(String(decoding: text[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)) {
                found.append(parsed)
            }
            entry = info.ai_next
        }
        return found
    }
}
