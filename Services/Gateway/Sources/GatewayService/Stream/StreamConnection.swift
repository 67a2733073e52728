import Bus
import Foundation
import HummingbirdWebSocket
import Logging
import Models
import NIOCore
import NIOWebSocket
import ServiceKit
import Synchronization

/// One client's `GET /v1/stream` WebSocket.
///
/// Everything the client is sent goes through one bounded send queue and one writer, which keeps
/// each chat's messages in order and once per connection: it remembers the last `seq` it sent of
/// every chat, drops what it already sent, and fills a gap from the transcript (`chat.messages`)
/// before going on. A client that cannot keep up fills its queue and is closed with 4000 ("resume"):
/// it reconnects with the last `seq` it saw and loses nothing, and nobody else waits for it.
final class StreamConnection: Sendable {
    enum Outgoing: Sendable {
        /// A push from a service, as published.
        case push(Data, StreamPush.Heading)
        /// The answer to one of the client's own messages.
        case reply(Data)
        /// The client asks for a chat's messages after `seq`, then the live ones.
        case follow(chatId: UUID, after: Int64)
    }

    /// Why the gateway closes a connection, and the close code the client reads.
    enum Closing: Sendable {
        case slow, restarting, sessionEnded, unavailable
        /// The upgrade was not admitted: 4401 (sign in), 4403 (origin), 4422 (bad `after`), 1013.
        case refused(ServiceError)

        var code: WebSocketErrorCode {
            switch self {
            case .slow: .unknown(4000)
            case .restarting: .unknown(1012)
            case .sessionEnded: .unknown(4401)
            case .unavailable: .unknown(1013)
            case .refused(let error):
                switch error.code {
                case .unauthenticated: .unknown(4401)
                case .forbidden: .unknown(4403)
                case .validationFailed: .unknown(4422)
                default: .unknown(1013)
                }
            }
        }

        var reason: String {
            switch self {
            case .slow: "too slow: reconnect and resume"
            case .restarting: "gateway restarting: reconnect and resume"
            case .sessionEnded: "session ended: sign in again"
            case .unavailable: "try again later: reconnect and resume"
            case .refused(let error): String(error.message.prefix(120))
            }
        }
    }

    let accountId: UUID
    let caller: Caller
    let token: String
    private let inbox: AsyncStream<Outgoing>
    private let queue: AsyncStream<Outgoing>.Continuation
    private let closings: AsyncStream<Closing>
    private let closer: AsyncStream<Closing>.Continuation

    init(session: Session, doNotTrack: Bool, queueLimit: Int) {
        accountId = session.accountId
        caller = Caller(accountId: session.accountId, roles: session.roles, doNotTrack: doNotTrack)
        token = session.token
        (inbox, queue) = AsyncStream.makeStream(of: Outgoing.self, bufferingPolicy: .bufferingOldest(queueLimit))
        (closings, closer) = AsyncStream.makeStream(of: Closing.self, bufferingPolicy: .bufferingOldest(1))
    }

    /// Queues `item` for the client; a full queue closes the connection (`slow`).
    func enqueue(_ item: Outgoing) {
        if case .dropped = queue.yield(item) { close(.slow) }
    }

    /// Asks the connection to close with `reason`'s code.
    func close(_ reason: Closing) {
        closer.yield(reason)
    }

