/// Where and how a `Database` or `DedicatedConnection` connects.
public struct DatabaseConfig: Sendable {
    /// A libpq conninfo string (`host=… dbname=…`) or a `postgresql://` URL. May hold a password:
    /// it is never logged, and libpq's error messages are scrubbed of it.
    public var url: String
    /// How many connections (and threads) the pool keeps; default 4, at least 1.
    public var poolSize: Int
    /// When set, every connection runs `SET search_path TO "<schema>"`. The schema must exist.
    public var schema: String?
    /// Reported to the server as `application_name`, visible in `pg_stat_activity`.
    public var applicationName: String?
    /// The longest one statement may run, lock waits included (`statement_timeout`), so that no
    /// statement holds a pool thread for ever; migrations run without it. Default 30 s; zero
    /// turns it off.
    public var statementTimeout: Duration
    /// The most jobs that may wait for a connection; one more is refused at once with
    /// `StoreError.poolSaturated` instead of joining a queue nobody could serve in time. Default 64.
    public var maxQueuedJobs: Int

    /// A configuration; nothing connects until the first query.
    public init(
        url: String, poolSize: Int = 4, schema: String? = nil, applicationName: String? = nil,
        statementTimeout: Duration = .seconds(30), maxQueuedJobs: Int = 64
    ) {
        self.url = url
        self.poolSize = poolSize
        self.maxQueuedJobs = max(1, maxQueuedJobs)
        self.schema = schema
        self.applicationName = applicationName
        self.statementTimeout = statementTimeout
    }
}
