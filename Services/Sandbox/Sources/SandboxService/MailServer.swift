import Foundation
import Logging
import NIOCore
import NIOExtras
import NIOPosix
import ServiceLifecycle
import Synchronization

/// One message the sandbox's mail server accepted, as it came (its envelope and raw source).
struct ReceivedMail: Sendable {
    let id: String
    let from: String
    let to: [String]
    let raw: String
    let receivedAt: Date
}

/// The messages the sandbox's mail server keeps (the newest 10,000), and the failures a test asked
/// it to answer with next.
final class MailStore: Sendable {
    static let kept = 10_000

    private struct State {
        var messages: [ReceivedMail] = []
        /// Every message accepted since the start, also those no longer kept.
        var counter = 0
        /// Transactions still to refuse at `MAIL FROM`, and with which reply.
        var failures: (count: Int, reply: String) = (0, "")
    }

    private let state = Mutex(State())

    func add(from: String, to: [String], raw: String) -> String {
        state.withLock { state in
            state.counter += 1
            let id = "sandbox-\(state.counter)"
            state.messages.append(ReceivedMail(id: id, from: from, to: to, raw: raw, receivedAt: Date()))
            if state.messages.count > Self.kept { state.messages.removeFirst(state.messages.count - Self.kept) }
            return id
        }
    }

    /// The messages to `recipient` (every message without one), oldest first.
    func messages(to recipient: String?) -> [ReceivedMail] {
        let all = state.withLock { $0.messages }
        guard let recipient = recipient?.lowercased() else { return all }
        return all.filter { $0.to.contains { $0.lowercased() == recipient } }
    }

    /// How many messages were accepted since the start, and how many are kept.
    func counts() -> (received: Int, kept: Int) {
        state.withLock { ($0.counter, $0.messages.count) }
    }

    func clear() {
        state.withLock { $0.messages = [] }
    }

    /// The next `count` transactions are refused at `MAIL FROM` with `code` (4xx: try again later;
    /// 5xx: never).
    func fail(next count: Int, code: Int) {
        state.withLock { $0.failures = (count, "\(code) \(code < 500 ? "4.3.0 try again later" : "5.7.1 refused") (sandbox)") }
    }

    /// The reply a failing transaction gets, if one should fail now.
    func takeFailure() -> String? {
        state.withLock { state in
            guard state.failures.count > 0 else { return nil }
            state.failures.count -= 1
            return state.failures.reply
        }
    }
}

/// A real SMTP server (RFC 5321) for local runs and tests: it accepts mail for anyone and keeps it
/// (`MailStore`), with ESMTP's PIPELINING, 8BITMIME, SMTPUTF8 and SIZE, and AUTH PLAIN and LOGIN
/// when credentials are configured. A recipient whose local part is `bounce` is refused (550), as
/// a hard bounce; `tempfail` gets 451.
struct MailServer: Service {
    let host: String
    let port: Int
    let credentials: (user: String, password: String)?
    let store: MailStore
    /// Set once the port is open.
    let listening: ListeningFlag
    let logger: Logger

    /// The largest message accepted (`SIZE`).
    static let maxMessageBytes = 10 * 1024 * 1024

    func run() async throws {
        let credentials = self.credentials
        let store = self.store
        let logger = self.logger
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineBasedFrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(SMTPSession(credentials: credentials, store: store, logger: logger))
                }
            }
            .bind(host: host, port: port).get()
        listening.value.store(true, ordering: .releasing)
        logger.info("sandbox mail server listening", metadata: ["smtp.address": "\(channel.localAddress?.description ?? "?")"])
        try? await gracefulShutdown()
        try? await channel.close()
    }
}

