import Bus
import Models
import Store

/// The producer side of catching up: `<service>.events.replay` answers with the stamped outbox
/// events after a sequence number, so a consumer that missed some (PUB/SUB drops them when it is
/// slow or away) gets every one, in order; `<service>.events.acknowledge` records how far each
/// consuming service has applied them, so the outbox is pruned only behind all of them
/// (`OutboxRetention`).
enum EventReplay {
    /// The most events one replay answer holds.
    static let maxBatch = 1000

    static func register(on worker: ServiceWorker, producer: ServiceName, database: Database) {
        worker.handle(
            operation: Events.Replay.name(for: producer), requestType: Events.Replay.Request.self
        ) { request, context -> Events.Replay.Response in
            // Events carry personal data: only the platform's own processes may read them back.
            guard context.caller.has(.system) else {
                throw ServiceError(.forbidden, "event replay is for platform services only")
            }
            guard request.after >= 0, request.limit > 0 else {
                throw ServiceError(
                    .validationFailed, "after must be 0 or more and limit 1 or more",
                    fieldErrors: [FieldError(field: request.after < 0 ? "after" : "limit", code: "out_of_range")])
            }
            let limit = min(request.limit, maxBatch)
            let page = try await database.withConnection { connection in
                try Outbox.events(after: request.after, limit: limit, producer: producer.rawValue, on: connection)
            }
            return Events.Replay.Response(events: page.events, lastSeq: page.lastSeq)
        }
        worker.handle(
            operation: Events.Acknowledge.name(for: producer), requestType: Events.Acknowledge.Request.self
        ) { request, context -> Empty in
            // A consumer speaks for itself: on a CURVE bus the broker names the sending process.
            guard context.caller.has(.system), context.peer == nil || context.peer == request.consumer else {
                throw ServiceError(.forbidden, "a consuming service acknowledges its own progress only")
            }
            guard request.consumer.wholeMatch(of: /[a-z][a-z0-9_-]{0,39}/) != nil, request.seq >= 0 else {
                throw ServiceError(
                    .validationFailed, "consumer must be a service name and seq 0 or more",
                    fieldErrors: [FieldError(field: request.seq < 0 ? "seq" : "consumer", code: "invalid")])
            }
            try await database.withConnection { connection in
                guard request.seq <= (try Outbox.lastSeq(on: connection)) else {
                    throw ServiceError(
                        .validationFailed, "seq is past the last event published",
                        fieldErrors: [FieldError(field: "seq", code: "out_of_range")])
                }
                try Outbox.acknowledge(consumer: request.consumer, seq: request.seq, on: connection)
            }
            return Empty()
        }
    }
}
