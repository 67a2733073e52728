import Foundation
import Synchronization
import Testing
import TestSupport

/// A third-party MDP peer from Tests/Interop, run with the system Python (which has pyzmq).
final class PythonPeer: Sendable {
    static let python = "/usr/bin/python3"
    static let folder = URL(filePath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appending(path: "Interop")

    private let process: ChildProcess
    private let script: String
    private let input: Pipe
    private let state = State()

    /// What the peer printed and how it ended, written from the reader's and the waiter's threads.
    private final class State: Sendable {
        let output = Mutex(Data())
        let exit = Mutex<Int32?>(nil)
        /// Set when stdout reached end of file: nothing more will be printed.
        let drained = Mutex(false)
    }

    /// Starts `script` with `arguments`; its stdout is collected, its stdin kept open.
    init(_ script: String, _ arguments: [String]) throws {
        try Self.requirePyZMQ()
        self.script = script
        input = Pipe()
        let stdout = Pipe()
        process = try ChildProcess(
            URL(filePath: Self.python), arguments: ["-u", Self.folder.appending(path: script).path] + arguments, directory: Self.folder,
            standardInput: input.fileHandleForReading.fileDescriptor, standardOutput: stdout.fileHandleForWriting.fileDescriptor
        ) { [state] status in
            state.exit.withLock { $0 = status }
        }
        // The child has its own copies; ours would keep its stdin from ending and our reads from seeing the end.
        try? input.fileHandleForReading.close()
        try? stdout.fileHandleForWriting.close()
        // Blocking reads until end of file, on a thread of our own (not the cooperative pool).
        let reader = stdout.fileHandleForReading
        Thread { [state] in
            while true {
                let chunk = reader.availableData
                if chunk.isEmpty { break }
                state.output.withLock { $0.append(chunk) }
            }
            state.drained.withLock { $0 = true }
        }.start()
    }

    var lines: [String] {
        state.output.withLock { String(decoding: $0, as: UTF8.self) }.split(separator: "\n").map(String.init)
    }

    /// What the peer announced with its "READY <detail>" line.
    func ready(timeout: Duration = .seconds(10)) async throws -> String {
        try await eventually(timeout: timeout, "\(script) to start") {
            lines.contains { $0.hasPrefix("READY ") } || state.exit.withLock { $0 } != nil
        }
        guard let line = lines.first(where: { $0.hasPrefix("READY ") }) else {
            throw PeerFailure(message: "the Python peer exited before it was ready: \(lines)")
        }
        return String(line.dropFirst("READY ".count))
    }

    /// Waits for the peer to exit by itself and returns its status.
    func exitStatus(timeout: Duration = .seconds(20)) async throws -> Int32 {
        try await eventually(timeout: timeout, "the Python peer to exit") {
            state.exit.withLock { $0 } != nil && state.drained.withLock { $0 }
        }
        return state.exit.withLock { $0 } ?? -1
    }

    /// Closes its stdin (the peers' signal to stop) and waits for it to exit.
    func stop() async throws {
        try? input.fileHandleForWriting.close()
        _ = try await exitStatus(timeout: .seconds(5))
    }

    /// Runs a one-shot peer to completion: its exit status and the reply lines it printed.
    static func run(_ script: String, _ arguments: [String]) async throws -> (status: Int32, replies: [String]) {
        let peer = try PythonPeer(script, arguments)
        try? peer.input.fileHandleForWriting.close()
        let status = try await peer.exitStatus()
        return (status, peer.lines.filter { $0.hasPrefix("REPLY ") })
    }

    private static let pyZMQChecked = Mutex<Bool?>(nil)

    /// Fails loudly, never skips, when the interpreter lacks pyzmq.
    static func requirePyZMQ() throws {
        let available = try pyZMQChecked.withLock { known -> Bool in
            if let known { return known }
            let probe = try ChildProcess(URL(filePath: python), arguments: ["-c", "import zmq"])
            known = probe.waitUntilExit() == 0
            return known!
        }
        guard available else {
            throw PeerFailure(
                message: "\(python) cannot import zmq: install python3-zmq (apt-get install python3-zmq) to run the interop tests")
        }
    }
}

struct PeerFailure: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