/// One SMTP connection's dialogue, on its event loop.
private final class SMTPSession: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Phase {
        case command
        case data
        case authPlain
        case authLoginUser
        case authLoginPassword(user: String)
    }

    private let credentials: (user: String, password: String)?
    private let store: MailStore
    private let logger: Logger
    private var phase = Phase.command
    private var greeted = false
    private var authenticated = false
    private var from: String?
    private var recipients: [String] = []
    private var data: [String] = []
    private var dataBytes = 0

    init(credentials: (user: String, password: String)?, store: MailStore, logger: Logger) {
        self.credentials = credentials
        self.store = store
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        reply("220 sandbox.advisor.test ESMTP sandbox mail server", context: context)
        context.flush()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        let line = buffer.readString(length: buffer.readableBytes) ?? ""
        switch phase {
        case .data:
            receiveData(line, context: context)
        case .authPlain:
            phase = .command
            finishAuthPlain(line, context: context)
        case .authLoginUser:
            phase = .authLoginPassword(user: Self.base64(line) ?? "")
            reply("334 UGFzc3dvcmQ6", context: context)
        case .authLoginPassword(let user):
            phase = .command
            check(user: user, password: Self.base64(line) ?? "", context: context)
        case .command:
            command(line, context: context)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func command(_ line: String, context: ChannelHandlerContext) {
        let verb = line.prefix { $0 != " " }.uppercased()
        let argument = line.dropFirst(verb.count).trimmingCharacters(in: .whitespaces)
        switch verb {
        case "EHLO", "HELO":
            greeted = true
            resetTransaction()
            guard verb == "EHLO" else { return reply("250 sandbox.advisor.test", context: context) }
            var lines = ["sandbox.advisor.test greets \(argument)", "PIPELINING", "8BITMIME", "SMTPUTF8", "SIZE \(MailServer.maxMessageBytes)"]
            if credentials != nil { lines.append("AUTH PLAIN LOGIN") }
            reply(lines.enumerated().map { "250\($0.offset == lines.count - 1 ? " " : "-")\($0.element)" }.joined(separator: "\r\n"), context: context)
        case "AUTH":
            guard credentials != nil, greeted, !authenticated else { return reply("503 5.5.1 AUTH not possible now", context: context) }
            let parts = argument.split(separator: " ")
            switch parts.first?.uppercased() {
            case "PLAIN" where parts.count == 2:
                finishAuthPlain(String(parts[1]), context: context)
            case "PLAIN":
                phase = .authPlain
                reply("334 ", context: context)
            case "LOGIN":
                phase = .authLoginUser
                reply("334 VXNlcm5hbWU6", context: context)
            default:
                reply("504 5.5.4 unrecognized authentication type", context: context)
            }
        case "MAIL":
            guard greeted else { return reply("503 5.5.1 say EHLO first", context: context) }
            guard credentials == nil || authenticated else { return reply("530 5.7.0 authentication required", context: context) }
            guard let address = Self.path(in: argument, after: "FROM:") else { return reply("501 5.5.4 syntax: MAIL FROM:<address>", context: context) }
            if let failure = store.takeFailure() { return reply(failure, context: context) }
            resetTransaction()
            from = address
            reply("250 2.1.0 sender ok", context: context)
        case "RCPT":
            guard from != nil else { return reply("503 5.5.1 need MAIL first", context: context) }
            guard let address = Self.path(in: argument, after: "TO:"), !address.isEmpty else {
                return reply("501 5.5.4 syntax: RCPT TO:<address>", context: context)
            }
            switch address.split(separator: "@").first?.lowercased() {
            case "bounce": reply("550 5.1.1 no such mailbox here (sandbox)", context: context)
            case "tempfail": reply("451 4.2.0 mailbox busy, try later (sandbox)", context: context)
            default:
                recipients.append(address)
                reply("250 2.1.5 recipient ok", context: context)
            }
        case "DATA":
            guard from != nil, !recipients.isEmpty else { return reply("503 5.5.1 need MAIL and RCPT first", context: context) }
            phase = .data
            data = []
            dataBytes = 0
            reply("354 end data with <CR><LF>.<CR><LF>", context: context)
        case "RSET":
            resetTransaction()
            reply("250 2.0.0 ok", context: context)
        case "NOOP":
            reply("250 2.0.0 ok", context: context)
        case "QUIT":
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "221 2.0.0 bye\r\n"))).whenComplete { _ in context.close(promise: nil) }
        default:
            reply("500 5.5.2 command not recognized", context: context)
        }
    }

    private func receiveData(_ line: String, context: ChannelHandlerContext) {
        if line == "." {
            phase = .command
            guard dataBytes <= MailServer.maxMessageBytes, let from else {
                resetTransaction()
                return reply("552 5.3.4 message too big", context: context)
            }
            let id = store.add(from: from, to: recipients, raw: data.joined(separator: "\r\n") + "\r\n")
            logger.info("sandbox mail accepted", metadata: ["mail.id": "\(id)", "mail.recipients": "\(recipients.count)"])
            resetTransaction()
            return reply("250 2.0.0 ok: queued as \(id)", context: context)
        }
        dataBytes += line.utf8.count + 2
        // Beyond the limit the lines are counted, not kept; the end answers 552.
        if dataBytes <= MailServer.maxMessageBytes { data.append(line.hasPrefix(".") ? String(line.dropFirst()) : line) }
    }

    private func finishAuthPlain(_ encoded: String, context: ChannelHandlerContext) {
        // authzid NUL authcid NUL password
        let parts = (Self.base64(encoded) ?? "").split(separator: "\0", omittingEmptySubsequences: false)
        guard parts.count == 3 else { return reply("501 5.5.2 cannot decode AUTH PLAIN", context: context) }
        check(user: String(parts[1]), password: String(parts[2]), context: context)
    }

    private func check(user: String, password: String, context: ChannelHandlerContext) {
        if let credentials, credentials.user == user, credentials.password == password {
            authenticated = true
            reply("235 2.7.0 authentication succeeded", context: context)
        } else {
            reply("535 5.7.8 authentication credentials invalid", context: context)
        }
    }

    private func resetTransaction() {
        from = nil
        recipients = []
        data = []
        dataBytes = 0
    }

    private func reply(_ text: String, context: ChannelHandlerContext) {
        context.write(wrapOutboundOut(ByteBuffer(string: text + "\r\n")), promise: nil)
    }

    /// The address between angle brackets after `keyword` (`FROM:<a@b> SIZE=12` → `a@b`).
    private static func path(in argument: String, after keyword: String) -> String? {
        guard argument.uppercased().hasPrefix(keyword) else { return nil }
        let rest = argument.dropFirst(keyword.count).trimmingCharacters(in: .whitespaces)
        guard rest.hasPrefix("<"), let close = rest.firstIndex(of: ">") else { return nil }
        return String(rest[rest.index(after: rest.startIndex)..<close])
    }

    private static func base64(_ text: String) -> String? {
        Data(base64Encoded: text.trimmingCharacters(in: .whitespaces)).map { String(decoding: $0, as: UTF8.self) }
    }
}
