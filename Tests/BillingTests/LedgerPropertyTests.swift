@testable import BillingService
import Bus
import Foundation
import Logging
import Models
import ServiceKit
import Store
import Synchronization
import Testing
import TestSupport

/// The ledger's invariants under random interleavings of everything that moves money, run by
/// several concurrent writers against a real PostgreSQL through billing's own code: minutes
/// (with their holds, pauses and duplicates), top-ups (resuming paused chats), chat ends
/// (voiding holds), refunds, payouts paid or returned, disputes. Afterwards every balance is the
/// sum of its entries, every held amount the sum of its pending holds, every transfer and the
/// whole ledger sum to zero, no wallet without a dispute is below zero or has less than it holds,
/// no minute was charged twice, and no writer failed (a deadlock lost is run again, as billing's
/// handlers and event consumer do).
@Suite(.serialized, .timeLimit(.minutes(3)))
struct LedgerPropertyTests {
    /// A small deterministic generator (SplitMix64), so a failing seed can be run again.
    struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
    }

    /// The chats the writers share.
    final class Chats: Sendable {
        struct Chat: Sendable {
            let id: UUID
            let member: UUID
            let advisor: UUID
            let price: Int
            var minutes: Int
            var ended: Bool
        }
        let all = Mutex<[Chat]>([])
    }

    static let unexpected = Mutex<[String]>([])

    @Test("random interleavings of minutes, top-ups, holds, refunds, payouts and disputes keep the ledger exact", arguments: [1, 2, 3] as [UInt64])
    func randomInterleavings(seed: UInt64) async throws {
        let testDatabase = try await TestDatabase.create(schema: "billing")
        let database = Database(testDatabase.config(poolSize: 6), logger: Logger(label: "test"))
        let context = BusContext(logger: Logger(label: "test"))
        // Nothing here calls the bus; refunds and top-ups need a client to be made.
        let mdp = MDPClient(context: context, endpoint: "tcp://127.0.0.1:9", curve: nil, logger: Logger(label: "test"))
        let bus = BusClient(mdp: mdp, logger: Logger(label: "test"))
        defer { Task { try? await testDatabase.drop() } }
        try await database.migrate(PlatformTables.migrations, table: "platform_migrations")
        let settings = BillingSettings(dataKey: Data(repeating: 7, count: 32), freeChats: 2, freeMinutes: 1, payoutMinCents: 100)
        let definition = BillingService.definition(settings: settings)
        try await database.migrate(try Migration.load(from: try #require(definition.migrations)))

        let members = (0..<4).map { _ in UUID() }
        let advisors = (0..<3).map { _ in UUID() }
        let chats = Chats()
        let topUps = TopUpHandlers(
            database: database, bus: bus, sealing: PaymentSealing(dataKey: settings.dataKey), settings: settings, logger: Logger(label: "test"))
        let refunds = RefundHandlers(database: database, bus: bus, settings: settings)
        Self.unexpected.withLock { $0.removeAll() }

        await withTaskGroup(of: Void.self) { group in
            for writer in 0..<4 {
                group.addTask {
                    var random = Generator(state: seed &* 1_000_003 &+ UInt64(writer))
                    for _ in 0..<60 {
                        do {
                            try await Self.step(
                                &random, database: database, members: members, advisors: advisors, chats: chats, topUps: topUps,
                                refunds: refunds, settings: settings)
                        } catch let error as ServiceError
                            where [.insufficientFunds, .refundAlreadyRequested, .notFound, .conflict].contains(error.code)
                        {
                            continue  // refused as the rules say: nothing written
                        } catch {
                            Self.unexpected.withLock { $0.append("\(error)") }
                        }
                    }
                }
            }
        }

        #expect(Self.unexpected.withLock { $0 }.isEmpty, "no fault: \(Self.unexpected.withLock { $0 })")
        let check = try await database.withConnection { try Ledger.check(on: $0) }
        #expect(check.ok && check.totalCents == 0, "\(check)")
        #expect(check.transfers > 20, "the run moved money: \(check)")
        let overdrawn = try await database.withConnection { connection in
            try connection.query(
                "SELECT id FROM ledger_accounts WHERE kind = 'wallet' AND NOT disputed AND balance_cents - held_cents < 0")
        }
        #expect(overdrawn.isEmpty, "no wallet holds more than it has")
        let minutes = try await database.withConnection { connection in
            try connection.query("SELECT chat_id, count(*)::int AS n FROM transfers WHERE kind IN ('chat-minute', 'free-minute') GROUP BY chat_id")
        }
        let announced = Dictionary(uniqueKeysWithValues: chats.all.withLock { $0 }.map { ($0.id, $0.minutes) })
        for row in minutes {
            let chat: UUID = try row.decode("chat_id")
            #expect(try row.decode("n", as: Int.self) <= announced[chat] ?? 0, "no minute charged twice")
        }
        await mdp.close()
        await context.shutdown()
        await database.close()
    }

    /// One random operation, as billing's handlers and event consumers do it.
    static func step(
        _ random: inout Generator, database: Database, members: [UUID], advisors: [UUID], chats: Chats, topUps: TopUpHandlers,
        refunds: RefundHandlers, settings: BillingSettings
    ) async throws {
        let member = members[random.below(members.count)]
        let advisor = advisors[random.below(advisors.count)]
        switch random.below(9) {
        case 0, 1:  // a top-up the processor confirmed (it resumes paused chats)
            let amount = 100 + random.below(1500)
            let paymentId = "pi_\(UUID().uuidString.prefix(8))"
            try await database.retryingTransaction(.readCommitted) { connection in
                let id = UUID()
                try connection.execute(
                    """
                    INSERT INTO top_ups (id, member_id, request_hash, amount_cents, status, source) VALUES ($1, $2, $3, $4, 'pending', 'member')
                    """, id, member, Data(), amount)
                try TopUpHandlers.settle(id, succeeded: true, paymentId: paymentId, declineCode: nil, settings: settings, on: connection)
            }
        case 2:  // a chat asked for: free minutes granted, the first paid minute held
            let chat = Chats.Chat(id: UUID(), member: member, advisor: advisor, price: 50 + random.below(300), minutes: 0, ended: false)
            try await database.retryingTransaction(.readCommitted) { connection in
                let requested = Chat.Requested(
                    chatId: chat.id, memberId: member, advisorId: advisor, pricePerMinuteCents: chat.price, expiresAt: Date())
                try connection.execute(
                    "INSERT INTO chats (id, member_id, advisor_id, price_cents) VALUES ($1, $2, $3, $4)", chat.id, member, advisor, chat.price)
                try ChatCharging.grantFreeMinutes(requested, settings: settings, on: connection)
                try ChatCharging.holdMinute(1, chat: chat.id, member: member, price: chat.price, settings: settings, on: connection)
            }
            chats.all.withLock { $0.append(chat) }
        case 3, 4, 5:  // minutes start, one or a run of them as the consumer batches them; now and then one again
            var run: [Chat.MinuteStarted] = []
            for _ in 0..<(1 + random.below(6)) {
                let choice = random.below(1000)
                let again = random.below(5) == 0
                let picked = chats.all.withLock { all -> Chats.Chat? in
                    let open = all.indices.filter { !all[$0].ended }
                    guard !open.isEmpty else { return nil }
                    let index = open[choice % open.count]
                    all[index].minutes += 1
                    return all[index]
                }
                guard let chat = picked else { break }
                let minute = again && chat.minutes > 1 ? chat.minutes - 1 : chat.minutes
                run.append(
                    Chat.MinuteStarted(
                        chatId: chat.id, memberId: chat.member, advisorId: chat.advisor, minute: minute, pricePerMinuteCents: chat.price,
                        free: false, at: Date()))
            }
            let minutes = run
            try await database.retryingTransaction(.readCommitted) { connection in
                try MinuteBatch.charge(minutes, settings: settings, on: connection)
            }
        case 6:  // a chat ends: its holds are voided, its total settled
            let picked = chats.all.withLock { all -> Chats.Chat? in
                guard let index = all.indices.first(where: { !all[$0].ended }) else { return nil }
                all[index].ended = true
                return all[index]
            }
            guard let chat = picked else { return }
            try await database.retryingTransaction(.readCommitted) { connection in
                try ChatCharging.settle(
                    Chat.Ended(
                        chatId: chat.id, memberId: chat.member, advisorId: chat.advisor, reason: "member", minutes: chat.minutes,
                        pricePerMinuteCents: chat.price, at: Date()),
                    on: connection)
            }
        case 7:  // a refund asked for, or a dispute of a top-up
            if random.below(2) == 0 {
                guard let chat = chats.all.withLock({ $0.first { $0.ended && $0.member == member } }) else { return }
                _ = try await refunds.request(.init(chatId: chat.id, reason: "not helpful"), caller: Caller(accountId: member, roles: [.member]))
            } else {
                let payment = try await database.withConnection { connection in
                    try connection.queryOne(
                        "SELECT payment_id, amount_cents FROM top_ups WHERE member_id = $1 AND status = 'succeeded' ORDER BY random() LIMIT 1",
                        member)
                }
                guard let payment else { return }
                _ = try await topUps.apply(
                    .init(
                        kind: .disputed, reference: nil, paymentId: try payment.decode("payment_id"),
                        amountCents: try payment.decode("amount_cents"), disputeId: "dp_\(UUID().uuidString.prefix(8))"),
                    caller: .system)
            }
        default:  // a payout asked for, then paid or returned
            let amount = 100 + random.below(500)
            let paid = random.below(3) != 0
            let id = UUID()
            _ = try await database.retryingTransaction(.readCommitted) { connection in
                try PayoutHandlers.create(id, advisor: advisor, amount: amount, key: nil, hash: nil, scheduledFor: nil, on: connection)
            }
            try await database.retryingTransaction(.readCommitted) { connection in
                try PayoutHandlers.decide(
                    .init(kind: paid ? .payoutPaid : .payoutFailed, reference: id.uuidString.lowercased(), paymentId: "po_x", amountCents: amount),
                    on: connection, logger: Logger(label: "test"))
            }
        }
    }
}
