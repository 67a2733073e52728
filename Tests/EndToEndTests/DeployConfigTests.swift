import Foundation
import Testing
import TestSupport

/// `docker-compose.yml` as docker-compose 1.29 resolves it (`docker-compose config`, no engine
/// needed): every process is a service, every bus socket uses CURVE, workers can be scaled.
@Suite("Compose file")
struct DeployConfigTests {
    private static let workers = ["accounts", "directory", "chat", "billing", "boards", "notifications"]
    private static let processes = ["broker"] + workers + ["gateway", "integration"]
    /// The processes with a schema and role of their own.
    private static let schemaOwners = workers + ["integration"]

    @Test("lists every process, PostgreSQL and the provisioning job as services")
    func servicesAreComplete() async throws {
        let compose = try ComposeFile()
        let result = try await compose.run(["config", "--services"], variables: compose.dummyVariables())
        #expect(result.status == 0, "docker-compose config --services failed: \(result.stderr)")
        let services = Set(result.stdout.split(whereSeparator: \.isNewline).map(String.init))
        #expect(services == Set(Self.processes + ["postgres", "provision"]))
    }

    @Test("gives every process its own CURVE keypair and the broker's public key")
    func everyProcessUsesCurve() async throws {
        let compose = try ComposeFile()
        let variables = compose.dummyVariables()
        let config = try await compose.resolvedConfig(variables: variables)
        for process in Self.processes {
            let service = try #require(config.services[process], "no service \(process)")
            let environment = service.environment ?? [:]
            let prefix = process.uppercased()
            #expect(service.command == [process], "\(process) runs \(service.command ?? [])")
            #expect(environment["BUS_CURVE_PUBLIC_KEY"] == variables["\(prefix)_CURVE_PUBLIC_KEY"], "\(process)")
            #expect(environment["BUS_CURVE_SECRET_KEY"] == variables["\(prefix)_CURVE_SECRET_KEY"], "\(process)")
            if process == "broker" {
                #expect(environment["BUS_CURVE_PEERS"] == variables["BUS_CURVE_PEERS"])
                #expect(environment["BUS_CURVE_SERVER_KEY"] == nil, "the broker is the CURVE server")
            } else {
                #expect(environment["BUS_CURVE_SERVER_KEY"] == variables["BROKER_CURVE_PUBLIC_KEY"], "\(process)")
            }
        }
    }

    @Test("binds the bus in the broker and connects everyone else to it; admin on 0.0.0.0:9000")
    func busEndpointsAndAdminPort() async throws {
        let compose = try ComposeFile()
        let config = try await compose.resolvedConfig(variables: compose.dummyVariables())
        for process in Self.processes {
            let environment = try #require(config.services[process]?.environment, "\(process) has no environment")
            let host = process == "broker" ? "0.0.0.0" : "broker"
            #expect(environment["BROKER_ENDPOINT"] == "tcp://\(host):5555", "\(process)")
            #expect(environment["EVENTS_IN_ENDPOINT"] == "tcp://\(host):5556", "\(process)")
            #expect(environment["EVENTS_OUT_ENDPOINT"] == "tcp://\(host):5557", "\(process)")
            #expect(environment["ADMIN_HOST"] == "0.0.0.0", "\(process)")
            #expect(environment["ADMIN_PORT"] == "9000", "\(process)")
            let probe = config.services[process]?.healthcheck?.test ?? []
            #expect(probe == ["CMD", "/app/platform", "probe", "http://127.0.0.1:9000/readyz"], "\(process)")
        }
    }

