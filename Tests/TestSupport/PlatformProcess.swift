public import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One of the platform's real executables, started by a test with its own environment; its output
/// goes to a log file that a failing test prints.
public final class PlatformProcess: Sendable {
    public let name: String
    public let adminPort: Int
    public let logFile: URL
    private let process: ChildProcess

    /// Starts `executable` (a product name, found in `PLATFORM_BIN_DIR` or SwiftPM's build folder).
    public init(_ executable: String, arguments: [String] = [], environment: [String: String], adminPort: Int? = nil) throws {
        self.name = executable
        self.adminPort = try adminPort ?? FreePort.next()
        self.logFile = FileManager.default.temporaryDirectory.appendingPathComponent("\(executable)-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        let output = try FileHandle(forWritingTo: logFile)
        defer { try? output.close() }
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { _, new in new }
        env["ADMIN_PORT"] = String(self.adminPort)
        env["LOG_LEVEL"] = env["LOG_LEVEL"] ?? "debug"
        process = try ChildProcess(
            try Self.binDirectory().appendingPathComponent(executable), arguments: arguments, environment: env,
            standardOutput: output.fileDescriptor, standardError: output.fileDescriptor)
    }

    /// The folder holding the built executables.
    public static func binDirectory() throws -> URL {
        if let dir = ProcessInfo.processInfo.environment["PLATFORM_BIN_DIR"] {
            return URL(fileURLWithPath: dir)
        }
        // `swift test` runs the test bundle from the build folder, beside the executables.
        let bundle = Bundle.main.bundleURL
        for candidate in [bundle, bundle.deletingLastPathComponent()] where FileManager.default.fileExists(atPath: candidate.appendingPathComponent("broker").path) {
            return candidate
        }
        throw TestSupportError("executables not found: build them (swift build) and set PLATFORM_BIN_DIR to `swift build --show-bin-path`")
    }

    public var isRunning: Bool { process.isRunning }
    public var processIdentifier: Int32 { process.pid }

    /// Sends a signal (SIGTERM for a graceful stop, SIGKILL for a crash).
    public func signal(_ signal: Int32) {
        process.signal(signal)
    }

    /// Waits for the process to exit and returns its status.
    @discardableResult
    public func waitForExit(timeout: Duration = .seconds(15)) async throws -> Int32 {
        try await Eventually.wait(timeout: timeout, "\(name) exits") { !self.process.isRunning }
        return process.terminationStatus ?? -1
    }

    /// Waits until `/readyz` on the admin port answers 200.
    public func waitUntilReady(timeout: Duration = .seconds(30)) async throws {
        do {
            try await Eventually.wait(timeout: timeout, "\(name) is ready") {
                guard self.process.isRunning else { throw TestSupportError("\(self.name) exited early") }
                return await HTTP.get("http://127.0.0.1:\(self.adminPort)/readyz")?.status == 200
            }
        } catch {
            throw TestSupportError("\(error)\n--- \(name) log ---\n\(log())")
        }
    }

    /// What the process has written so far.
    public func log() -> String {
        (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
    }

    /// Kills the process if it still runs; for test clean-up.
    public func stop() {
        if process.isRunning {
            process.signal(SIGKILL)
            _ = process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: logFile)
    }
}

/// A test failure with a message.
public struct TestSupportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Polls a condition until it holds or the time is up; for conditions no event announces.
public enum Eventually {
    public static func wait(
        timeout: Duration, _ what: String, every interval: Duration = .milliseconds(50),
        _ condition: @Sendable () async throws -> Bool
    ) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        while clock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: interval)
        }
        throw TestSupportError("timed out after \(timeout) waiting until \(what)")
    }
}

/// Free TCP ports on the loopback interface, for tests that run side by side.
public enum FreePort {
    /// A port that was free a moment ago, below the kernel's ephemeral range (32768 and up) so that
    /// sockets bound to port 0 elsewhere in the suite never take it in between, and never handed out
    /// twice by this process.
    public static func next() throws -> Int {
        for _ in 0..<200 {
            let port = Int.random(in: 20000..<32000)
            guard handedOut.withLock({ $0.insert(port).inserted }) else { continue }
            if isFree(port) { return port }
        }
        throw TestSupportError("could not find a free port")
    }

    private static let handedOut = Mutex<Set<Int>>([])

    private static func isFree(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return bindLoopback(fd, port: port) != nil
    }

