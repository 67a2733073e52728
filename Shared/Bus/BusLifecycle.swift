public import ServiceLifecycle

// The bus's long-lived parts as lifecycle services, listed in a process's service group in the
// order they depend on each other (the context first): the group stops them in reverse, each after
// the services that use it, whether the process stops on a signal or on an error.

extension BusContext: Service {
    /// Keeps the I/O thread until graceful shutdown or cancellation, then closes every socket left
    /// and stops it.
    public func run() async throws {
        try? await gracefulShutdown()
        await shutdown()
    }
}

extension MDPClient: Service {
    /// Serves calls until graceful shutdown or cancellation, then closes its sockets.
    public func run() async throws {
        try? await gracefulShutdown()
        await close()
    }
}

extension EventPublisher: Service {
    /// Publishes until graceful shutdown or cancellation, then closes its socket.
    public func run() async throws {
        try? await gracefulShutdown()
        await close()
    }
}

extension Broker: Service {
    /// Binds its endpoints (throwing if one is taken), brokers until graceful shutdown or
    /// cancellation, then tells every worker DISCONNECT and closes its sockets.
    public func run() async throws {
        try await start()
        try? await gracefulShutdown()
        await stop()
    }
}
