import Bus
import Foundation
import HummingbirdWebSocket
import Logging
import Models
import ServiceKit

/// What a client may send on its stream (docs/api.md "The stream"), each answered on the stream:
/// `chat.send` (the same rules and answers as `POST /v1/chats/{id}/messages`), `chat.typing`,
/// `chat.read`, `chat.follow`, `advisors.watch`, `presence.heartbeat` and `ping`.
struct StreamClientMessages: Sendable {
    let connection: StreamConnection
    let hub: StreamHub
    let settings: StreamSettings
    let logger: Logger

    /// One client message; which fields matter depends on `type`.
    struct Message: Decodable {
        var type: String
        var chatId: UUID?
        var text: String?
        var clientMessageId: String?
        var seq: Int64?
        var advisorIds: [UUID]?
    }

    /// Reads until the client closes; every message is answered in turn, so one client's sends
    /// keep their order.
    func read(_ inbound: WebSocketInboundStream) async {
        var allowance = Allowance(burst: settings.messageBurst, perSecond: settings.messagesPerSecond)
        do {
            for try await frame in inbound.messages(maxSize: settings.maxClientMessageBytes) {
                guard case .text(let text) = frame else {
                    reply(StreamReplies.error(ServiceError(.badRequest, "send JSON text messages"), replyTo: nil))
                    continue
                }
                guard allowance.take() else {
                    reply(
                        StreamReplies.error(
                            ServiceError(.rateLimited, "slow down: too many messages on this stream", retryAfterSeconds: 1),
                            replyTo: nil))
                    continue
                }
                await handle(text)
            }
        } catch {
            logger.debug("stream read ended", metadata: ["error": "\(error)"])
        }
    }

    private func reply(_ text: String) {
        connection.enqueue(.reply(Data(text.utf8)))
    }

    private func handle(_ text: String) async {
        guard let message = try? WireCoding.decoder().decode(Message.self, from: Data(text.utf8)) else {
            reply(StreamReplies.error(ServiceError(.badRequest, "each message is a JSON object with a string \"type\""), replyTo: nil))
            return
        }
        do {
            switch message.type {
            case "chat.send":
                var missing = FieldRules()
                if message.chatId == nil { missing.fail("chatId", "required") }
                if message.text == nil { missing.fail("text", "required") }
                if message.clientMessageId == nil { missing.fail("clientMessageId", "required") }
                try missing.check()
                guard let chatId = message.chatId, let text = message.text, let clientMessageId = message.clientMessageId else { return }
                let sent = try await hub.bus.call(
                    Chat.Send.self, .init(chatId: chatId, text: text, clientMessageId: clientMessageId), as: connection.caller)
                reply(try StreamReplies.encode(StreamReplies.Sent(clientMessageId: clientMessageId, message: sent)))
            case "chat.typing":
                _ = try await hub.bus.call(Chat.Typing.self, .init(chatId: try required(message.chatId, "chatId")), as: connection.caller)
            case "chat.read":
                let request = Chat.MarkRead.Request(chatId: try required(message.chatId, "chatId"), seq: try required(message.seq, "seq"))
                _ = try await hub.bus.call(Chat.MarkRead.self, request, as: connection.caller)
            case "chat.follow":
                let chatId = try required(message.chatId, "chatId")
                let seq = message.seq ?? 0
                guard seq >= 0 else { throw ServiceError(.validationFailed, "seq is 0 or more", fieldErrors: [.init(field: "seq", code: "out_of_range")]) }
                connection.enqueue(.follow(chatId: chatId, after: seq))
            case "advisors.watch":
                let advisors = Set(message.advisorIds ?? [])
                guard advisors.count <= settings.maxWatchedAdvisors else {
                    throw ServiceError(
                        .validationFailed, "watch at most \(settings.maxWatchedAdvisors) advisors",
                        fieldErrors: [.init(field: "advisorIds", code: "too_many")])
                }
                hub.watch(advisors, by: connection)
                reply(try StreamReplies.encode(StreamReplies.Watching(advisorIds: advisors.sorted { $0.uuidString < $1.uuidString })))
            case "presence.heartbeat":
                let status = try await hub.bus.call(Directory.SetStatus.self, .init(status: .online), as: connection.caller)
                reply(try StreamReplies.encode(StreamReplies.Presence(status: status.status, expiresAt: status.expiresAt)))
            case "ping":
                reply(#"{"type":"pong"}"#)
            default:
                throw ServiceError(.badRequest, "unknown message type \"\(message.type.prefix(40))\"")
            }
        } catch {
            reply(StreamReplies.error(error, replyTo: message.type, chatId: message.chatId, clientMessageId: message.clientMessageId))
        }
    }

    private func required<Value>(_ value: Value?, _ field: String) throws -> Value {
        guard let value else {
            throw ServiceError(.validationFailed, "\(field) is required", fieldErrors: [.init(field: field, code: "required")])
        }
        return value
    }

    /// A token bucket: `burst` messages at once, refilled at `perSecond`.
    struct Allowance {
        let burst: Double
        let perSecond: Double
        var tokens: Double
        var last = ContinuousClock.now

        init(burst: Int, perSecond: Int) {
            self.burst = Double(burst)
            self.perSecond = Double(perSecond)
            tokens = Double(burst)
        }

        mutating func take() -> Bool {
            let now = ContinuousClock.now
            let elapsed = last.duration(to: now)
            last = now
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            tokens = min(burst, tokens + seconds * perSecond)
            guard tokens >= 1 else { return false }
            tokens -= 1
            return true
        }
    }
}

/// The gateway's own answers on the stream.
enum StreamReplies {
    /// `chat.sent`: the stored message of the client's `chat.send`.
    struct Sent: Encodable {
        var type = "chat.sent"
        var clientMessageId: String
        var message: Chat.Message
    }

    /// `advisors.watching`: whose status changes the connection is now sent.
    struct Watching: Encodable {
        var type = "advisors.watching"
        var advisorIds: [UUID]
    }

    /// `presence`: the advisor's status after a heartbeat.
    struct Presence: Encodable {
        var type = "presence"
        var status: Directory.Status
        var expiresAt: Date?
    }

    /// `error`: a client message was refused, with the problem the HTTP API would answer.
    struct Failure: Encodable {
        var type = "error"
        var replyTo: String?
        var chatId: UUID?
        var clientMessageId: String?
        var error: Problem
    }

    static func encode(_ value: some Encodable) throws -> String {
        String(decoding: try WireCoding.encoder().encode(value), as: UTF8.self)
    }

    static func error(_ error: any Error, replyTo: String?, chatId: UUID? = nil, clientMessageId: String? = nil) -> String {
        let failure = Failure(
            replyTo: replyTo.map { String($0.prefix(40)) }, chatId: chatId, clientMessageId: clientMessageId,
            error: ProblemMapping.problem(for: error))
        return (try? encode(failure)) ?? #"{"type":"error"}"#
    }
}
