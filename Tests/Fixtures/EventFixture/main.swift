import Bus
import Foundation
import Models
import ServiceKit
import Store
import TestSupport

// A producer and a consumer of events, run as real processes by the end-to-end tests:
// `event-fixture producer` serves `fixture.emit`, which writes events through the outbox;
// `event-fixture consumer` applies them into its own table and serves `fixturesink.count`; with
// FIXTURE_REFUSE_LABEL set, its handler fails on events of that label, as a buggy release would.

let migrations = Bundle.module.url(forResource: "Migrations", withExtension: nil)

switch CommandLine.arguments.dropFirst().first {
case "producer":
    exit(await WorkerServiceMain.run(
        WorkerServiceDefinition(name: Emit.service, migrations: nil, followsErasures: false) { worker, resources in
            worker.handle(Emit.self) { request, _ in
                for n in 1...max(1, request.count) {
                    let payload = String(decoding: try WireCoding.encoder().encode(Counted(n: n, label: request.label)), as: UTF8.self)
                    try await resources.database.transaction { connection in
                        for _ in 0..<(request.noise ?? 0) {
                            try Outbox.append(type: "fixture.noise.v1", payload: "{}", on: connection)
                        }
                        try Outbox.append(type: Counted.type, payload: payload, on: connection)
                    }
                }
                return Empty()
            }
        }))
case "consumer":
    let refused = ProcessInfo.processInfo.environment["FIXTURE_REFUSE_LABEL"]
    let subscription = EventSubscription(producer: Emit.service).on(Counted.self) { event, _, connection in
        if event.label == refused { throw ServiceError(.internalError, "this release cannot apply \(event.label)") }
        try connection.execute("INSERT INTO received (n, label) VALUES ($1, $2)", event.n, event.label)
    }
    exit(await WorkerServiceMain.run(
        WorkerServiceDefinition(
            name: CountReceived.service, migrations: migrations, consumes: { _ in [subscription] }, followsErasures: false
        ) {
            worker, resources in
            worker.handle(CountReceived.self) { request, _ in
                try await resources.database.withConnection { connection in
                    let row = try connection.queryOne(
                        "SELECT count(*) AS rows, count(DISTINCT n) AS distinct_n FROM received WHERE label = $1",
                        request.label)
                    return CountReceived.Response(
                        rows: try row?.decode("rows", as: Int.self) ?? 0,
                        distinct: try row?.decode("distinct_n", as: Int.self) ?? 0)
                }
            }
        }))
default:
    FileHandle.standardError.write(Data("usage: event-fixture producer|consumer\n".utf8))
    exit(2)
}