    @Test("connects each worker and integration to PostgreSQL as its own role, after provisioning")
    func workersUseTheirOwnRoles() async throws {
        let compose = try ComposeFile()
        let variables = compose.dummyVariables()
        let config = try await compose.resolvedConfig(variables: variables)
        for worker in Self.schemaOwners {
            let service = try #require(config.services[worker], "no service \(worker)")
            let password = try #require(variables["DB_PASSWORD_\(worker.uppercased())"])
            #expect(
                service.environment?["DATABASE_URL"] == "postgresql://\(worker):\(password)@postgres:5432/advisor")
            #expect(service.dependsOn?["broker"]?.condition == "service_healthy", "\(worker)")
            #expect(service.dependsOn?["provision"]?.condition == "service_completed_successfully", "\(worker)")
        }
        let provision = try #require(config.services["provision"])
        #expect(provision.command == ["platform", "db-provision"])
        #expect(provision.dependsOn?["postgres"]?.condition == "service_healthy")
        for worker in Self.schemaOwners {
            #expect(provision.environment?["DB_PASSWORD_\(worker.uppercased())"] != nil, "\(worker)")
        }
    }

    @Test("gives the accounts keys to accounts alone, the chat key to chat, billing's to billing, the processor's, the SMS provider's and the webhook secrets' to integration")
    func dataKeysGoToTheirServiceOnly() async throws {
        let compose = try ComposeFile()
        let variables = compose.dummyVariables()
        let config = try await compose.resolvedConfig(variables: variables)
        for (key, owner) in [
            ("ACCOUNTS_DATA_KEY", "accounts"), ("ACCOUNTS_EMAIL_INDEX_KEY", "accounts"), ("CHAT_DATA_KEY", "chat"), ("BILLING_DATA_KEY", "billing"),
            ("PROCESSOR_SECRET_KEY", "integration"), ("PROCESSOR_WEBHOOK_SECRET", "integration"), ("SMS_AUTH_TOKEN", "integration"),
            ("INTEGRATION_DATA_KEY", "integration"),
        ] {
            #expect(config.services[owner]?.environment?[key] == variables[key])
            for process in Self.processes where process != owner {
                #expect(config.services[process]?.environment?[key] == nil, "\(process)")
            }
            var missing = variables
            missing[key] = nil
            let result = try await compose.run(["config"], variables: missing)
            #expect(result.status != 0)
            #expect(result.stderr.contains(key))
        }
    }

    @Test("lets any service scale: no container names, host ports only on gateway and integration")
    func servicesScale() async throws {
        let compose = try ComposeFile()
        let config = try await compose.resolvedConfig(variables: compose.dummyVariables())
        let named = config.services.filter { $0.value.containerName != nil }.keys.sorted()
        #expect(named.isEmpty, "services with a container_name cannot scale")
        for worker in Self.workers + ["broker", "provision", "postgres"] {
            #expect(config.services[worker]?.ports == nil, "\(worker) publishes a host port")
        }
        #expect(config.services["gateway"]?.ports?.map(\.target) == [8080])
        #expect(config.services["integration"]?.ports?.map(\.target) == [8081])
    }

    @Test("refuses to start without a CURVE key, naming the variable")
    func missingCurveKeyIsNamed() async throws {
        let compose = try ComposeFile()
        var variables = compose.dummyVariables()
        variables["CHAT_CURVE_SECRET_KEY"] = nil
        let result = try await compose.run(["config"], variables: variables)
        #expect(result.status != 0)
        #expect(result.stderr.contains("CHAT_CURVE_SECRET_KEY"))
    }
}

// MARK: - docker-compose, driven as a process

/// The repository's compose file and the docker-compose executable that reads it.
private struct ComposeFile {
    /// The repository root: three folders up from this file (Tests/EndToEndTests/…).
    let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let dockerCompose: URL
    /// Every `${NAME…}` the compose file interpolates.
    let variableNames: [String]

    init() throws {
        dockerCompose = try #require(
            findExecutable("docker-compose"),
            "docker-compose is not installed: apt-get install docker-compose (Deploy/local/test does it as root)")
        let text = try String(contentsOf: root.appendingPathComponent("docker-compose.yml"), encoding: .utf8)
        variableNames = Set(text.matches(of: /\$\{([A-Z][A-Z0-9_]*)/).map { String($0.output.1) }).sorted()
        try #require(!variableNames.isEmpty, "docker-compose.yml interpolates no variables")
    }

    /// A distinct made-up value for every variable: ports are numbers, the allowed-keys
    /// list names every public key, everything else is a unique word.
    func dummyVariables() -> [String: String] {
        var values: [String: String] = [:]
        for (index, name) in variableNames.enumerated() where name != "BUS_CURVE_PEERS" {
            let word = name.lowercased().filter { $0.isLetter || $0.isNumber }
            values[name] = name.hasSuffix("_PORT") ? String(18_000 + index) : "v\(index)\(word)"
        }
        if variableNames.contains("BUS_CURVE_PEERS") {
            values["BUS_CURVE_PEERS"] = values.keys.sorted()
                .filter { $0.hasSuffix("_CURVE_PUBLIC_KEY") && $0 != "BROKER_CURVE_PUBLIC_KEY" }
                .compactMap { name in values[name].map { "\(name.dropLast("_CURVE_PUBLIC_KEY".count).lowercased())=\($0)" } }
                .joined(separator: ",")
        }
        return values
    }

