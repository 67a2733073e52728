import Foundation
import Logging
import NIOCore
import NIOExtras
import NIOPosix
import NIOSSL

/// Where mail goes: the relay of `SMTP_URL` (`smtp://[user:password@]host[:port]`, port 25 by
/// default), with AUTH when the URL carries credentials.
struct SMTPRelay: Sendable, Equatable {
    var host: String
    var port: Int
    var username: String?
    var password: String?

    /// nil for text that is not such a URL.
    init?(url text: String) {
        guard let url = URLComponents(string: text), url.scheme == "smtp", let host = url.host, !host.isEmpty, url.path.isEmpty || url.path == "/"
        else { return nil }
        self.host = host
        self.port = url.port ?? 25
        self.username = url.user.flatMap { $0.removingPercentEncoding }
        self.password = url.password.flatMap { $0.removingPercentEncoding }
    }

    /// The relay is named by an IP address (its certificate is then checked for that address).
    var isAddress: Bool { host.contains(":") || host.allSatisfy { $0.isNumber || $0 == "." } }
}

/// One message for one recipient: the envelope and the RFC 5322 text (CRLF line ends).
struct OutgoingMail: Sendable {
    var from: String
    var to: String
    var text: String
}

/// What became of one message.
enum SMTPOutcome: Sendable, Equatable {
    /// The relay took it (its reply).
    case accepted(String)
    /// Worth trying again later: a 4xx reply, or the connection failed or timed out.
    case temporary(String)
    /// Never worth trying again: a 5xx reply to the message.
    case permanent(String)
    /// The relay refused the recipient for good (a 5xx to RCPT): a hard bounce.
    case bounced(String)
}

/// A small SMTP client (RFC 5321) on SwiftNIO: EHLO (HELO if refused), STARTTLS (RFC 3207) when
/// the relay offers it, AUTH PLAIN or LOGIN when credentials are configured, and the messages of a
/// batch over one connection, each its own transaction, with MAIL, RCPT and DATA sent together
/// when the relay offers PIPELINING (RFC 2920).
struct SMTPClient: Sendable {
    let relay: SMTPRelay
    /// The name this client gives in EHLO.
    let heloName: String
    /// The longest silence of the relay (connecting, or waiting for a reply).
    let timeout: Duration
    /// For STARTTLS: the relay's certificate is verified against the system's roots, or those of
    /// `NOTIFICATIONS_SMTP_CA_FILE`; nil when the TLS library could not be set up (then no
    /// STARTTLS, and the settings reader has said so).
    let tls: NIOSSLContext?
    let logger: Logger

