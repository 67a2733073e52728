import Foundation

/// MDP/0.1 (ZeroMQ RFC 7) frame constants, shared by our broker, client and worker.
enum MDP {
    /// Protocol header of every client message: "MDPC01".
    static let client = Data("MDPC01".utf8)
    /// Protocol header of every worker message: "MDPW01".
    static let worker = Data("MDPW01".utf8)
    static let empty = Data()

    /// Worker commands, one byte each.
    enum Command: UInt8 {
        case ready = 1
        case request = 2
        case reply = 3
        case heartbeat = 4
        case disconnect = 5

        var frame: Data { Data([rawValue]) }

        init?(frame: Data) {
            guard frame.count == 1, let command = Command(rawValue: frame[frame.startIndex]) else { return nil }
            self = command
        }
    }

    static let ready = Command.ready.frame
    static let request = Command.request.frame
    static let reply = Command.reply.frame
    static let heartbeat = Command.heartbeat.frame
    static let disconnect = Command.disconnect.frame

    /// Service names with this prefix are answered by the broker itself (RFC 8).
    static let mmiPrefix = Data("mmi.".utf8)
    static let mmiService = Data("mmi.service".utf8)
    static let mmiWorkers = Data("mmi.workers".utf8)
    static let mmiStream = Data("mmi.stream".utf8)
}

extension Data {
    /// Whether the bytes start with `prefix`.
    func hasPrefix(_ prefix: Data) -> Bool {
        count >= prefix.count && self.prefix(prefix.count).elementsEqual(prefix)
    }
}
