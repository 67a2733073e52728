public import Bus
public import Foundation
public import Logging
public import Models
public import ServiceLifecycle
public import Store
import Prometheus

/// What one worker service is: its name, its own migrations, its handlers and the events it consumes.
///
/// A service's executable is `exit(await WorkerServiceMain.run(definition))`; everything else — settings,
/// logging, metrics, migrations, the bus worker, the outbox relay, event consumers, the admin port
/// and graceful shutdown — is the same for every service and lives here.
public struct WorkerServiceDefinition: Sendable {
    public var name: ServiceName
    /// The folder of the service's numbered SQL migrations (its resource bundle's `Migrations`).
    public var migrations: URL?
    /// Applies the service's own migrations (after the platform tables) instead of running every
    /// file of `migrations` in order, for a service whose history needs a step in between that SQL
    /// cannot do (accounts seals old rows with its keys before the plain columns are dropped).
    public var migrate: (@Sendable (Database) async throws -> Void)?
    /// Runs once the schema is migrated, before the service takes work (the directory's demo data).
    public var prepare: (@Sendable (Database, Logger) async throws -> Void)?
    /// Registers the service's bus handlers.
    public var register: @Sendable (ServiceWorker, ServiceResources) -> Void
    /// Events of other services this one applies, per producer, made with the process's
    /// resources (a subscription may push to people's streams).
    public var consumes: @Sendable (ServiceResources) -> [EventSubscription]
    /// The service's periodic tasks (its retention rules, and work a service does on its own),
    /// made with the process's resources.
    public var maintenance: @Sendable (ServiceResources) -> [MaintenanceTask]
    /// What the service holds about a person and how it erases them.
    public var privacy: PrivacyHooks
    /// Whether the service erases a person when accounts announces an erasure (every service but
    /// accounts, which starts erasures and collects the confirmations).
    public var followsErasures: Bool

    public init(
        name: ServiceName, migrations: URL?, migrate: (@Sendable (Database) async throws -> Void)? = nil,
        prepare: (@Sendable (Database, Logger) async throws -> Void)? = nil, consumes: @escaping @Sendable (ServiceResources) -> [EventSubscription] = { _ in [] },
        maintenance: @escaping @Sendable (ServiceResources) -> [MaintenanceTask] = { _ in [] }, privacy: PrivacyHooks = .none,
        followsErasures: Bool = true,
        register: @escaping @Sendable (ServiceWorker, ServiceResources) -> Void
    ) {
        self.name = name
        self.migrations = migrations
        self.migrate = migrate
        self.prepare = prepare
        self.consumes = consumes
        self.maintenance = maintenance
        self.privacy = privacy
        self.followsErasures = followsErasures
        self.register = register
    }
}

/// What a handler may use: the service's database, a bus client for calls to other services, live
/// pushes to people's clients, a logger.
public struct ServiceResources: Sendable {
    public let database: Database
    public let bus: BusClient
    public let streams: StreamPushes
    public let logger: Logger

    public init(database: Database, bus: BusClient, streams: StreamPushes, logger: Logger) {
        self.database = database
        self.bus = bus
        self.streams = streams
        self.logger = logger
    }
}

/// The settings of a worker service process.
public struct WorkerServiceSettings: Sendable {
    public var process: ProcessSettings
    public var database: DatabaseConfig
    public var workerSlots: Int
    /// How long published events are kept for consumers that have not acknowledged them yet
    /// (`EVENTS_RETENTION_HOURS`, default a week); never pruned before every known consumer applied them.
    public var eventsRetention: Duration
    /// The most consecutive events of one producer applied in one transaction
    /// (`EVENTS_BATCH_MAX`, default 256; 1 applies each in its own).
    public var eventsBatchMax: Int

    /// Reads the common settings plus the database and worker settings of `service`.
    public init(service: ServiceName, reading reader: inout ConfigReader) {
        process = ProcessSettings(reading: &reader)
        let url = reader.required("DATABASE_URL")
        let schema = reader.string("DATABASE_SCHEMA", default: service.rawValue)
        // An unquoted lower-case identifier, short enough that "outbox.<schema>" is a valid
        // notification channel (63 bytes at most).
        if schema.utf8.count > 56 || schema.wholeMatch(of: /[a-z_][a-z0-9_]*/) == nil {
            reader.problem("DATABASE_SCHEMA must be a lower-case SQL identifier of at most 56 characters, got \"\(schema)\"")
        }
        database = DatabaseConfig(
            url: url, poolSize: reader.int("DATABASE_POOL_SIZE", default: 2, in: 1...64),
            schema: schema, applicationName: service.rawValue,
            maxQueuedJobs: reader.int("DATABASE_POOL_QUEUE", default: 64, in: 1...10_000))
        workerSlots = reader.int("WORKER_SLOTS", default: 4, in: 1...256)
        eventsRetention = .seconds(3600 * reader.int("EVENTS_RETENTION_HOURS", default: 168, in: 1...87_600))
        eventsBatchMax = reader.int("EVENTS_BATCH_MAX", default: 256, in: 1...10_000)
    }
}

