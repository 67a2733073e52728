public import Foundation
import Synchronization
#if canImport(Glibc)
public import Glibc
#endif

/// A child process started with `posix_spawn`, for tests.
///
/// Not Foundation's `Process`: on Linux (Swift 6.3.1) `Process.run()` reads each `/proc/self/fd`
/// entry as a whole 256-byte `d_name`, past the end of glibc's buffer, and now and then that is an
/// unmapped page and the test process dies (swift-corelibs-foundation#5472, fixed upstream after
/// this toolchain). It crashed the suite inside a launch lock, so only not calling it helps.
///
/// The child gets the given descriptors as its standard input, output and error (`/dev/null` for
/// any not given) and nothing else (`closefrom(3)`), default signal handling and an empty signal
/// mask. A thread of its own waits for it, so it never lingers as a zombie.
public final class ChildProcess: Sendable {
    public let pid: pid_t
    private let ending = Ending()
    private let exited = DispatchGroup()

    /// How the child ended, written once by the waiting thread.
    private final class Ending: Sendable {
        let status = Mutex<Int32?>(nil)
    }

    /// Starts `executable` with `arguments`; `environment` nil inherits this process's. `onExit`
    /// runs on the waiting thread with the exit status.
    public init(
        _ executable: URL, arguments: [String] = [], environment: [String: String]? = nil, directory: URL? = nil,
        standardInput: Int32? = nil, standardOutput: Int32? = nil, standardError: Int32? = nil,
        onExit: (@Sendable (Int32) -> Void)? = nil
    ) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (source, target) in [(standardInput, Int32(0)), (standardOutput, 1), (standardError, 2)] {
            if let source {
                posix_spawn_file_actions_adddup2(&actions, source, target)
            } else {
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0)
            }
        }
        if let directory {
            guard Self.addChdir(&actions, directory.path) == 0 else { throw TestSupportError("cannot start a child in \(directory.path)") }
        }
        guard Self.addCloseFrom(&actions, 3) == 0 else { throw TestSupportError("cannot close a child's other descriptors") }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var everySignal = sigset_t()
        sigfillset(&everySignal)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &everySignal)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let path = executable.path
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } + [nil] }
        defer {
            argv.forEach { free($0) }
            envp?.forEach { free($0) }
        }
        var child: pid_t = 0
        let result = envp.map { envp in posix_spawn(&child, path, &actions, &attributes, argv, envp) }
            ?? posix_spawn(&child, path, &actions, &attributes, argv, environ)
        guard result == 0 else {
            throw TestSupportError("could not start \(path): \(String(cString: strerror(result)))")
        }
        let started = child
        pid = started
        exited.enter()
        let ending = self.ending
        let exited = self.exited
        Thread {
            var raw: Int32 = 0
            while waitpid(started, &raw, 0) == -1 && errno == EINTR {}
            // As Foundation reports it: the exit code, or the signal that ended it.
            let code = raw & 0x7f == 0 ? (raw >> 8) & 0xff : raw & 0x7f
            ending.status.withLock { $0 = code }
            onExit?(code)
            exited.leave()
        }.start()
    }

    /// glibc's (2.29, 2.34) extensions that Swift's Glibc module leaves out (they need _GNU_SOURCE).
    private typealias FileActionWithPath = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
    private typealias FileActionWithDescriptor = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private static let addChdir = unsafeBitCast(
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addchdir_np")!, to: FileActionWithPath.self)
    private static let addCloseFrom = unsafeBitCast(
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np")!, to: FileActionWithDescriptor.self)

    public var isRunning: Bool { ending.status.withLock { $0 == nil } }

    /// The exit code, or the signal that ended it; nil while it runs.
    public var terminationStatus: Int32? { ending.status.withLock { $0 } }

    /// Sends `signal` to the child.
    public func signal(_ signal: Int32) {
        if isRunning { kill(pid, signal) }
    }

    /// Blocks until the child has exited; for clean-up, after a kill.
    public func waitUntilExit() -> Int32 {
        exited.wait()
        return terminationStatus ?? -1
    }

    /// Waits, without holding a thread, until the child exits; its status.
    public func exitStatus() async -> Int32 {
        await withCheckedContinuation { done in
            exited.notify(queue: .global()) { done.resume(returning: self.terminationStatus ?? -1) }
        }
    }
}
