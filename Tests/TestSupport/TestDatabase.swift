import Foundation
import Logging
public import Store

/// A fresh, uniquely named database on the server `TEST_DATABASE_URL` points at, for one test.
///
/// `TEST_DATABASE_URL` is a superuser URL, e.g. `postgresql://postgres@127.0.0.1:54329/postgres`.
/// Each test gets its own database, so tests run in parallel without seeing each other.
public struct TestDatabase: Sendable {
    /// Why a test database could not be made.
    public struct SetupError: Error, CustomStringConvertible {
        /// What went wrong and what to do about it.
        public var description: String
    }

    /// The generated database name, `t_<32 hex digits>`.
    public let name: String
    /// A URL connecting to this database with the superuser's credentials.
    public let url: String
    /// The schema created in it, if one was asked for.
    public let schema: String?
    private let adminURL: String

    /// The server's superuser URL from `TEST_DATABASE_URL`; throws, naming the variable, if unset.
    public static func serverURL() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["TEST_DATABASE_URL"], !url.isEmpty else {
            throw SetupError(
                description: "TEST_DATABASE_URL is not set: these tests need a running PostgreSQL, e.g. "
                    + "TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:54329/postgres")
        }
        return url
    }

    /// Creates a database `t_<random>` (and `schema` in it, when given).
    public static func create(schema: String? = nil) async throws -> TestDatabase {
        let adminURL = try serverURL()
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        guard var components = URLComponents(string: adminURL), let scheme = components.scheme,
            scheme == "postgresql" || scheme == "postgres"
        else {
            throw SetupError(description: "TEST_DATABASE_URL must be a postgresql:// URL")
        }
        components.path = "/" + name
        guard let url = components.string else {
            throw SetupError(description: "TEST_DATABASE_URL could not be rewritten for database \(name)")
        }
        try await withAdmin(adminURL) { try $0.executeScript("CREATE DATABASE \(name)") }
        let database = TestDatabase(name: name, url: url, schema: schema, adminURL: adminURL)
        if let schema {
            do {
                try await withAdmin(url) { try $0.executeScript("CREATE SCHEMA \"\(schema)\"") }
            } catch {
                try? await database.drop()
                throw error
            }
        }
        return database
    }

    /// A configuration for this database: `schema` defaults to the one created with it.
    public func config(schema: String? = nil, poolSize: Int = 4) -> DatabaseConfig {
        DatabaseConfig(url: url, poolSize: poolSize, schema: schema ?? self.schema, applicationName: "store-tests")
    }

    /// A URL to this database as another user, e.g. to check what a wrong password does.
    public func url(user: String, password: String) throws -> String {
        guard var components = URLComponents(string: url) else {
            throw SetupError(description: "the test database URL does not parse")
        }
        components.user = user
        components.password = password
        guard let url = components.string else {
            throw SetupError(description: "the test database URL could not be rewritten")
        }
        return url
    }

    /// Drops the database, ending any session still connected to it.
    public func drop() async throws {
        try await Self.withAdmin(adminURL) { try $0.executeScript("DROP DATABASE IF EXISTS \(name) WITH (FORCE)") }
    }

    private static func withAdmin(_ url: String, _ body: @escaping @Sendable (Connection) throws -> Void) async throws {
        let admin = Database(DatabaseConfig(url: url, poolSize: 1, applicationName: "store-tests-admin"), logger: Logger(label: "test.database", factory: { _ in SwiftLogNoOpLogHandler() }))
        do {
            try await admin.withConnection(body)
        } catch {
            await admin.close()
            throw error
        }
        await admin.close()
    }
}

/// Runs body with a fresh test database and drops the database afterwards, whatever happens.
///
/// At most `TestDatabaseLimiter.shared.limit` of these run at once in the test process, so a
/// parallel test run stays well inside the server's `max_connections`.
public func withTestDatabase<T>(
    schema: String? = nil, isolation: isolated (any Actor)? = #isolation, _ body: (TestDatabase) async throws -> T
) async throws -> T {
    await TestDatabaseLimiter.shared.acquire()
    do {
        let database = try await TestDatabase.create(schema: schema)
        let value: T
        do {
            value = try await body(database)
        } catch {
            try? await database.drop()
            throw error
        }
        try await database.drop()
        await TestDatabaseLimiter.shared.release()
        return value
    } catch {
        await TestDatabaseLimiter.shared.release()
        throw error
    }
}

/// Caps how many test databases exist at once in one test process: every test target's tests
/// run in parallel in one process, each database holding a few connections.
public actor TestDatabaseLimiter {
    /// The process-wide limiter `withTestDatabase` uses.
    public static let shared = TestDatabaseLimiter(limit: 8)

    /// How many test databases may exist at once.
    public let limit: Int
    private var inUse = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []

    /// A limiter allowing `limit` holders at once.
    public init(limit: Int) {
        self.limit = limit
    }

    /// Waits for a free place and takes it.
    public func acquire() async {
        if inUse < limit {
            inUse += 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    /// Gives a place back, handing it straight to the longest waiter if there is one.
    public func release() {
        if waiters.isEmpty {
            inUse -= 1
        } else {
            waiters.removeFirst().resume()
        }
    }
}
