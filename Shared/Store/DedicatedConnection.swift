import CLibPQ
public import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One long-lived connection on a thread of its own, for session state that must persist
/// between calls: a session advisory lock, `LISTEN`.
///
/// If the connection is lost, `run` and `waitForNotifications` throw `StoreError.connectionLost`
/// and the next call reconnects; session state (locks, LISTENs) is then gone, and restoring it
/// is the caller's business.
public final class DedicatedConnection: Sendable {
    private let pool: ConnectionPool
    private let interrupter: WaitInterrupter

    /// A dedicated connection for `config` (`poolSize` is ignored); it connects on first use.
    public init(_ config: DatabaseConfig, logger: Logger) {
        var logger = logger
        if let schema = config.schema { logger[metadataKey: "db.schema"] = "\(schema)" }
        self.interrupter = WaitInterrupter(logger: logger)
        self.pool = ConnectionPool(config: config, size: 1, threadName: "store-dedicated", logger: logger)
    }

    deinit {
        interrupter.close()
        pool.shutdown()
    }

    /// Runs body with the connection, on its own thread.
    public func run<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        try await pool.run(body)
    }

    /// Waits (on its own thread: poll() on PQsocket, then PQconsumeInput/PQnotifies) until a NOTIFY arrives on a channel this connection LISTENs to, or timeout. Returns the channel names received (empty on timeout).
    ///
    /// Notifications that arrived during earlier `run` calls are returned at once. Cancelling
    /// the task ends the wait with `CancellationError`; `close()` ends it with `StoreError.poolClosed`.
    public func waitForNotifications(timeout: Duration) async throws -> [String] {
        let deadline = ContinuousClock.now + timeout
        let interrupter = interrupter
        let token = interrupter.beginWait()
        return try await withTaskCancellationHandler {
            try await pool.run { connection in
                defer { interrupter.endWait(token) }
                return try connection.waitForNotifications(until: deadline, interrupter: interrupter, token: token)
            }
        } onCancel: {
            interrupter.cancel(token)
        }
    }

    /// Ends a wait in progress, then closes the connection and stops the thread.
    public func close() async {
        interrupter.close()
        await pool.close()
    }
}

extension Connection {
    fileprivate func waitForNotifications(until deadline: ContinuousClock.Instant, interrupter: WaitInterrupter, token: UInt64) throws -> [String] {
        interrupter.drain()
        // Those read while earlier statements ran are already queued in libpq.
        var received = takeNotifications()
        if !received.isEmpty { return received }
        let socket = PQsocket(handle)
        guard socket >= 0 else { throw markLost() }
        while true {
            try interrupter.check(token)
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else { return [] }
            let (seconds, attoseconds) = remaining.components
            let milliseconds = Int32(clamping: seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
            var descriptors = [
                pollfd(fd: socket, events: Int16(POLLIN), revents: 0),
                pollfd(fd: interrupter.readDescriptor, events: Int16(POLLIN), revents: 0),
            ]
            if poll(&descriptors, nfds_t(descriptors.count), milliseconds) < 0 {
                guard errno == EINTR else { throw StoreError.queryFailed.with(context: "poll() failed with errno \(errno)") }
                continue
            }
            if descriptors[1].revents != 0 {
                interrupter.drain()
            }
            if descriptors[0].revents != 0 {
                guard PQconsumeInput(handle) == 1, PQstatus(handle) == CONNECTION_OK else { throw markLost() }
                received = takeNotifications()
                if !received.isEmpty { return received }
            }
        }
    }

    private func takeNotifications() -> [String] {
        var channels: [String] = []
        while let notification = PQnotifies(handle) {
            channels.append(String(cString: notification.pointee.relname))
            PQfreemem(notification)
        }
        return channels
    }
}

/// Lets another thread end a notification wait: the waiting thread polls the read end of a pipe
/// beside the socket, and cancellation or close writes a byte to it and records why.
final class WaitInterrupter: Sendable {
    private struct State {
        var closing = false
        var nextToken: UInt64 = 0
        var cancelled: Set<UInt64> = []
    }

    private let state = Mutex(State())
    /// The pipe's ends, -1 if it could not be made; poll() ignores a negative descriptor, so a
    /// wait then still ends at its timeout, just not early.
    let readDescriptor: Int32
    private let writeDescriptor: Int32

    init(logger: Logger) {
        var descriptors: [Int32] = [-1, -1]
        if pipe(&descriptors) == 0 {
            for descriptor in descriptors {
                _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
                _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
            }
        } else {
            logger.info("store could not create a wake-up pipe; notification waits end only at their timeout", metadata: ["db.errno": "\(errno)"])
            descriptors = [-1, -1]
        }
        readDescriptor = descriptors[0]
        writeDescriptor = descriptors[1]
    }

    deinit {
        closeDescriptor(readDescriptor)
        closeDescriptor(writeDescriptor)
    }

    func beginWait() -> UInt64 {
        state.withLock { state in
            state.nextToken += 1
            return state.nextToken
        }
    }

    func endWait(_ token: UInt64) {
        _ = state.withLock { $0.cancelled.remove(token) }
    }

    func cancel(_ token: UInt64) {
        _ = state.withLock { $0.cancelled.insert(token) }
        wake()
    }

    func close() {
        state.withLock { $0.closing = true }
        wake()
    }

    /// Throws if the wait for `token` was cancelled or the connection is closing.
    func check(_ token: UInt64) throws {
        let (closing, cancelled) = state.withLock { ($0.closing, $0.cancelled.contains(token)) }
        if closing { throw StoreError.poolClosed }
        if cancelled { throw CancellationError() }
    }

    func drain() {
        guard readDescriptor >= 0 else { return }
        var bytes = [UInt8](repeating: 0, count: 64)
        while read(readDescriptor, &bytes, bytes.count) > 0 {}
    }

    private func wake() {
        guard writeDescriptor >= 0 else { return }
        var byte: UInt8 = 1
        // A full pipe already holds a pending wake-up; nothing more is needed.
        _ = write(writeDescriptor, &byte, 1)
    }
}

/// Closes a file descriptor if it is one (the module's own `close` methods shadow libc's).
private func closeDescriptor(_ descriptor: Int32) {
    guard descriptor >= 0 else { return }
    #if canImport(Glibc)
    _ = Glibc.close(descriptor)
    #else
    _ = Darwin.close(descriptor)
    #endif
}
