import CZeroMQ
import Foundation
import Logging
import Metrics

/// The context's ZAP handler (ZeroMQ RFC 27): decides which CURVE clients a broker admits.
///
/// libzmq asks it about every handshake on a server socket that has a ZAP domain; without it
/// CURVE would accept any client key. It is a ROUTER bound at `inproc://zeromq.zap.01`, polled by
/// the I/O thread like every other socket. Each broker registers its own domain and peers, so
/// several brokers can share one context (tests do). An admitted client's ZAP user id is its
/// public key, which libzmq then attaches to every message it sends (`User-Id`), so the broker
/// can look up that process's policy per message.
final class ZAPHandler {
    static let endpoint = "inproc://zeromq.zap.01"

    private struct Domain {
        var peers: [String: BusPeerPolicy]
        var logger: Logger
    }

    private let socket: ZSocket
    private var domains: [String: Domain] = [:]
    private let denied = Counter(label: "bus_zap_denied_total")

    init(reactor: Reactor) throws(BusError) {
        socket = try reactor.openSocket(type: ZMQ_ROUTER)
        do {
            try socket.set(ZMQ_LINGER, 0)
            try socket.bind(Self.endpoint)
        } catch {
            socket.close(linger: 0)
            throw error
        }
        reactor.watch(socket) { [unowned self] in self.drain() }
    }

    /// Admits, on server sockets whose ZAP domain is `domain`, only clients with these public keys.
    func register(domain: String, peers: [String: BusPeerPolicy], logger: Logger) {
        domains[domain] = Domain(peers: peers, logger: logger)
    }

    func unregister(domain: String) {
        domains[domain] = nil
    }

    func close() {
        socket.close(linger: 0)
    }

    private func drain() {
        while let frames = socket.receive() {
            answer(frames)
        }
    }

    /// Request: [peer, "", "1.0", request id, domain, address, identity, mechanism, credentials…].
    private func answer(_ frames: [Data]) {
        guard frames.count >= 8, frames[1].isEmpty else { return }
        let peer = frames[0]
        let requestID = frames[3]
        guard frames[2] == Data("1.0".utf8) else {
            reply(peer, requestID, status: "500", text: "unsupported ZAP version")
            return
        }
        let domainName = String(decoding: frames[4], as: UTF8.self)
        let address = String(decoding: frames[5], as: UTF8.self)
        let mechanism = String(decoding: frames[7], as: UTF8.self)
        guard let domain = domains[domainName] else {
            reply(peer, requestID, status: "400", text: "unknown domain")
            return
        }
        guard mechanism == "CURVE", frames.count >= 9, let key = Z85.encode(frames[8]) else {
            domain.logger.warning(
                "bus CURVE client denied: not a CURVE handshake",
                metadata: ["bus.peer.address": "\(address)", "bus.zap.mechanism": "\(mechanism)"])
            denied.increment()
            reply(peer, requestID, status: "400", text: "CURVE required")
            return
        }
        if let admitted = domain.peers[key] {
            domain.logger.debug(
                "bus CURVE client admitted",
                metadata: ["bus.peer.address": "\(address)", "bus.peer.key": "\(key)", "bus.peer": "\(admitted.identity)"])
            reply(peer, requestID, status: "200", text: "OK", userID: key)
        } else {
            domain.logger.warning(
                "bus CURVE client denied: key not in the allow-list",
                metadata: ["bus.peer.address": "\(address)", "bus.peer.key": "\(key)"])
            denied.increment()
            reply(peer, requestID, status: "400", text: "key not allowed")
        }
    }

    private func reply(_ peer: Data, _ requestID: Data, status: String, text: String, userID: String = "") {
        _ = socket.send([
            peer, Data(), Data("1.0".utf8), requestID, Data(status.utf8), Data(text.utf8), Data(userID.utf8), Data(),
        ])
    }
}
