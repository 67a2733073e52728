import Foundation
import HTTPTypes
import HummingbirdWSClient
import Logging
import NIOWebSocket
import Synchronization
import Testing

/// A real WebSocket client of `GET /v1/stream` (swift-websocket's client, not our code): it keeps
/// every message it receives, can stop reading to play a slow client, and sends what it is told.
final class StreamClient: Sendable {
    /// How the client proves who it is.
    enum Credential {
        /// `Sec-WebSocket-Protocol: advisor-stream.v1, bearer.<token>`, as a browser script does.
        case subprotocol(String)
        /// The `session` cookie, as the web client does.
        case cookie(String)
        case none
    }

    /// The origin this client library sends (`ws://host`, without the port), which the tests'
    /// gateways allow; a browser sends its page's origin.
    static let gatewayEnvironment = ["GATEWAY_ALLOWED_ORIGINS": "ws://127.0.0.1"]

    private let incoming: AsyncStream<String>
    private let feed: AsyncStream<String>.Continuation
    private let outgoing: AsyncStream<String>.Continuation
    private let gate = ReadGate()
    private let seen = MessageLog()
    private let run: Task<Void, Never>
    /// Yields once, when the connection has ended: the server's close code, or nil.
    private let ending: AsyncStream<WebSocketErrorCode?>

    private init(url: String, headers: [String: String]) {
        let (incoming, feed) = AsyncStream.makeStream(of: String.self)
        let (sends, outgoing) = AsyncStream.makeStream(of: String.self)
        self.incoming = incoming
        self.feed = feed
        self.outgoing = outgoing
        var configuration = WebSocketClientConfiguration(maxFrameSize: 1 << 16)
        for (name, value) in headers { configuration.additionalHeaders[.init(name)!] = value }
        let gate = self.gate
        let seen = self.seen
        let (ending, ended) = AsyncStream.makeStream(of: WebSocketErrorCode?.self)
        self.ending = ending
        run = Task {
            defer {
                feed.finish()
                ended.finish()
            }
            do {
                let frame = try await WebSocketClient.connect(url: url, configuration: configuration, logger: Logger(label: "test.stream")) {
                inbound, outbound, _ in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for await text in sends { try await outbound.write(.text(text)) }
                    }
                    var frames = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                    while true {
                        await gate.wait()
                        guard let frame = try await frames.next() else { break }
                        if case .text(let text) = frame,
                            let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
                        {
                            seen.items.withLock { $0.append(object.mapValues { StreamClient.sendable($0) }) }
                            feed.yield(text)
                        }
                    }
                    group.cancelAll()
                }
                }
                seen.ending.withLock { $0 = "closed \(String(describing: frame?.closeCode))" }
                ended.yield(frame?.closeCode)
            } catch {
                seen.ending.withLock { $0 = "failed: \(error)" }
                ended.yield(nil)
            }
        }
    }

    /// Connects to `gateway` (http://…) and waits for `ready`: from then on every push reaches it.
    static func connect(
        _ gateway: String, as credential: Credential, query: String = "", headers: [String: String] = [:]
    ) async throws -> StreamClient {
        let client = open(gateway, as: credential, query: query, headers: headers)
        _ = try await client.next("the stream is ready") { $0["type"] as? String == "ready" }
        return client
    }

    /// Opens a connection without waiting for anything.
    static func open(_ gateway: String, as credential: Credential, query: String = "", headers: [String: String] = [:]) -> StreamClient {
        var headers = headers
        switch credential {
        case .subprotocol(let token): headers["Sec-WebSocket-Protocol"] = "advisor-stream.v1, bearer.\(token)"
        case .cookie(let token): headers["Cookie"] = "session=\(token)"
        case .none: break
        }
        let url = gateway.replacingOccurrences(of: "http://", with: "ws://") + "/v1/stream" + query
        return StreamClient(url: url, headers: headers)
    }

    /// Sends one JSON message.
    func send(_ message: [String: Any]) throws {
        outgoing.yield(String(decoding: try JSONSerialization.data(withJSONObject: message), as: UTF8.self))
    }

    /// The next message that matches, skipping (but keeping) the others; fails after `timeout`.
    @discardableResult
    func next(
        _ what: String, timeout: Duration = .seconds(15), where matches: @escaping @Sendable ([String: Any]) -> Bool
    ) async throws -> [String: Any] {
        let incoming = self.incoming
        let found = try await withThrowingTaskGroup(of: [String: any Sendable]?.self) { group in
            group.addTask {
                for await text in incoming {
                    guard let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else { continue }
                    if matches(object) { return object.mapValues { StreamClient.sendable($0) } }
                }
                return nil
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            return first
        }
        if found == nil, let ended = seen.ending.withLock({ $0 }) {
            Issue.record("\(what): the connection ended first: \(ended)")
        }
        return try #require(found, "\(what): not received; received \(received.map { $0["type"] ?? "?" })")
    }

    /// Every message this client has received so far, in order.
    var received: [[String: Any]] { seen.items.withLock { $0.map { $0.mapValues { $0 as Any } } } }

    /// The `seq` of every `chat.message` of `chatId` received so far, in order.
    func sequence(of chatId: String) -> [Int] {
        received.filter { $0["type"] as? String == "chat.message" && $0["chatId"] as? String == chatId }.compactMap { $0["seq"] as? Int }
    }

    /// Stops reading from the socket (its buffers fill, as a slow client's do) until `resumeReading`.
    func pauseReading() { gate.close() }
    func resumeReading() { gate.open() }

    /// How the server closed the connection (nil if it was not a clean close), once it has.
    func closed(timeout: Duration = .seconds(30), sourceLocation: SourceLocation = #_sourceLocation) async throws -> WebSocketErrorCode? {
        let ending = self.ending
        return try await withThrowingTaskGroup(of: WebSocketErrorCode??.self) { group in
            group.addTask {
                for await code in ending { return .some(code) }
                return nil
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            return try #require(first, "the connection did not close", sourceLocation: sourceLocation)
        }
    }

    /// Closes the connection from this side.
    func close() {
        outgoing.finish()
        run.cancel()
    }

    private static func sendable(_ value: Any) -> any Sendable {
        switch value {
        case let text as String: text
        case let number as Int: number
        case let flag as Bool: flag
        case let object as [String: Any]: object.mapValues { sendable($0) }
        case let list as [Any]: list.map { sendable($0) }
        default: String(describing: value)
        }
    }
}

/// The messages a client received, in order.
final class MessageLog: Sendable {
    let items = Mutex<[[String: any Sendable]]>([])
    /// How the connection ended, once it has.
    let ending = Mutex<String?>(nil)
}

/// Lets a reader through while open; holds it while closed.
final class ReadGate: Sendable {
    private let state = Mutex<(open: Bool, waiting: [CheckedContinuation<Void, Never>])>((true, []))

    func wait() async {
        await withCheckedContinuation { continuation in
            let goOn = state.withLock { state -> Bool in
                if state.open { return true }
                state.waiting.append(continuation)
                return false
            }
            if goOn { continuation.resume() }
        }
    }

    func close() { state.withLock { $0.open = false } }

    func open() {
        let waiting = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.open = true
            defer { state.waiting = [] }
            return state.waiting
        }
        for continuation in waiting { continuation.resume() }
    }
}
