import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import PlatformSecurity

/// Delivers the processor's events to the platform as a real processor does: a JSON POST signed
/// with `Stripe-Signature: t=…,v1=…`, tried again with a growing pause until it is answered 2xx
/// (a receiver that is down misses nothing), and, when a test asks, late or twice.
struct WebhookSender: Sendable {
    let url: String
    let secret: String
    let processor: Processor
    let logger: Logger
    /// Tries per delivery before it is given up (a real processor tries for days).
    let attempts = 12

    func send(_ event: Processor.Event, after delay: Duration = .zero) {
        guard !url.isEmpty else { return }
        Task {
            let faults = await processor.faults
            await processor.record(event)
            try? await Task.sleep(for: delay + .milliseconds(Int(faults.webhookDelaySeconds * 1000)))
            await deliver(event)
            if faults.duplicateWebhooks { await deliver(event) }
        }
    }

    /// Delivers `event` until it is taken, each attempt signed anew (its timestamp is the attempt's).
    func deliver(_ event: Processor.Event) async {
        guard let body = try? Processor.encoder.encode(event) else { return }
        let taken = await Self.postUntilTaken(body, to: url, attempts: attempts, what: event.type, logger: logger) {
            [("Stripe-Signature", WebhookSignature.header(for: body, secret: secret))]
        }
        if !taken { logger.warning("webhook given up", metadata: ["event.type": "\(event.type)", "event.id": "\(event.id)"]) }
    }

    /// POSTs the JSON `body` to `url` until it is answered 2xx, at most `attempts` times, pausing a
    /// quarter second and doubling to ten, as a provider does; `headers` are made for each attempt
    /// (a signature's timestamp is the attempt's). Whether it was taken.
    static func postUntilTaken(
        _ body: Data, to url: String, attempts: Int, what: String, logger: Logger, headers: () -> [(String, String)]
    ) async -> Bool {
        var pause = Duration.milliseconds(250)
        for attempt in 1...attempts {
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            for (name, value) in headers() { request.headers.add(name: name, value: value) }
            request.body = .bytes(ByteBuffer(bytes: body))
            do {
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
                _ = try? await response.body.collect(upTo: 1 << 16)
                if (200..<300).contains(response.status.code) {
                    logger.debug("webhook delivered", metadata: ["event.type": "\(what)", "attempt": "\(attempt)"])
                    return true
                }
                logger.info("webhook refused", metadata: ["event.type": "\(what)", "http.status": "\(response.status.code)"])
            } catch {
                logger.info("webhook not delivered", metadata: ["event.type": "\(what)", "error": "\(error)"])
            }
            try? await Task.sleep(for: pause)
            pause = min(pause * 2, .seconds(10))
        }
        return false
    }
}
