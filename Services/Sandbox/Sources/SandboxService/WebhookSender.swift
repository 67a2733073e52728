import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Security

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
        var pause = Duration.milliseconds(250)
        for attempt in 1...attempts {
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "Stripe-Signature", value: WebhookSignature.header(for: body, secret: secret))
            request.body = .bytes(ByteBuffer(bytes: body))
            do {
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
                _ = try? await response.body.collect(upTo: 1 << 16)
                if (200..<300).contains(response.status.code) {
                    logger.debug("webhook delivered", metadata: ["event.type": "\(event.type)", "attempt": "\(attempt)"])
                    return
                }
                logger.info("webhook refused", metadata: ["event.type": "\(event.type)", "http.status": "\(response.status.code)"])
            } catch {
                logger.info("webhook not delivered", metadata: ["event.type": "\(event.type)", "error": "\(error)"])
            }
            try? await Task.sleep(for: pause)
            pause = min(pause * 2, .seconds(10))
        }
        logger.warning("webhook given up", metadata: ["event.type": "\(event.type)", "event.id": "\(event.id)"])
    }
}
