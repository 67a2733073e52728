// swift-tools-version:6.2
import PackageDescription

/// Applied to every non-system target.
let swiftSettings: [SwiftSetting] = [
    // Strict concurrency checking is part of the language mode: data races are compile errors.
    .swiftLanguageMode(.v6),
    // `any P` spelled out, so the cost of an existential is visible where it is paid.
    .enableUpcomingFeature("ExistentialAny"),
    // A file sees only the members of modules it imports itself: dependencies stay honest.
    .enableUpcomingFeature("MemberImportVisibility"),
    // A module's imports are internal unless marked `public import`: no C type leaks by accident.
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let log = Target.Dependency.product(name: "Logging", package: "swift-log")
let lifecycle = Target.Dependency.product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
let signals = Target.Dependency.product(name: "UnixSignals", package: "swift-service-lifecycle")
let hummingbird = Target.Dependency.product(name: "Hummingbird", package: "hummingbird")
let metrics = Target.Dependency.product(name: "Metrics", package: "swift-metrics")
let prometheus = Target.Dependency.product(name: "Prometheus", package: "swift-prometheus")
let httpTypes = Target.Dependency.product(name: "HTTPTypes", package: "swift-http-types")
// Outgoing HTTP (the integration service to providers, the sandbox's webhooks): NIO's client.
let httpClient = Target.Dependency.product(name: "AsyncHTTPClient", package: "async-http-client")
let nioExtras = Target.Dependency.product(name: "NIOExtras", package: "swift-nio-extras")
// `ServiceContext`, the task-local carrier of the request id and trace (no dependencies of its own).
let instrumentation = Target.Dependency.product(name: "Instrumentation", package: "swift-distributed-tracing")
// JOSE (ID tokens of social sign-in): verified by integration, issued by the sandbox's OpenID provider.
let jwtKit = Target.Dependency.product(name: "JWTKit", package: "jwt-kit")

/// The worker services: each an MDP worker with its own schema.
let workerServices = ["Accounts", "Directory", "Chat", "Billing", "Boards", "Notifications"]

var targets: [Target] = [
    // MARK: C libraries, each imported by exactly one Swift module
    // libzmq and libpq go without pkg-config: their .pc files add `-isystem` flags (Kerberos) that
    // SwiftPM refuses with a warning, and their headers are in the default include path anyway.
    .systemLibrary(
        name: "CZeroMQ", path: "Shared/CZeroMQ",
        providers: [.apt(["libzmq3-dev"])]),
    .systemLibrary(
        name: "CLibPQ", path: "Shared/CLibPQ",
        providers: [.apt(["libpq-dev"])]),
    .systemLibrary(
        name: "COpenSSL", path: "Shared/COpenSSL", pkgConfig: "libcrypto",
        providers: [.apt(["libssl-dev"])]),

    // MARK: Shared modules
    .target(name: "Models", dependencies: [instrumentation], path: "Shared/Models", swiftSettings: swiftSettings),
    .target(
        name: "Bus", dependencies: ["CZeroMQ", "Models", log, metrics, instrumentation, lifecycle], path: "Shared/Bus",
        swiftSettings: swiftSettings),
    .target(
        name: "Store", dependencies: ["CLibPQ", "Models", log, instrumentation, lifecycle], path: "Shared/Store",
        swiftSettings: swiftSettings),
    // Named apart from Apple's `Security`: packages test `canImport(Security)` for that framework.
    .target(name: "PlatformSecurity", dependencies: ["COpenSSL"], path: "Shared/Security", swiftSettings: swiftSettings),
    .target(
        name: "ServiceKit",
        dependencies: [
            "Bus", "Store", "Models", log, lifecycle, signals, hummingbird, httpTypes, metrics, prometheus, instrumentation,
        ],
        path: "Shared/ServiceKit", swiftSettings: swiftSettings),

    // MARK: Broker, gateway, integration, operator tool
    .target(
        name: "BrokerService", dependencies: ["Bus", "ServiceKit", "Models", log, lifecycle],
        path: "Services/Broker/Sources/BrokerService", swiftSettings: swiftSettings),
    .executableTarget(
        name: "broker", dependencies: ["BrokerService"],
        path: "Services/Broker/Sources/broker", swiftSettings: swiftSettings),
    .target(
        name: "GatewayService",
        dependencies: [
            "Bus", "ServiceKit", "Models", "PlatformSecurity", "WebClient", log, lifecycle, hummingbird, httpTypes,
            .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "HummingbirdTLS", package: "hummingbird"),
            .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOWebSocket", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            metrics,
        ],
        path: "Services/Gateway/Sources/GatewayService",
        resources: [.copy("openapi.json")],
        swiftSettings: swiftSettings),
    // The reference web client: static files the gateway serves at `/` (no build step).
    .target(
        name: "WebClient", path: "Services/WebClient", exclude: ["README.md"], resources: [.copy("Public")],
        swiftSettings: swiftSettings),
    .executableTarget(
        name: "gateway", dependencies: ["GatewayService"],
        path: "Services/Gateway/Sources/gateway", swiftSettings: swiftSettings),
    .target(
        name: "IntegrationService",
        dependencies: [
            "Bus", "ServiceKit", "Models", "PlatformSecurity", "Store", log, lifecycle, hummingbird, httpClient, httpTypes, metrics, jwtKit,
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
        ],
        path: "Services/Integration/Sources/IntegrationService", resources: [.copy("openapi.json"), .copy("Migrations")],
        swiftSettings: swiftSettings),
    .executableTarget(
        name: "integration", dependencies: ["IntegrationService"],
        path: "Services/Integration/Sources/integration", swiftSettings: swiftSettings),
    // The outside world for local runs and tests (never deployed): see DESIGN.md "sandbox".
    .target(
        name: "SandboxService",
        dependencies: [
            "ServiceKit", "PlatformSecurity", "Models", log, lifecycle, hummingbird, httpClient, httpTypes, jwtKit,
            .product(name: "CryptoExtras", package: "swift-crypto"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"), nioExtras,
        ],
        path: "Services/Sandbox/Sources/SandboxService", swiftSettings: swiftSettings),
    .executableTarget(
        name: "sandbox", dependencies: ["SandboxService"],
        path: "Services/Sandbox/Sources/sandbox", swiftSettings: swiftSettings),
    .target(
        name: "PlatformTool", dependencies: ["Bus", "Store", "ServiceKit", "Models", log],
        path: "Services/Platform/Sources/PlatformTool", swiftSettings: swiftSettings),
    .executableTarget(
        name: "platform", dependencies: ["PlatformTool"],
        path: "Services/Platform/Sources/platform", swiftSettings: swiftSettings),

    // MARK: Tests
    .target(
        name: "TestSupport", dependencies: ["Store", "Bus", "Models", log],
        path: "Tests/TestSupport", swiftSettings: swiftSettings),
    .testTarget(
        name: "SecurityTests", dependencies: ["PlatformSecurity"],
        path: "Tests/SecurityTests", swiftSettings: swiftSettings),
    .testTarget(
        name: "StoreTests", dependencies: ["Store", "TestSupport", "Models", instrumentation],
        path: "Tests/StoreTests", swiftSettings: swiftSettings),
    .testTarget(
        name: "BusTests", dependencies: ["Bus", "TestSupport", "Models", log, instrumentation],
        path: "Tests/BusTests", swiftSettings: swiftSettings),
    .testTarget(
        name: "ServiceKitTests",
        dependencies: ["ServiceKit", "Bus", "Store", "TestSupport", "Models", log, instrumentation, lifecycle],
        path: "Tests/ServiceKitTests", swiftSettings: swiftSettings),
    .testTarget(
        name: "GatewayTests",
        dependencies: [
            "GatewayService", "ServiceKit", "Bus", "TestSupport", "Models", httpTypes,
            .product(name: "HummingbirdTesting", package: "hummingbird"),
        ],
        path: "Tests/GatewayTests", swiftSettings: swiftSettings),
    .testTarget(
        name: "AccountsTests", dependencies: ["AccountsService", "ServiceKit", "Bus", "Store", "PlatformSecurity", "TestSupport", "Models", log],
        path: "Tests/AccountsTests", swiftSettings: swiftSettings),
    .testTarget(
        name: "BillingTests",
        dependencies: ["BillingService", "ServiceKit", "Bus", "Store", "TestSupport", "Models", log],
        path: "Tests/BillingTests", swiftSettings: swiftSettings),
    .testTarget(
        name: "DirectoryTests", dependencies: ["DirectoryService", "Models"],
        path: "Tests/DirectoryTests", swiftSettings: swiftSettings),
    .testTarget(
        name: "EndToEndTests",
        dependencies: [
            "Bus", "Store", "PlatformSecurity", "TestSupport", "Models",
            .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
            .product(name: "NIOWebSocket", package: "swift-nio"),
            log, httpTypes,
        ],
        path: "Tests/EndToEndTests", swiftSettings: swiftSettings),
    // A producer and a consumer of events, as real processes, for the end-to-end event tests.
    .executableTarget(
        name: "event-fixture", dependencies: ["ServiceKit", "Bus", "Store", "Models", "TestSupport", log],
        path: "Tests/Fixtures/EventFixture", resources: [.copy("Migrations")], swiftSettings: swiftSettings),

    // MARK: Benchmarks
    .executableTarget(
        name: "bus-benchmark", dependencies: ["Bus", "CZeroMQ", "Models", log],
        path: "Benchmarks/BusBenchmark", swiftSettings: swiftSettings),
]

/// What a worker service needs beyond what every one has: notifications speaks SMTP (NIO, with
/// STARTTLS) and renders its messages from Mustache templates.
let workerExtras: [String: (dependencies: [Target.Dependency], resources: [Resource])] = [
    "Notifications": (
        [
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"), nioExtras,
            .product(name: "NIOSSL", package: "swift-nio-ssl"), .product(name: "Mustache", package: "swift-mustache"),
        ],
        [.copy("Templates")]
    )
]

for name in workerServices {
    targets.append(
        .target(
            name: "\(name)Service",
            dependencies: ["Bus", "Store", "ServiceKit", "PlatformSecurity", "Models", log, lifecycle] + (workerExtras[name]?.dependencies ?? []),
            path: "Services/\(name)/Sources/\(name)Service",
            resources: [.copy("Migrations")] + (workerExtras[name]?.resources ?? []),
            swiftSettings: swiftSettings))
    targets.append(
        .executableTarget(
            name: name.lowercased(), dependencies: [.byName(name: "\(name)Service")],
            path: "Services/\(name)/Sources/\(name.lowercased())", swiftSettings: swiftSettings))
}

let executables = ["broker", "gateway", "integration", "platform", "sandbox"] + workerServices.map { $0.lowercased() }

let package = Package(
    name: "AdvisorPlatform",
    platforms: [.macOS(.v15)],
    products: executables.map { .executable(name: $0, targets: [$0]) }
        + [.executable(name: "bus-benchmark", targets: ["bus-benchmark"])],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        // jwt-kit's own; named for the sandbox's RSA key generation.
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
    ],
    targets: targets
)
