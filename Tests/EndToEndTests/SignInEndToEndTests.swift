import Foundation
import Synchronization
import Testing
import TestSupport

/// Sign-in under attack, through the real gateway and accounts processes.
@Suite(.timeLimit(.minutes(3)))
struct SignInEndToEndTests {
    /// The gateway believes forwarding headers from the test client, so that one machine can
    /// speak for many client addresses.
    static let behindProxy = ["GATEWAY_TRUSTED_PROXIES": "127.0.0.1"]

    @Test("while many addresses hammer sign-in with wrong passwords, a signed-in person's requests keep answering promptly")
    func signInFloodStarvesNothing() async throws {
        try await AccountsPlatform.with(gatewayEnvironment: Self.behindProxy) { platform in
            let victim = AccountsPlatform.email("victim")
            try await platform.register(email: victim)
            let token = try await platform.signIn(email: victim)

            let stop = Flag()
            let statuses = Tally()
            let attackers = (0..<24).map { attacker in
                Task {
                    var attempt = 0
                    while !stop.isSet {
                        attempt += 1
                        // An attacker waits as long as the platform may take (its 5 s deadline and more on a
                        // loaded machine): what is measured is the person's requests, not the attackers'.
                        let reply = try await platform.request(
                            "POST", "/v1/sessions",
                            json: ["email": attempt % 3 == 0 ? victim : "spray\(attempt)@example.com", "password": "wrong guess"],
                            headers: ["X-Forwarded-For": "10.\(attacker).\(attempt / 250).\(attempt % 250)"], seconds: 30)
                        statuses.add(reply.status)
                    }
                }
            }
            // The attack is under way before the person's requests are measured.
            try await Eventually.wait(timeout: .seconds(30), "the attackers' sign-ins are being answered") { statuses.count >= 48 }
            let clock = ContinuousClock()
            var slowest = Duration.zero
            for _ in 0..<40 {
                let started = clock.now
                let me = try await platform.request("GET", "/v1/me", token: token)
                slowest = max(slowest, started.duration(to: clock.now))
                #expect(me.status == 200, "\(me.text)")
            }
            stop.set()
            for attacker in attackers { try await attacker.value }
            // Normally a few milliseconds; while sign-ins slept in the worker's slots, seconds.
            #expect(slowest < .seconds(1), "the slowest GET /v1/me took \(slowest)")
            // Attackers are told no (401), slowed (429), asked to come back (503) or, when the machine is
            // loaded past the deadline, told the outcome is unknown (504); nothing failed, all were answered.
            #expect(Set(statuses.all).isSubset(of: [401, 429, 503, 504]), "\(Set(statuses.all))")
            #expect(statuses.all.contains(401))
        }
    }

    @Test("behind a trusted proxy, the sign-in history shows the client's own address; from anyone else the header is ignored")
    func historyShowsForwardedAddress() async throws {
        try await AccountsPlatform.with(gatewayEnvironment: Self.behindProxy) { platform in
            let email = AccountsPlatform.email("traveller")
            try await platform.register(email: email)
            let signedIn = try await platform.request(
                "POST", "/v1/sessions", json: ["email": email, "password": AccountsPlatform.password],
                headers: ["X-Forwarded-For": "198.51.100.200, 203.0.113.77"])
            #expect(signedIn.status == 201)
            let token = try #require(signedIn.object["token"] as? String)
            let history = try await platform.request("GET", "/v1/me/sign-ins", token: token)
            let items = try #require(history.object["items"] as? [[String: Any]])
            #expect(items.first?["ipAddress"] as? String == "203.0.113.77")
        }
        try await AccountsPlatform.with { platform in
            let email = AccountsPlatform.email("direct")
            try await platform.register(email: email)
            let signedIn = try await platform.request(
                "POST", "/v1/sessions", json: ["email": email, "password": AccountsPlatform.password],
                headers: ["X-Forwarded-For": "203.0.113.77"])
            let token = try #require(signedIn.object["token"] as? String)
            let history = try await platform.request("GET", "/v1/me/sign-ins", token: token)
            let items = try #require(history.object["items"] as? [[String: Any]])
            #expect(items.first?["ipAddress"] as? String == "127.0.0.1")
        }
    }
}

/// Set once, read from many tasks.
private final class Flag: Sendable {
    private let value = Atomic(false)
    var isSet: Bool { value.load(ordering: .relaxed) }
    func set() { value.store(true, ordering: .relaxed) }
}

/// Statuses answered to the attackers.
private final class Tally: Sendable {
    private let statuses = Mutex<[Int]>([])
    func add(_ status: Int) { statuses.withLock { $0.append(status) } }
    var count: Int { statuses.withLock { $0.count } }
    var all: [Int] { statuses.withLock { $0 } }
}
