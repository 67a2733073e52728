public import ServiceLifecycle

extension Database: Service {
    /// Keeps the pool open until graceful shutdown or cancellation, then closes it: work already
    /// queued finishes, later work throws `StoreError.poolClosed`. List the database before the
    /// services that use it, so the service group closes it after them.
    public func run() async throws {
        try? await gracefulShutdown()
        await close()
    }
}
