import Foundation
import Instrumentation
import Models
import Store
import TestSupport
import Testing

/// The outbox (producer side) and event cursors (consumer side).
@Suite struct OutboxTests {
    /// Runs body with the platform tables migrated into a fresh database.
    private func withPlatformTables(poolSize: Int = 2, _ body: (Database, TestDatabase) async throws -> Void) async throws {
        try await withDatabase(schema: "producer", poolSize: poolSize) { database, testDatabase in
            try await database.migrate(PlatformTables.migrations, table: PlatformTables.migrationTable)
            try await body(database, testDatabase)
        }
    }

    private func append(_ types: [String], to database: Database) async throws {
        try await database.transaction { connection in
            for type in types {
                try Outbox.append(type: type, payload: #"{"type": "\#(type)", "note": "it's \"quoted\""}"#, on: connection)
            }
        }
    }

    private func stamp(_ database: Database) async throws -> [Events.StoredEvent] {
        try await database.transaction { try Outbox.stampPending(on: $0, producer: "accounts") }
    }

    @Test func stampingIsDenseAcrossCalls() async throws {
        try await withPlatformTables { database, _ in
            try await append(["a.created.v1", "a.updated.v1", "a.deleted.v1"], to: database)
            let first = try await stamp(database)
            #expect(first.map(\.metadata.seq) == [1, 2, 3])
            #expect(first.map(\.metadata.type) == ["a.created.v1", "a.updated.v1", "a.deleted.v1"])
            #expect(first.allSatisfy { $0.metadata.producer == "accounts" })
            let payload = try JSONSerialization.jsonObject(with: Data(first[0].payload.utf8)) as? [String: String]
            #expect(payload == ["type": "a.created.v1", "note": "it's \"quoted\""])
            let nothingNew = try await stamp(database)
            #expect(nothingNew.isEmpty)
            try await append(["b.v1", "c.v1"], to: database)
            let second = try await stamp(database)
            #expect(second.map(\.metadata.seq) == [4, 5])
        }
    }

    @Test("an event carries the trace of the request whose transaction wrote it, to the relay and to replays")
    func eventsCarryTheirTrace() async throws {
        try await withPlatformTables { database, _ in
            let trace = TraceContext.root()
            try await ServiceContext.withValue(.serving(requestId: "r-1", trace: trace)) {
                try await append(["traced.v1"], to: database)
            }
            try await append(["untraced.v1"], to: database)
            let stamped = try await stamp(database)
            #expect(stamped.map(\.metadata.traceparent) == [trace.traceparent, nil])
            let replayed = try await database.withConnection {
                try Outbox.events(after: 0, limit: 10, producer: "accounts", on: $0)
            }
            #expect(replayed.events.map(\.metadata) == stamped.map(\.metadata))
        }
    }

    @Test func stampingHonoursTheLimit() async throws {
        try await withPlatformTables { database, _ in
            try await append(["1", "2", "3"], to: database)
            let first = try await database.transaction { try Outbox.stampPending(on: $0, producer: "p", limit: 2) }
            let second = try await database.transaction { try Outbox.stampPending(on: $0, producer: "p", limit: 2) }
            #expect(first.map(\.metadata.type) == ["1", "2"])
            #expect(second.map(\.metadata.seq) == [3])
        }
    }

    @Test func anInsertCommittedLateGetsALaterSeq() async throws {
        try await withPlatformTables(poolSize: 3) { database, _ in
            let release = DispatchSemaphore(value: 0)
            let (inserted, insertedContinuation) = AsyncStream<Void>.makeStream()
            let slow = Task {
                try await database.transaction { connection in
                    try Outbox.append(type: "slow", payload: "{}", on: connection)
                    insertedContinuation.yield()
                    _ = release.wait(timeout: .now() + 10)
                }
            }
            var iterator = inserted.makeAsyncIterator()
            await iterator.next()
            try await append(["fast"], to: database)
            let whileSlowIsOpen = try await stamp(database)
            release.signal()
            try await slow.value
            let afterSlowCommitted = try await stamp(database)
            #expect(whileSlowIsOpen.map(\.metadata.type) == ["fast"])
            #expect(afterSlowCommitted.map(\.metadata.type) == ["slow"])
            #expect(afterSlowCommitted.map(\.metadata.seq) == [2])
            // The slow row was inserted first: its id is lower, its seq is not.
            let order = try await database.withConnection { connection in
                try connection.query("SELECT type FROM outbox ORDER BY id").map { try $0.decode("type", as: String.self) }
            }
            #expect(order == ["slow", "fast"])
        }
    }

    @Test func stampingOutsideATransactionIsRefused() async throws {
        try await withPlatformTables { database, _ in
            let error = await #expect(throws: StoreError.self) {
                try await database.withConnection { try Outbox.stampPending(on: $0, producer: "p") }
            }
            #expect(error == .queryFailed)
        }
    }

    @Test func eventsAfterPagesThroughStampedEventsOnly() async throws {
        try await withPlatformTables { database, _ in
            try await append(["1", "2", "3", "4", "5"], to: database)
            _ = try await stamp(database)
            try await append(["unstamped"], to: database)
            var pages: [[Int64]] = []
            var after: Int64 = 0
            while true {
                let cursor = after
                let page = try await database.withConnection { try Outbox.events(after: cursor, limit: 2, producer: "accounts", on: $0) }
                #expect(page.lastSeq == 5)
                guard let last = page.events.last else { break }
                pages.append(page.events.map(\.metadata.seq))
                after = last.metadata.seq
            }
            #expect(pages == [[1, 2], [3, 4], [5]])
        }
    }