    /// Three free ports as bus endpoints: MDP, events in, events out.
    public static func busEnvironment() throws -> [String: String] {
        [
            "BROKER_ENDPOINT": "tcp://127.0.0.1:\(try next())",
            "EVENTS_IN_ENDPOINT": "tcp://127.0.0.1:\(try next())",
            "EVENTS_OUT_ENDPOINT": "tcp://127.0.0.1:\(try next())",
            // Test platforms run the bus in the clear unless a test gives CURVE keys, which win.
            "BUS_INSECURE": "1",
        ]
    }
}

/// A loopback port bound but never listening: connecting to it is refused, and nothing else can
/// bind it while this holds it. For tests of a peer that cannot be reached.
public final class RefusingPort: Sendable {
    public let port: Int
    private let descriptor: Int32

    public init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0, let port = bindLoopback(descriptor, port: 0) else {
            if descriptor >= 0 { close(descriptor) }
            throw TestSupportError("could not reserve a loopback port")
        }
        self.descriptor = descriptor
        self.port = port
    }

    deinit {
        close(descriptor)
    }
}

/// Binds `descriptor` to 127.0.0.1:`port` (0 for any); the port bound, or nil.
private func bindLoopback(_ descriptor: Int32, port: Int) -> Int? {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0
        }
    }
    return bound ? Int(UInt16(bigEndian: address.sin_port)) : nil
}

/// Plain HTTP/1.1 requests over a socket, for tests of the HTTP entries and admin ports.
public enum HTTP {
    /// An answer: status, headers (lower-cased names; each `Set-Cookie` on a line of its own) and body.
    public struct Answer: Sendable {
        public var status: Int
        public var headers: [String: String]
        public var body: Data
    }

    /// GET `url`; nil when nothing answers.
    public static func get(_ url: String, headers: [String: String] = [:]) async -> Answer? {
        await request("GET", url, headers: headers, body: nil)
    }

    /// Sends one request with `Connection: close` and reads the whole answer, off the cooperative pool;
    /// nil when nothing came for `seconds`.
    public static func request(
        _ method: String, _ url: String, headers: [String: String] = [:], body: Data?, seconds: Int = 5
    ) async -> Answer? {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(returning: blockingRequest(method, url, headers: headers, body: body, seconds: seconds))
            }
        }
    }

    private static func blockingRequest(_ method: String, _ url: String, headers: [String: String], body: Data?, seconds: Int) -> Answer? {
        guard let components = URLComponents(string: url), let host = components.host, let port = components.port else { return nil }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var limit = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr(host == "localhost" ? "127.0.0.1" : host)
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else { return nil }
        var path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        if let query = components.percentEncodedQuery { path += "?" + query }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if let body { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        var outgoing = Data(head.utf8)
        if let body { outgoing.append(body) }
        let sent = outgoing.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard sent == outgoing.count else { return nil }
        var incoming = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { break }
            incoming.append(contentsOf: buffer[0..<count])
        }
        return parse(incoming)
    }

    private static func parse(_ data: Data) -> Answer? {
        guard let split = data.firstRange(of: Data("\r\n\r\n".utf8)) else { return nil }
        let head = String(decoding: data[..<split.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        guard let statusLine = head.first, statusLine.count >= 12, let status = Int(statusLine.dropFirst(9).prefix(3)) else { return nil }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            // Several cookies set in one answer are each kept, a line apart; other repeats, the last.
            headers[name] = name == "set-cookie" && headers[name] != nil ? headers[name]! + "\n" + value : value
        }
        var body = Data(data[split.upperBound...])
        if headers["transfer-encoding"]?.lowercased() == "chunked" {
            body = dechunk(body)
        }
        return Answer(status: status, headers: headers, body: body)
    }

    private static func dechunk(_ data: Data) -> Data {
        var result = Data()
        var rest = data[...]
        while let lineEnd = rest.firstRange(of: Data("\r\n".utf8)),
            let size = Int(String(decoding: rest[..<lineEnd.lowerBound], as: UTF8.self), radix: 16), size > 0
        {
            let start = lineEnd.upperBound
            guard rest.distance(from: start, to: rest.endIndex) >= size else { break }
            let end = rest.index(start, offsetBy: size)
            result.append(rest[start..<end])
            rest = rest[rest.index(end, offsetBy: min(2, rest.distance(from: end, to: rest.endIndex)))...]
        }
        return result
    }
}