    /// Serves the connection until the client leaves or the gateway closes it.
    func serve(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, channel: any Channel, resume: [UUID: Int64],
        hub: StreamHub, sessions: SessionCache, settings: StreamSettings, logger: Logger
    ) async {
        do {
            try await hub.attach(self)
        } catch {
            await Self.close(outbound, channel: channel, with: .unavailable, within: settings.closeTimeout)
            return
        }
        defer {
            hub.detach(self)
            queue.finish()
        }
        let client = StreamClientMessages(connection: self, hub: hub, settings: settings, logger: logger)
        let closing: Closing? = await withTaskGroup(of: Closing?.self) { group in
            group.addTask { await self.write(to: outbound, resuming: resume, bus: hub.bus, logger: logger) }
            group.addTask {
                await client.read(inbound)
                return nil
            }
            group.addTask {
                for await reason in self.closings { return reason }
                return nil
            }
            group.addTask { await self.watchSession(sessions, every: settings.sessionCheckInterval) }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        if let closing {
            await Self.close(outbound, channel: channel, with: closing, within: settings.closeTimeout)
        }
    }

    /// Sends the close frame; a client that does not read even that is cut off after `timeout`.
    private static func close(_ outbound: WebSocketOutboundWriter, channel: any Channel, with closing: Closing, within timeout: Duration) async {
        let sent = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                (try? await outbound.close(closing.code, reason: closing.reason)) != nil
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        if !sent { try? await channel.close() }
    }

    /// Ends the connection once its session no longer opens (signed out, revoked, expired, erased).
    private func watchSession(_ sessions: SessionCache, every interval: Duration) async -> Closing? {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: interval)
                let session = try await sessions.session(for: token)
                if session.accountId != accountId { return .sessionEnded }
            } catch is CancellationError {
                return nil
            } catch let error as ServiceError where error.code == .unauthenticated {
                return .sessionEnded
            } catch {
                // accounts unreachable: keep the connection; the next check decides.
            }
        }
        return nil
    }

    // MARK: The writer

    /// The transcript could not be read to fill a gap; the client resumes later.
    private struct GapNotFilled: Error {}

    private func write(to outbound: WebSocketOutboundWriter, resuming resume: [UUID: Int64], bus: BusClient, logger: Logger)
        async -> Closing?
    {
        var sent: [UUID: Int64] = [:]
        do {
            for (chatId, after) in resume.sorted(by: { $0.key.uuidString < $1.key.uuidString }) {
                try await catchUp(chatId, after: after, sent: &sent, to: outbound, bus: bus)
            }
            // From here on every push to the person reaches this connection.
            try await outbound.write(.text(#"{"type":"ready"}"#))
            for await item in inbox {
                switch item {
                case .push(let payload, let heading):
                    if heading.type == "chat.message", let chatId = heading.chatId, let seq = heading.seq {
                        if let last = sent[chatId] {
                            if seq <= last { continue }
                            if seq > last + 1 {
                                // Pushes can pass each other or be lost: the transcript has them all.
                                try await catchUp(chatId, after: last, sent: &sent, to: outbound, bus: bus)
                                continue
                            }
                        }
                        sent[chatId] = seq
                    } else if heading.type == "chat.accepted", let chatId = heading.chatId, sent[chatId] == nil {
                        // A chat that begins while connected: every message of it is owed, from the first.
                        sent[chatId] = 0
                    }
                    try await outbound.write(.text(String(decoding: payload, as: UTF8.self)))
                case .reply(let payload):
                    try await outbound.write(.text(String(decoding: payload, as: UTF8.self)))
                case .follow(let chatId, let after):
                    sent[chatId] = after
                    try await catchUp(chatId, after: after, sent: &sent, to: outbound, bus: bus)
                }
            }
            return nil
        } catch is GapNotFilled {
            return .unavailable
        } catch {
            if !(error is CancellationError) {
                logger.debug("stream write ended", metadata: ["error": "\(error)"])
            }
            return nil
        }
    }

    /// Sends the chat's messages after `after` that this connection has not sent yet, in order,
    /// from the transcript. A chat the person is not in is answered with an error, not a close.
    private func catchUp(
        _ chatId: UUID, after: Int64, sent: inout [UUID: Int64], to outbound: WebSocketOutboundWriter, bus: BusClient
    ) async throws {
        var cursor = after
        while true {
            let page: Chat.Messages.Response
            do {
                page = try await bus.call(
                    Chat.Messages.self, .init(chatId: chatId, after: cursor, limit: Chat.Messages.maxLimit), as: caller)
            } catch let error as ServiceError where error.code == .notFound {
                try await outbound.write(.text(StreamReplies.error(error, replyTo: "resume", chatId: chatId)))
                return
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                throw GapNotFilled()
            }
            for message in page.items where message.seq > (sent[chatId] ?? after) {
                let payload = try WireCoding.encoder().encode(StreamPush.ChatMessage(message))
                try await outbound.write(.text(String(decoding: payload, as: UTF8.self)))
                sent[chatId] = message.seq
            }
            if sent[chatId] == nil { sent[chatId] = after }
            guard let next = page.nextAfter else { return }
            cursor = next
        }
    }
}