    @Test func eventsAfterOnAnEmptyOutboxReportsZero() async throws {
        try await withPlatformTables { database, _ in
            let page = try await database.withConnection { try Outbox.events(after: 0, limit: 10, producer: "accounts", on: $0) }
            #expect(page.events.isEmpty)
            #expect(page.lastSeq == 0)
        }
    }

    @Test("many events of one type are appended in one statement, in order, encoded as single ones are")
    func appendMany() async throws {
        try await withPlatformTables { database, _ in
            let advisor = UUID()
            let at = Date(timeIntervalSince1970: 1_800_000_000)
            let events = (0..<1000).map { _ in Directory.FavoriteOnline(memberId: UUID(), advisorId: advisor, at: at) }
            try await database.transaction { try Outbox.append(events, on: $0) }
            try await database.transaction { try Outbox.append([Directory.FavoriteOnline](), on: $0) }
            let stamped = try await stamp(database)
            #expect(stamped.map(\.metadata.seq) == Array(1...1000))
            let decoded = try stamped.map {
                try WireCoding.decoder().decode(Directory.FavoriteOnline.self, from: Data($0.payload.utf8))
            }
            #expect(decoded == events, "every event, in the order given")
            #expect(stamped.allSatisfy { $0.metadata.type == Directory.FavoriteOnline.type })
        }
    }

    @Test func appendNotifiesItsOwnSchemasRelayOnCommitOnly() async throws {
        try await withPlatformTables { database, testDatabase in
            // Another service's outbox in the same database.
            let neighbour = Database(testDatabase.config(schema: "neighbour", poolSize: 1), logger: testLogger)
            _ = try await database.withConnection { try $0.execute("CREATE SCHEMA neighbour") }
            try await neighbour.migrate(PlatformTables.migrations, table: PlatformTables.migrationTable)
            let relay = DedicatedConnection(testDatabase.config(), logger: testLogger)
            do {
                let channel = try await relay.run { try Outbox.listen(on: $0) }
                #expect(channel == Outbox.notificationChannel(schema: "producer"))
                await #expect(throws: Deliberate.self) {
                    try await database.transaction { connection in
                        try Outbox.append(type: "rolled.back", payload: "{}", on: connection)
                        throw Deliberate()
                    }
                }
                try await append(["next.door"], to: neighbour)
                // Both committed (or not) before this wait began: nothing of theirs is on its way.
                let afterOthers = try await relay.waitForNotifications(timeout: .milliseconds(200))
                #expect(afterOthers == [])
                try await append(["committed"], to: database)
                let afterCommit = try await relay.waitForNotifications(timeout: .seconds(30))
                #expect(afterCommit == [channel])
                await relay.close()
                await neighbour.close()
            } catch {
                await relay.close()
                await neighbour.close()
                throw error
            }
        }
    }

    @Test func cursorsLockAdvanceAndNeverMoveBack() async throws {
        try await withPlatformTables { database, _ in
            let initial = try await database.transaction { try EventCursor.lock(producer: "billing", on: $0) }
            #expect(initial == 0)
            let seenBeforeAdvancing = try await database.transaction { connection in
                let seen = try EventCursor.lock(producer: "billing", on: connection)
                try EventCursor.advance(producer: "billing", to: 3, on: connection)
                return seen
            }
            #expect(seenBeforeAdvancing == 0)
            let billing = try await database.withConnection { try EventCursor.current(producer: "billing", on: $0) }
            let chat = try await database.withConnection { try EventCursor.current(producer: "chat", on: $0) }
            #expect(billing == 3)
            #expect(chat == 0)
            let backwards = await #expect(throws: StoreError.self) {
                try await database.transaction { try EventCursor.advance(producer: "billing", to: 2, on: $0) }
            }
            #expect(backwards == .queryFailed)
            let unchanged = try await database.withConnection { try EventCursor.current(producer: "billing", on: $0) }
            #expect(unchanged == 3)
            let outside = await #expect(throws: StoreError.self) {
                try await database.withConnection { try EventCursor.lock(producer: "billing", on: $0) }
            }
            #expect(outside == .queryFailed)
        }
    }

    @Test func aLockedCursorMakesOtherConsumersWaitAndSeeTheAdvance() async throws {
        try await withPlatformTables(poolSize: 3) { database, _ in
            let release = DispatchSemaphore(value: 0)
            let (locked, lockedContinuation) = AsyncStream<Void>.makeStream()
            let holder = Task {
                try await database.transaction { connection in
                    _ = try EventCursor.lock(producer: "boards", on: connection)
                    try EventCursor.advance(producer: "boards", to: 7, on: connection)
                    lockedContinuation.yield()
                    _ = release.wait(timeout: .now() + 10)
                }
            }
            var iterator = locked.makeAsyncIterator()
            await iterator.next()
            let contender = Task {
                try await database.transaction { try EventCursor.lock(producer: "boards", on: $0) }
            }
            try await waitUntil("the second consumer waits for the cursor lock") {
                try await database.withConnection { connection in
                    try connection.queryOne(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )!.decode(0, as: Int.self) == 1
                }
            }
            release.signal()
            try await holder.value
            let seenByContender = try await contender.value
            #expect(seenByContender == 7)
        }
    }
}