    /// A TLS context that verifies relays against `caFile`'s certificates, or the system's.
    static func tlsContext(caFile: String?) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        if let caFile { configuration.trustRoots = .file(caFile) }
        return try NIOSSLContext(configuration: configuration)
    }

    /// Sends `mails` over one connection; one outcome per message, in order. Failing to connect,
    /// to greet or to authenticate makes every message temporary (the relay may come back, or its
    /// configuration be fixed).
    func send(_ mails: [OutgoingMail]) async -> [SMTPOutcome] {
        guard !mails.isEmpty else { return [] }
        var outcomes: [SMTPOutcome] = []
        let readTimeout = TimeAmount.nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000)
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(readTimeout)
                .connect(host: relay.host, port: relay.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: readTimeout))
                        try channel.pipeline.syncOperations.addHandler(CloseWhenIdle())
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineBasedFrameDecoder()))
                        return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
            let tls = self.tls
            let relay = self.relay
            try await channel.executeThenClose { inbound, outbound in
                var session = Session(inbound: inbound.makeAsyncIterator(), outbound: outbound)
                try await session.open(as: heloName, relay: relay) {
                    // Below the line decoder: from here on every byte in and out is encrypted.
                    guard let tls else { return false }
                    let raw = channel.channel
                    try await raw.eventLoop.submit {
                        let handler = try NIOSSLClientHandler(context: tls, serverHostname: relay.isAddress ? nil : relay.host)
                        try raw.pipeline.syncOperations.addHandler(handler, position: .first)
                    }.get()
                    return true
                }
                for mail in mails {
                    outcomes.append(try await session.transmit(mail))
                }
                try? await session.quit()
            }
        } catch {
            logger.warning("smtp session failed", metadata: ["smtp.relay": "\(relay.host):\(relay.port)", "error": "\(error)"])
        }
        // Whatever the session did not finish waits for another try.
        let reason = "the SMTP session ended before this message was sent"
        return outcomes + Array(repeating: .temporary(reason), count: mails.count - outcomes.count)
    }

    /// A reply: its code and its text lines.
    struct Reply {
        var code: Int
        var lines: [String]
        var text: String { "\(code) \(lines.joined(separator: " / "))" }
    }

    enum SessionError: Error, CustomStringConvertible {
        /// Closed by the relay, or by us after its silence of `timeout`.
        case closed
        case malformed(String)
        case refused(Reply)

        var description: String {
            switch self {
            case .closed: "the relay closed the connection, or did not answer in time"
            case .malformed(let line): "an unreadable reply: \(line.prefix(80))"
            case .refused(let reply): "refused: \(reply.text.prefix(200))"
            }
        }
    }

    /// One connection's dialogue.
    struct Session {
        var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
        let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
        var extensions: Set<String> = []
        var authMechanisms: Set<String> = []

        /// Greets the relay, turns TLS on when it offers STARTTLS and `startTLS` can (it installs
        /// the TLS handler and says whether it did), greets it again then, and authenticates.
        mutating func open(as heloName: String, relay: SMTPRelay, startTLS: () async throws -> Bool) async throws {
            try Self.expect(try await read(), 220)
            try await greet(heloName)
            if extensions.contains("STARTTLS") {
                try await write("STARTTLS\r\n")
                try Self.expect(try await read(), 220)
                guard try await startTLS() else { throw SessionError.malformed("TLS could not be set up for STARTTLS") }
                // RFC 3207: everything learnt before TLS is forgotten, and the client greets again.
                extensions = []
                authMechanisms = []
                try await greet(heloName)
            }
            if let username = relay.username {
                try await authenticate(username, relay.password ?? "")
            }
        }

        /// EHLO, and the extensions the relay offers; HELO if it does not speak ESMTP.
        private mutating func greet(_ heloName: String) async throws {
            try await write("EHLO \(heloName)\r\n")
            let ehlo = try await read()
            if ehlo.code == 250 {
                for line in ehlo.lines.dropFirst() {
                    let words = line.uppercased().split(separator: " ")
                    guard let name = words.first else { continue }
                    extensions.insert(String(name))
                    if name == "AUTH" { authMechanisms = Set(words.dropFirst().map(String.init)) }
                }
            } else {
                try await write("HELO \(heloName)\r\n")
                try Self.expect(try await read(), 250)
            }
        }

        private mutating func authenticate(_ username: String, _ password: String) async throws {
            if authMechanisms.contains("PLAIN") {
                let token = Data("\0\(username)\0\(password)".utf8).base64EncodedString()
                try await write("AUTH PLAIN \(token)\r\n")
            } else if authMechanisms.contains("LOGIN") {
                try await write("AUTH LOGIN\r\n")
                try Self.expect(try await read(), 334)
                try await write(Data(username.utf8).base64EncodedString() + "\r\n")
                try Self.expect(try await read(), 334)
                try await write(Data(password.utf8).base64EncodedString() + "\r\n")
            } else {
                throw SessionError.malformed("the relay offers neither AUTH PLAIN nor AUTH LOGIN")
            }
            try Self.expect(try await read(), 235)
        }

        /// One transaction; a refusal is this message's outcome, a broken connection ends the session.
        mutating func transmit(_ mail: OutgoingMail) async throws -> SMTPOutcome {
            let envelope = "MAIL FROM:<\(mail.from)>\r\nRCPT TO:<\(mail.to)>\r\nDATA\r\n"
            var replies: [Reply] = []
            if extensions.contains("PIPELINING") {
                try await write(envelope)
                for _ in 0..<3 { replies.append(try await read()) }
            } else {
                for command in envelope.split(separator: "\r\n") {
                    try await write(command + "\r\n")
                    let reply = try await read()
                    replies.append(reply)
                    if reply.code >= 400 { break }
                }
            }
            if let refusal = replies.first(where: { $0.code >= 400 }) {
                // After a refused DATA (354 never came) the transaction is reset for the next message.
                if replies.last?.code == 354 { try await write(".\r\n"); _ = try await read() }
                try await write("RSET\r\n")
                _ = try await read()
                if refusal.code < 500 { return .temporary(refusal.text) }
                return replies.count >= 2 && replies[1].code >= 500 && replies[0].code < 400 ? .bounced(refusal.text) : .permanent(refusal.text)
            }
            try await write(Self.dotStuffed(mail.text) + ".\r\n")
            let done = try await read()
            switch done.code {
            case 200..<300: return .accepted(done.text)
            case 500...: return .permanent(done.text)
            default: return .temporary(done.text)
            }
        }

        mutating func quit() async throws {
            try await write("QUIT\r\n")
            _ = try await read()
        }

        /// The message's lines with a leading dot doubled (RFC 5321 4.5.2), each CRLF-ended (a
        /// bare LF becomes CRLF), byte by byte.
        static func dotStuffed(_ text: String) -> String {
            let dot = UInt8(ascii: "."), cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n")
            var output: [UInt8] = []
            output.reserveCapacity(text.utf8.count + 64)
            var atLineStart = true
            for byte in text.utf8 {
                if byte == cr { continue }
                if atLineStart && byte == dot { output.append(dot) }
                if byte == lf {
                    output.append(cr)
                    atLineStart = true
                } else {
                    atLineStart = false
                }
                output.append(byte)
            }
            if !atLineStart {
                output.append(cr)
                output.append(lf)
            }
            return String(decoding: output, as: UTF8.self)
        }

        private static func expect(_ reply: Reply, _ code: Int) throws {
            guard reply.code == code else { throw SessionError.refused(reply) }
        }

        private func write(_ text: some StringProtocol) async throws {
            try await outbound.write(ByteBuffer(string: String(text)))
        }

        /// Reads one reply, all its lines (`250-…` continues, `250 …` ends).
        private mutating func read() async throws -> Reply {
            var lines: [String] = []
            while true {
                guard let buffer = try await inbound.next() else { throw SessionError.closed }
                let line = String(buffer: buffer)
                guard line.utf8.count >= 3, let code = Int(line.prefix(3)) else { throw SessionError.malformed(line) }
                lines.append(String(line.dropFirst(4)))
                if line.utf8.count == 3 || line.dropFirst(3).first == " " { return Reply(code: code, lines: lines) }
                guard lines.count < 100 else { throw SessionError.malformed("a reply of over 100 lines") }
            }
        }
    }
}

/// Closes a connection that has been silent for its read timeout (`IdleStateHandler`), so a relay
/// that stops answering ends the session instead of holding it.
private final class CloseWhenIdle: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}
