import Foundation
import Logging
import Models
import Store
import Testing
import TestSupport

/// The advisor directory through the real gateway, broker and services (docs/api.md "Advisor directory").
@Suite(.serialized, .timeLimit(.minutes(4)))
struct DirectoryEndToEndTests {
    /// A short grace window, so that missed heartbeats show within the test.
    static let directoryEnvironment: [ServiceName: [String: String]] = [
        .directory: ["DIRECTORY_PRESENCE_GRACE_SECONDS": "2", "DIRECTORY_PRICE_MIN_CENTS": "99", "DIRECTORY_PRICE_MAX_CENTS": "2999"]
    ]

    static var completeProfile: [String: Any] {
        [
        "headline": "Tarot readings with heart", "bio": "Twenty years of cards.", "categories": ["tarot", "love-relationships"],
            "pricePerMinuteCents": 199, "languages": ["en", "es"], "yearsExperience": 20,
        ]
    }

    @Test("an advisor's profile appears after registration, is edited, is listed once complete; presence expires")
    func profileAndPresence() async throws {
        try await AccountsPlatform.with(serviceEnvironment: Self.directoryEnvironment) { platform in
            let advisorEmail = AccountsPlatform.email("advisor")
            let advisorId = try await platform.register(email: advisorEmail, displayName: "Madame Zora", role: "advisor")
            let advisor = try await platform.signIn(email: advisorEmail)
            let memberEmail = AccountsPlatform.email("member")
            try await platform.register(email: memberEmail)
            let member = try await platform.signIn(email: memberEmail)

            let own = try await platform.request("GET", "/v1/advisors/me", token: advisor)
            #expect(own.status == 200, "\(own.text)")
            #expect(own.object["listed"] as? Bool == false && own.object["displayName"] as? String == "Madame Zora")
            let hidden = try await platform.request("GET", "/v1/advisors/\(advisorId)", token: member)
            #expect(hidden.status == 404, "an unlisted profile is the advisor's alone: \(hidden.text)")
            let early = try await platform.request("PUT", "/v1/advisors/me/status", token: advisor, json: ["status": "online"])
            #expect(early.status == 409 && early.code == "profile_incomplete", "\(early.text)")

            let byMember = try await platform.request("PUT", "/v1/advisors/me", token: member, json: Self.completeProfile)
            #expect(byMember.status == 403, "a member has no profile to edit: \(byMember.text)")
            let anonymous = try await platform.request("PUT", "/v1/advisors/me", json: Self.completeProfile)
            #expect(anonymous.status == 401)
            for (field, value) in [
                ("pricePerMinuteCents", 5 as Any), ("pricePerMinuteCents", 3000), ("categories", ["tarot", "knitting"]),
                ("photoUrl", "https://evil.example/me.png"), ("photoUrl", "http://images.advisor-platform.example/a.png"),
                ("languages", ["English"]), ("headline", "   "), ("yearsExperience", -1),
            ] {
                let refused = try await platform.request("PUT", "/v1/advisors/me", token: advisor, json: [field: value])
                #expect(refused.status == 422, "\(field)=\(value): \(refused.text)")
            }
            let stillEmpty = try await platform.request("GET", "/v1/advisors/me", token: advisor)
            #expect(stillEmpty.object["headline"] == nil || stillEmpty.object["headline"] is NSNull, "refused edits change nothing")

            let edited = try await platform.request("PUT", "/v1/advisors/me", token: advisor, json: Self.completeProfile)
            #expect(edited.status == 200, "\(edited.text)")
            #expect(edited.object["listed"] as? Bool == true)
            #expect(edited.object["categories"] as? [String] == ["tarot", "love-relationships"])
            let photo = try await platform.request(
                "PUT", "/v1/advisors/me", token: advisor, json: ["photoUrl": "https://images.advisor-platform.example/zora.jpg"])
            #expect(photo.object["photoUrl"] as? String == "https://images.advisor-platform.example/zora.jpg")
            #expect(photo.object["headline"] as? String == "Tarot readings with heart", "fields left out keep their value")
            let seen = try await platform.request("GET", "/v1/advisors/\(advisorId)")
            #expect(seen.status == 200 && seen.object["bio"] as? String == "Twenty years of cards.", "\(seen.text)")

            let busy = try await platform.request("PUT", "/v1/advisors/me/status", token: advisor, json: ["status": "busy"])
            #expect(busy.status == 422, "busy is the chat service's to set: \(busy.text)")
            let online = try await platform.request("PUT", "/v1/advisors/me/status", token: advisor, json: ["status": "online"])
            #expect(online.status == 200 && online.object["status"] as? String == "online", "\(online.text)")
            let listed = try await platform.request("GET", "/v1/advisors?status=online&q=zora")
            #expect(listed.items.map { ($0["id"] as? String)?.lowercased() } == [advisorId.lowercased()], "\(listed.text)")

            // No heartbeat for longer than the grace window: offline, in search and as an event.
            try await eventually("the advisor is offline once heartbeats stop") {
                let page = try await platform.request("GET", "/v1/advisors?q=zora")
                return page.items.first?["status"] as? String == "offline"
            }
            let directory = Database(platform.harness.database.config(schema: "directory"), logger: Logger(label: "test"))
            defer { Task { await directory.close() } }
            try await eventually("the expiry is announced") {
                let statuses = try await directory.withConnection { connection in
                    try connection.query(
                        "SELECT payload->>'status' AS status FROM outbox WHERE type = $1 ORDER BY id",
                        Directory.AdvisorStatusChanged.type
                    ).map { try $0.decode("status", as: String.self) }
                }
                return statuses == ["online", "offline"]
            }

            // A new display name reaches the directory through accounts' event.
            let renamed = try await platform.request("PATCH", "/v1/me", token: advisor, json: ["displayName": "Zora the Wise"])
            #expect(renamed.status == 200)
            try await eventually("the new name is shown") {
                try await platform.request("GET", "/v1/advisors/\(advisorId)").object["displayName"] as? String == "Zora the Wise"
            }
        }
    }
}

/// Waits until `condition` holds, checking every 100 ms for at most `timeout`.
func eventually(
    _ what: String, timeout: Duration = .seconds(15), _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(100))
    }
    Issue.record("timed out waiting: \(what)")
}
