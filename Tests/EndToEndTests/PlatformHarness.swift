import Bus
import Foundation
import Logging
import Models
import Store
import Synchronization
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A broker and services started as real processes against a fresh database, plus a bus client in
/// the test process to call them.
final class PlatformHarness: Sendable {
    let database: TestDatabase
    let bus: [String: String]
    let context: BusContext
    let client: BusClient
    private let mdp: MDPClient
    private let processes = ProcessList()
    private let permitHeld = Mutex(true)

    init(schemas: [String], curve: ClientCurve? = nil) async throws {
        await PlatformPermits.shared.acquire()
        do {
            database = try await TestDatabase.create()
            bus = try FreePort.busEnvironment()
            let admin = Database(DatabaseConfig(url: database.url, poolSize: 1), logger: Logger(label: "test"))
            for schema in schemas {
                _ = try await admin.withConnection { try $0.execute("CREATE SCHEMA \(schema)") }
            }
            await admin.close()
        } catch {
            await PlatformPermits.shared.release()
            throw error
        }
        context = BusContext(logger: Logger(label: "test.bus"))
        mdp = MDPClient(context: context, endpoint: bus["BROKER_ENDPOINT"]!, curve: curve, logger: Logger(label: "test.bus"))
        client = BusClient(mdp: mdp, logger: Logger(label: "test.bus"))
    }

    /// Starts the broker and waits until it is ready.
    @discardableResult
    func startBroker(environment extra: [String: String] = [:]) async throws -> PlatformProcess {
        try await start("broker", environment: bus.merging(extra) { _, new in new })
    }

    /// Accounts refuses to start without the master key that seals each account's data key; every
    /// instance in this test process shares one, as the instances of one deployment do.
    static let accountsDataKey = Data((0..<32).map { _ in UInt8.random(in: .min ... .max) }).base64EncodedString()
    /// The key of accounts' email blind index, shared the same way.
    static let accountsEmailIndexKey = Data((0..<32).map { _ in UInt8.random(in: .min ... .max) }).base64EncodedString()

    /// The chat service's master key, shared by its instances the same way.
    static let chatDataKey = Data((0..<32).map { _ in UInt8.random(in: .min ... .max) }).base64EncodedString()

    /// The billing service's master key (saved cards' processor references), shared the same way.
    static let billingDataKey = Data((0..<32).map { _ in UInt8.random(in: .min ... .max) }).base64EncodedString()

    /// The integration service's master key (webhook signing secrets), shared the same way.
    static let integrationDataKey = Data((0..<32).map { _ in UInt8.random(in: .min ... .max) }).base64EncodedString()

    /// Starts a worker service against this harness's database and waits until it is ready.
    @discardableResult
    func startService(
        _ executable: String, arguments: [String] = [], schema: String, environment extra: [String: String] = [:],
        waitUntilReady: Bool = true
    ) async throws -> PlatformProcess {
        var environment = bus
        environment["DATABASE_URL"] = database.url
        environment["DATABASE_SCHEMA"] = schema
        // Tests run side by side, each with a whole platform: one background connection for each
        // service but accounts keeps them within the test cluster's connections (each worker slot
        // holds one more).
        if executable != "accounts" { environment["DATABASE_POOL_SIZE"] = "1" }
        if executable == "accounts" {
            environment["ACCOUNTS_DATA_KEY"] = Self.accountsDataKey
            environment["ACCOUNTS_EMAIL_INDEX_KEY"] = Self.accountsEmailIndexKey
        }
        if executable == "chat" { environment["CHAT_DATA_KEY"] = Self.chatDataKey }
        if executable == "billing" { environment["BILLING_DATA_KEY"] = Self.billingDataKey }
        environment.merge(extra) { _, new in new }
        return try await start(executable, arguments: arguments, environment: environment, waitUntilReady: waitUntilReady)
    }

    @discardableResult
    func start(
        _ executable: String, arguments: [String] = [], environment: [String: String], waitUntilReady: Bool = true
    ) async throws -> PlatformProcess {
        let process = try PlatformProcess(executable, arguments: arguments, environment: environment)
        processes.append(process)
        if waitUntilReady {
            try await process.waitUntilReady()
        }
        return process
    }

    /// Stops every process, the client and the database.
    func shutdown() async {
        for process in processes.all { process.stop() }
        await mdp.close()
        await context.shutdown()
        try? await database.drop()
        if permitHeld.withLock({ held in defer { held = false }; return held }) { await PlatformPermits.shared.release() }
    }

    /// The whole log of every process started from `executable`.
    func logs(of executable: String) -> String {
        processes.all.filter { $0.name == executable }.map { $0.log() }.joined(separator: "\n")
    }

    /// The processes started from `executable`, oldest first.
    func processes(of executable: String) -> [PlatformProcess] {
        processes.all.filter { $0.name == executable }
    }

    /// Every process's log, for a failing test's message.
    func logs() -> String {
        processes.all.map { "--- \($0.name) ---\n\($0.log().suffix(4000))" }.joined(separator: "\n")
    }
}

/// The processes a harness started, for clean-up.
final class ProcessList: Sendable {
    private let processes = Mutex<[PlatformProcess]>([])

    func append(_ process: PlatformProcess) {
        processes.withLock { $0.append(process) }
    }

    var all: [PlatformProcess] { processes.withLock { $0 } }
}

extension PlatformHarness {
    /// Runs `body` with a fresh harness, and stops every process and drops the database before
    /// returning, whether the body passed or threw: no process outlives its test.
    static func with<T: Sendable>(
        schemas: [String], curve: ClientCurve? = nil, _ body: (PlatformHarness) async throws -> T
    ) async throws -> T {
        let harness = try await PlatformHarness(schemas: schemas, curve: curve)
        do {
            let result = try await body(harness)
            await harness.shutdown()
            return result
        } catch {
            await harness.shutdown()
            throw error
        }
    }
}

/// At most `E2E_PLATFORMS` (8) platforms at once in the test process; the rest wait for one to
/// stop. Every test starting a whole platform at once (twenty and more, each ten processes) on two
/// cores made timing-sensitive tests fail by turns: a presence grace, a close frame, a call's 5 s.
actor PlatformPermits {
    static let shared = PlatformPermits(limit: Int(ProcessInfo.processInfo.environment["E2E_PLATFORMS"] ?? "") ?? 8)

    private let limit: Int
    private var inUse = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    func acquire() async {
        guard inUse >= limit else {
            inUse += 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    /// Hands the permit to the longest waiting, or frees it.
    func release() {
        if waiting.isEmpty {
            inUse -= 1
        } else {
            waiting.removeFirst().resume()
        }
    }
}