    /// `docker-compose config` parsed (through PyYAML, which docker-compose itself runs on).
    func resolvedConfig(variables: [String: String]) async throws -> ComposeConfig {
        let result = try await run(["config"], variables: variables)
        try #require(result.status == 0, "docker-compose config failed: \(result.stderr)")
        let scratch = try Scratch()
        defer { scratch.remove() }
        let yaml = scratch.url.appendingPathComponent("config.yml")
        try Data(result.stdout.utf8).write(to: yaml)
        let python = try #require(findExecutable("python3", preferring: "/usr/bin/python3"), "no python3")
        let json = try await runProcess(
            python,
            ["-c", "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)", yaml.path],
            in: root)
        try #require(json.status == 0, "PyYAML could not read the config: \(json.stderr)")
        return try JSONDecoder().decode(ComposeConfig.self, from: Data(json.stdout.utf8))
    }

    /// Runs docker-compose on the compose file with exactly these variables in an env file,
    /// and nothing from this process's environment but PATH.
    func run(_ arguments: [String], variables: [String: String]) async throws -> ProcessResult {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let envFile = scratch.url.appendingPathComponent("compose.env")
        let lines = variables.sorted { $0.key < $1.key }.map { "\($0.key)='\($0.value)'\n" }
        try Data(lines.joined().utf8).write(to: envFile)
        return try await runProcess(
            dockerCompose,
            ["-f", root.appendingPathComponent("docker-compose.yml").path, "--env-file", envFile.path] + arguments,
            in: root,
            home: scratch.url)
    }
}

/// The parts of a resolved compose file the tests look at.
private struct ComposeConfig: Decodable {
    struct Service: Decodable {
        var command: [String]?
        var environment: [String: String]?
        var ports: [Port]?
        var healthcheck: Healthcheck?
        var dependsOn: [String: Dependency]?
        var containerName: String?

        enum CodingKeys: String, CodingKey {
            case command, environment, ports, healthcheck
            case dependsOn = "depends_on"
            case containerName = "container_name"
        }
    }
    struct Port: Decodable { var target: Int }
    struct Healthcheck: Decodable { var test: [String]? }
    struct Dependency: Decodable { var condition: String? }

    var services: [String: Service]
}

// MARK: - processes and files

/// What a finished process printed and how it exited.
private struct ProcessResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// A private temporary folder.
private struct Scratch {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("deploy-config-tests-\(UUID().uuidString)", isDirectory: true)

    init() throws {
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func remove() {
        try? FileManager.default.removeItem(at: url)
    }
}

/// The first executable file named `name` on PATH, or `preferred` when that one exists.
private func findExecutable(_ name: String, preferring preferred: String? = nil) -> URL? {
    let fileManager = FileManager.default
    if let preferred, fileManager.isExecutableFile(atPath: preferred) {
        return URL(fileURLWithPath: preferred)
    }
    let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
    let folders = path.split(separator: ":").map(String.init) + ["/usr/local/bin", "/usr/bin", "/bin"]
    return folders.lazy
        .map { URL(fileURLWithPath: $0).appendingPathComponent(name) }
        .first { fileManager.isExecutableFile(atPath: $0.path) }
}

/// Runs a program to completion without blocking a cooperative thread: its output goes to
/// files (no pipe to fill up), and its exit arrives through the termination handler.
private func runProcess(
    _ executable: URL, _ arguments: [String], in folder: URL, home: URL? = nil
) async throws -> ProcessResult {
    let scratch = try Scratch()
    defer { scratch.remove() }
    let outURL = scratch.url.appendingPathComponent("stdout")
    let errURL = scratch.url.appendingPathComponent("stderr")
    try Data().write(to: outURL)
    try Data().write(to: errURL)
    let out = try FileHandle(forWritingTo: outURL)
    let err = try FileHandle(forWritingTo: errURL)

    let process = try ChildProcess(
        executable, arguments: arguments,
        environment: [
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
            "HOME": (home ?? scratch.url).path,
            "LANG": "C.UTF-8",
        ], directory: folder, standardOutput: out.fileDescriptor, standardError: err.fileDescriptor)
    let status = await process.exitStatus()
    try out.close()
    try err.close()
    return ProcessResult(
        status: status,
        stdout: try String(contentsOf: outURL, encoding: .utf8),
        stderr: try String(contentsOf: errURL, encoding: .utf8))
}