/// Runs a worker service process from its definition.
public enum WorkerServiceMain {
    /// Reads the environment (every problem named at once: status 2), migrates, serves until
    /// SIGTERM or SIGINT (status 0) or an error (status 1, logged); returns the exit status.
    public static func run(
        _ definition: WorkerServiceDefinition, environment: [String: String] = ProcessInfo.processInfo.environment
    ) async -> Int32 {
        guard
            let settings = ProcessSettings.load(definition.name.rawValue, environment: environment, {
                WorkerServiceSettings(service: definition.name, reading: &$0)
            })
        else { return 2 }
        let (logger, registry) = settings.process.bootstrapObservability(processName: definition.name.rawValue)
        let parts = ProcessParts(settings: settings, logger: logger)
        return await ProcessMain.run(logger: logger, resources: parts.resources) {
            try await services(definition, parts: parts, settings: settings, registry: registry, logger: logger)
        }
    }

    /// What a worker process opens for its services to use: lifecycle services that run before
    /// them and are closed after them.
    struct ProcessParts: Sendable {
        let database: Database
        let context: BusContext
        let client: MDPClient
        let publisher: EventPublisher

        init(settings: WorkerServiceSettings, logger: Logger) {
            database = Database(settings.database, logger: logger)
            context = settings.process.busContext(logger: logger)
            let endpoints = settings.process.endpoints
            client = MDPClient(context: context, endpoint: endpoints.mdp, curve: settings.process.curve, logger: logger)
            publisher = EventPublisher(
                context: context, endpoint: endpoints.eventsIn, curve: settings.process.curve, logger: logger)
        }

        /// In the order they start; they stop in reverse, the context last.
        var resources: [any Service] { [context, database, client, publisher] }
    }

    /// Migrates the schema, registers every handler and builds the process's services, in the
    /// order they start: admin port, outbox relay, event consumer, and last the bus worker, which
    /// is thereby the first to stop.
    static func services(
        _ definition: WorkerServiceDefinition, parts: ProcessParts, settings: WorkerServiceSettings,
        registry: PrometheusCollectorRegistry, logger: Logger
    ) async throws -> [any Service] {
        let service = definition.name
        let database = parts.database
        try await database.migrate(PlatformTables.migrations, table: "platform_migrations")
        if let migrate = definition.migrate {
            try await migrate(database)
        } else if let folder = definition.migrations {
            try await database.migrate(try Migration.load(from: folder))
        }
        logger.info("migrations applied", metadata: ["db.schema": "\(settings.database.schema ?? "")"])
        try await definition.prepare?(database, logger)

        let endpoints = settings.process.endpoints
        let bus = BusClient(mdp: parts.client, logger: logger)
        let worker = ServiceWorker(
            context: parts.context, endpoint: endpoints.mdp, service: service,
            instanceId: settings.process.instanceId, slots: settings.workerSlots,
            curve: settings.process.curve,
            threads: WorkerThreads(starting: database.adoptCurrentThread, ending: database.releaseCurrentThread),
            logger: logger)
        let resources = ServiceResources(
            database: database, bus: bus, streams: StreamPushes(publisher: parts.publisher, logger: logger), logger: logger)
        let startedAt = Date()
        worker.handle(operation: Platform.Info.name(for: service), requestType: Empty.self) { _, _ in
            Platform.Info(
                service: service.rawValue, instanceId: settings.process.instanceId,
                version: Platform.version, startedAt: startedAt)
        }
        EventReplay.register(on: worker, producer: service, database: database)
        PrivacyHandlers.register(on: worker, service: service, hooks: definition.privacy, database: database)
        definition.register(worker, resources)
        var subscriptions = definition.consumes(resources)
        if definition.followsErasures {
            subscriptions.append(PrivacyHandlers.erasureSubscription(service: service, hooks: definition.privacy))
        }

        let relay = EventRelay(producer: service, database: settings.database, publisher: parts.publisher, logger: logger)
        var readiness = ReadinessChecks()
        readiness.add("database") { await database.ping() }
        // This instance registered, not merely some instance of the service.
        readiness.add("bus") { await worker.isRegistered() }
        let admin = AdminServer.build(
            host: settings.process.adminHost, port: settings.process.adminPort, readiness: readiness,
            registry: registry, processName: service.rawValue, logger: logger)

        var services: [any Service] = [admin, relay]
        if !subscriptions.isEmpty {
            let subscriber = EventSubscriber(
                context: parts.context, endpoint: endpoints.eventsOut,
                prefixes: EventConsumer.topicPrefixes(for: subscriptions), curve: settings.process.curve, logger: logger)
            services.append(
                EventConsumer(
                    consumer: service, subscriptions: subscriptions, subscriber: subscriber, database: database, bus: bus,
                    batchLimit: settings.eventsBatchMax, logger: logger))
        }
        let maintenance = definition.maintenance(resources) + [OutboxRetention.task(for: service, keeping: settings.eventsRetention)]
        services.append(MaintenanceRunner(tasks: maintenance, database: database, logger: logger))
        services.append(WorkerRunner(worker: worker))
        logger.info("serving", metadata: ["bus.service": "\(service)", "bus.endpoint": "\(endpoints.mdp)"])
        return services
    }
}

/// Runs an MDP worker as a lifecycle service: on graceful shutdown it stops taking work, finishes
/// what is in flight and tells the broker it is leaving.
public struct WorkerRunner: Service {
    let worker: ServiceWorker

    public init(worker: ServiceWorker) {
        self.worker = worker
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await worker.run()
        } onGracefulShutdown: {
            Task { await worker.stop() }
        }
    }
}
