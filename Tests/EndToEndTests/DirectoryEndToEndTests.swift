import Bus
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
    /// For the search test, whose online advisors must stay online while it asks (a 2 s grace
    /// window ran out on a loaded machine between going online and the facet counts).
    static let searchEnvironment: [ServiceName: [String: String]] = [
        .directory: ["DIRECTORY_PRESENCE_GRACE_SECONDS": "600", "DIRECTORY_PRICE_MIN_CENTS": "99", "DIRECTORY_PRICE_MAX_CENTS": "2999"]
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

            // A search answered a moment ago (and so cached) shows a status change within a second.
            #expect(try await platform.request("PUT", "/v1/advisors/me/status", token: advisor, json: ["status": "online"]).status == 200)
            try await eventually("online in search") {
                try await platform.request("GET", "/v1/advisors?q=zora").items.first?["status"] as? String == "online"
            }
            #expect(try await platform.request("PUT", "/v1/advisors/me/status", token: advisor, json: ["status": "offline"]).status == 200)
            try await eventually("offline in search within a second", timeout: .seconds(1)) {
                try await platform.request("GET", "/v1/advisors?q=zora").items.first?["status"] as? String == "offline"
            }

            // The chat service takes the advisor for a chat: atomically, and only when online.
            let bus = platform.harness.client
            let id = try #require(UUID(uuidString: advisorId))
            let chatId = UUID()
            let offline = await #expect(throws: ServiceError.self) {
                try await bus.call(Directory.Engage.self, .init(advisorId: id, chatId: chatId, to: .busy), as: .system)
            }
            #expect(offline?.code == .advisorOffline)
            #expect(try await platform.request("PUT", "/v1/advisors/me/status", token: advisor, json: ["status": "online"]).status == 200)
            let notSystem = await #expect(throws: ServiceError.self) {
                try await bus.call(
                    Directory.Engage.self, .init(advisorId: id, chatId: chatId, to: .busy), as: Caller(accountId: UUID(), roles: [.member]))
            }
            #expect(notSystem?.code == .forbidden)
            let winners = await withTaskGroup(of: UUID?.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        let chat = UUID()
                        let taken = try? await bus.call(Directory.Engage.self, .init(advisorId: id, chatId: chat, to: .busy), as: .system)
                        return taken == nil ? nil : chat
                    }
                }
                return await group.reduce(into: [UUID]()) { if let chat = $1 { $0.append(chat) } }
            }
            #expect(winners.count == 1, "one chat wins the advisor: \(winners)")
            let winner = try #require(winners.first)
            let retried = try await bus.call(Directory.Engage.self, .init(advisorId: id, chatId: winner, to: .busy), as: .system)
            #expect(retried.status == .busy, "taking again for the same chat is a retry, not a conflict")
            let byHand = try await platform.request("PUT", "/v1/advisors/me/status", token: advisor, json: ["status": "offline"])
            #expect(byHand.status == 409 && byHand.code == "advisor_busy", "\(byHand.text)")
            let stranger = try await bus.call(Directory.Engage.self, .init(advisorId: id, chatId: UUID(), to: .online), as: .system)
            #expect(stranger.status == .busy, "only the chat that took the advisor gives them back")
            let freed = try await bus.call(Directory.Engage.self, .init(advisorId: id, chatId: winner, to: .online), as: .system)
            #expect(freed.status == .online && freed.pricePerMinuteCents == 199)
        }
    }

    /// One advisor of the known data set, written straight into the directory's tables.
    struct Seeded {
        var name: String
        var headline: String?
        var categories: [String]
        var price: Int
        var languages: [String]
        var status: String
        var ratingSum: Int
        var reviews: Int
        let id = UUID()
    }

    static let categoryNames = [
        "tarot": "Tarot", "astrology": "Astrology", "career-finance": "Career & finance", "dream-analysis": "Dream analysis",
        "love-relationships": "Love & relationships", "numerology": "Numerology", "pet-psychics": "Pet psychics",
        "spiritual-guidance": "Spiritual guidance",
    ]

    static let dataSet: [Seeded] = [
        Seeded(name: "Luna Starweaver", headline: "Tarot and moon wisdom", categories: ["tarot"], price: 199, languages: ["en"], status: "online", ratingSum: 24, reviews: 5),
        Seeded(name: "Orion Blake", headline: "Astrology charts for your career", categories: ["astrology", "career-finance"], price: 299, languages: ["en", "fr"], status: "offline", ratingSum: 9, reviews: 2),
        Seeded(name: "Sage Whitfield", headline: "Dream interpretation", categories: ["dream-analysis"], price: 149, languages: ["en"], status: "online", ratingSum: 3, reviews: 1),
        Seeded(name: "Marisol Vega", headline: "Lectura de cartas y amor", categories: ["tarot", "love-relationships"], price: 249, languages: ["es", "en"], status: "busy", ratingSum: 10, reviews: 2),
        Seeded(name: "Ezra Moon", headline: "Numerology and your numbers", categories: ["numerology"], price: 99, languages: ["en"], status: "offline", ratingSum: 0, reviews: 0),
        Seeded(name: "Ivy Hollow", headline: "Pet psychic for cats and dogs", categories: ["pet-psychics"], price: 179, languages: ["en", "de"], status: "online", ratingSum: 8, reviews: 2),
        Seeded(name: "Bram Quill", headline: "Spiritual guidance, gently", categories: ["spiritual-guidance"], price: 129, languages: ["en"], status: "offline", ratingSum: 7, reviews: 2),
        Seeded(name: "Hidden Oracle", headline: nil, categories: ["tarot"], price: 150, languages: ["en"], status: "offline", ratingSum: 0, reviews: 0),
    ]

    /// Writes the data set in order (so "newest" is its reverse), every online advisor with a fresh heartbeat.
    static func seed(_ directory: Database) async throws {
        for advisor in dataSet {
            let categoryText = advisor.categories.compactMap { categoryNames[$0] }.joined(separator: " ")
            try await directory.withConnection { connection in
                _ = try connection.execute(
                    """
                    INSERT INTO advisors (account_id, display_name, headline, categories, category_text, price_cents, languages,
                        status, heartbeat_at, rating_sum, review_count)
                    VALUES ($1, $2, $3, $4::text[], $5, $6, $7::text[], $8, now(), $9, $10)
                    """, advisor.id, advisor.name, advisor.headline, advisor.categories, categoryText, advisor.price,
                    advisor.languages, advisor.status, advisor.ratingSum, advisor.reviews)
            }
        }
    }

    static func names(_ reply: Reply) -> [String] { reply.items.compactMap { $0["displayName"] as? String } }

    @Test("search: each filter, sort and facet on a known data set; prefixes and typos; pages survive status changes")
    func search() async throws {
        try await AccountsPlatform.with(serviceEnvironment: Self.searchEnvironment) { platform in
            let directory = Database(platform.harness.database.config(schema: "directory"), logger: Logger(label: "test"))
            defer { Task { await directory.close() } }
            // The directory's tables exist once the platform is up.
            try await Self.seed(directory)
            let get = { (query: String) in try await platform.request("GET", "/v1/advisors" + query) }

            let categories = try await platform.request("GET", "/v1/categories")
            #expect(categories.status == 200)
            let slugs = ((try? JSONSerialization.jsonObject(with: categories.answer.body)) as? [[String: Any]])?.compactMap { $0["slug"] as? String }
            #expect(slugs?.count == 10 && slugs?.first == "psychic-readings" && slugs?.contains("pet-psychics") == true)
            for slug in slugs ?? [] {
                #expect(try await get("?category=\(slug)").status == 200, "search knows every category: \(slug)")
            }

            let all = try await get("")
            #expect(all.status == 200, "\(all.text)")
            #expect(
                Self.names(all) == ["Marisol Vega", "Luna Starweaver", "Orion Blake", "Ivy Hollow", "Bram Quill", "Sage Whitfield", "Ezra Moon"],
                "by rating, the unlisted profile left out: \(Self.names(all))")
            #expect(all.items.first?["rating"] as? Double == 5.0 && all.items.first?["reviewCount"] as? Int == 2)
            #expect(Set(Self.names(try await get("?category=tarot"))) == ["Luna Starweaver", "Marisol Vega"])
            #expect(Set(Self.names(try await get("?status=online"))) == ["Luna Starweaver", "Sage Whitfield", "Ivy Hollow"])
            #expect(Self.names(try await get("?status=busy")) == ["Marisol Vega"])
            #expect(Set(Self.names(try await get("?maxPriceCents=150"))) == ["Sage Whitfield", "Ezra Moon", "Bram Quill"])
            #expect(Self.names(try await get("?minRating=4.5")) == ["Marisol Vega", "Luna Starweaver", "Orion Blake"])
            #expect(Self.names(try await get("?language=es")) == ["Marisol Vega"])
            #expect(Self.names(try await get("?language=en&category=tarot&maxPriceCents=200")) == ["Luna Starweaver"])
            #expect(
                Self.names(try await get("?sort=price")) == ["Ezra Moon", "Bram Quill", "Sage Whitfield", "Ivy Hollow", "Luna Starweaver", "Marisol Vega", "Orion Blake"])
            #expect(Self.names(try await get("?sort=reviews")).first == "Luna Starweaver")
            #expect(Self.names(try await get("?sort=newest")).first == "Bram Quill")

            #expect(Set(Self.names(try await get("?q=tar"))) == ["Luna Starweaver", "Marisol Vega"], "a prefix finds tarot")
            #expect(Set(Self.names(try await get("?q=tarrot"))) == ["Luna Starweaver", "Marisol Vega"], "a typo still finds tarot")
            #expect(Self.names(try await get("?q=psychc")) == ["Ivy Hollow"], "a typo in the headline")
            #expect(Self.names(try await get("?q=moon+wisdom")) == ["Luna Starweaver"], "every word must match")
            let astrology = Self.names(try await get("?q=astrology"))
            #expect(astrology.first == "Orion Blake", "the category named ranks first: \(astrology)")
            #expect(Self.names(try await get("?q=%22%3B%20DROP%20TABLE%20advisors%3B--")).isEmpty)

            let faceted = try await get("?category=tarot&facets=category,status,language")
            let facets = faceted.object["facets"] as? [String: [String: Int]]
            #expect(facets?["category"]?["tarot"] == 2, "\(faceted.text)")
            #expect(facets?["category"]?["astrology"] == 1, "the category facet ignores the category filter")
            #expect(facets?["status"] == ["online": 1, "busy": 1], "other facets count under the filter")
            #expect(facets?["language"]?["es"] == 1 && facets?["language"]?["en"] == 2)
            let empty = try await get("?category=mediums&status=online&facets=category,status")
            let emptyFacets = empty.object["facets"] as? [String: [String: Int]]
            #expect(empty.items.isEmpty && emptyFacets?["category"]?["mediums"] == 0, "a selected value is always counted: \(empty.text)")
            #expect(emptyFacets?["status"]?["online"] == 0)

            for query in [
                "?sort=bogus", "?minRating=9", "?category=knitting", "?limit=0", "?limit=101",
                "?maxPriceCents=abc", "?status=asleep", "?language=English", "?facets=price", "?q=" + String(repeating: "a", count: 101),
            ] {
                let refused = try await get(query)
                #expect(refused.status == 422, "\(query): \(refused.text)")
            }
            // "not a cursor", in base64: it names no page.
            #expect(try await get("?cursor=bm90IGEgY3Vyc29y").status == 404)

            // Walk two at a time while every status flips between pages: everyone once, in order.
            var seen: [String] = []
            var cursor: String?
            var flips = 0
            repeat {
                let page = try await get("?limit=2&sort=rating" + (cursor.map { "&cursor=" + ($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "") } ?? ""))
                #expect(page.status == 200, "\(page.text)")
                seen += Self.names(page)
                cursor = page.object["nextCursor"] as? String
                flips += 1
                _ = try await directory.withConnection { connection in
                    try connection.execute(
                        "UPDATE advisors SET status = CASE WHEN status = 'online' THEN 'offline' ELSE 'online' END, heartbeat_at = now()")
                }
            } while cursor != nil && flips < 10
            #expect(seen == Self.names(all), "no duplicates, no gaps: \(seen)")
            let ratingCursor = try await get("?limit=2&sort=rating").object["nextCursor"] as? String ?? ""
            let stale = try await get(
                "?sort=price&cursor=" + (ratingCursor.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""))
            #expect(stale.status == 422, "a cursor of another sort is refused: \(stale.text)")
        }
    }

    /// Announces a settled chat as billing will: an event in billing's outbox, which its relay publishes.
    static func settle(
        chat: UUID, member: String, advisor: String, chargedCents: Int, platform: AccountsPlatform
    ) async throws {
        let billing = Database(platform.harness.database.config(schema: "billing"), logger: Logger(label: "test"))
        let event = Billing.ChatSettled(
            chatId: chat, memberId: UUID(uuidString: member)!, advisorId: UUID(uuidString: advisor)!, chargedCents: chargedCents,
            endedAt: Date())
        try await billing.transaction { try Outbox.append(event, on: $0) }
        await billing.close()
    }

    @Test("reviews need an ended, paid chat, once; favorites and the once-an-hour online event; export and erasure")
    func reviewsFavoritesAndPrivacy() async throws {
        try await AccountsPlatform.with(serviceEnvironment: Self.directoryEnvironment) { platform in
            let advisorEmail = AccountsPlatform.email("advisor")
            let advisorId = try await platform.register(email: advisorEmail, displayName: "Madame Zora", role: "advisor")
            let advisor = try await platform.signIn(email: advisorEmail)
            let memberEmail = AccountsPlatform.email("member")
            let memberId = try await platform.register(email: memberEmail, displayName: "Curious Cat")
            let member = try await platform.signIn(email: memberEmail)
            let otherEmail = AccountsPlatform.email("other")
            try await platform.register(email: otherEmail, displayName: "Someone Else")
            let other = try await platform.signIn(email: otherEmail)
            #expect(try await platform.request("PUT", "/v1/advisors/me", token: advisor, json: Self.completeProfile).status == 200)

            let paid = UUID()
            let free = UUID()
            try await Self.settle(chat: paid, member: memberId, advisor: advisorId, chargedCents: 597, platform: platform)
            try await Self.settle(chat: free, member: memberId, advisor: advisorId, chargedCents: 0, platform: platform)
            let review: [String: Any] = ["chatId": paid.uuidString, "rating": 4, "text": "Spot on about my job."]
            let notYours = try await platform.request("POST", "/v1/advisors/\(advisorId)/reviews", token: other, json: review)
            #expect(notYours.status == 403 && notYours.code == "review_not_allowed", "another member's chat: \(notYours.text)")
            let unpaid = try await platform.request(
                "POST", "/v1/advisors/\(advisorId)/reviews", token: member, json: ["chatId": free.uuidString, "rating": 5, "text": "Free!"])
            #expect(unpaid.status == 403, "a chat of free minutes only is not a paid chat: \(unpaid.text)")
            let badRating = try await platform.request(
                "POST", "/v1/advisors/\(advisorId)/reviews", token: member, json: ["chatId": paid.uuidString, "rating": 6, "text": "x"])
            #expect(badRating.status == 422)
            let byAdvisor = try await platform.request("POST", "/v1/advisors/\(advisorId)/reviews", token: advisor, json: review)
            #expect(byAdvisor.status == 403)
            var posted: Reply?
            try await eventually("billing's event reaches the directory") {
                let reply = try await platform.request("POST", "/v1/advisors/\(advisorId)/reviews", token: member, json: review)
                if reply.status == 201 { posted = reply }
                return reply.status != 403
            }
            let first = try #require(posted, "the member reviews their paid chat")
            #expect((first.object["author"] as? [String: Any])?["displayName"] as? String == "Curious Cat")
            let again = try await platform.request("POST", "/v1/advisors/\(advisorId)/reviews", token: member, json: review)
            #expect(again.status == 409 && again.code == "already_reviewed", "one review per chat: \(again.text)")
            let profile = try await platform.request("GET", "/v1/advisors/\(advisorId)")
            #expect(profile.object["rating"] as? Double == 4.0 && profile.object["reviewCount"] as? Int == 1, "\(profile.text)")
            #expect((profile.object["reviews"] as? [[String: Any]])?.count == 1)

            let reviewId = try #require(first.object["id"] as? String)
            let replyBody = ["text": "Thank you, come back soon."]
            #expect(try await platform.request("POST", "/v1/reviews/\(reviewId)/reply", token: member, json: replyBody).status == 403)
            let replied = try await platform.request("POST", "/v1/reviews/\(reviewId)/reply", token: advisor, json: replyBody)
            #expect(replied.status == 201 && (replied.object["reply"] as? [String: Any])?["text"] as? String == replyBody["text"])
            let twice = try await platform.request("POST", "/v1/reviews/\(reviewId)/reply", token: advisor, json: replyBody)
            #expect(twice.status == 409 && twice.code == "already_replied")

            // Favorites: the online event once an hour per member and advisor, only for who asked.
            let favorite = try await platform.request(
                "PUT", "/v1/me/favorites/\(advisorId)", token: member, json: ["notifyWhenOnline": true])
            #expect(favorite.status == 200 && favorite.object["notifyWhenOnline"] as? Bool == true, "\(favorite.text)")
            #expect(try await platform.request("PUT", "/v1/me/favorites/\(advisorId)", token: other).status == 200)
            #expect(try await platform.request("PUT", "/v1/me/favorites/\(UUID())", token: member).status == 404)
            #expect(try await platform.request("PUT", "/v1/me/favorites/\(memberId)", token: advisor).status == 403)
            let list = try await platform.request("GET", "/v1/me/favorites", token: member)
            #expect(list.items.count == 1 && (list.items.first?["advisor"] as? [String: Any])?["displayName"] as? String == "Madame Zora")
            for status in ["online", "offline", "online"] {
                let set = try await platform.request("PUT", "/v1/advisors/me/status", token: advisor, json: ["status": status])
                #expect(set.status == 200, "\(set.text)")
            }
            let directory = Database(platform.harness.database.config(schema: "directory"), logger: Logger(label: "test"))
            defer { Task { await directory.close() } }
            let told = try await directory.withConnection { connection in
                try connection.query("SELECT payload->>'memberId' AS member FROM outbox WHERE type = $1", Directory.FavoriteOnline.type)
                    .map { try $0.decode("member", as: String.self).lowercased() }
            }
            #expect(told == [memberId.lowercased()], "once, and only to the member who asked: \(told)")
            #expect(try await platform.request("DELETE", "/v1/me/favorites/\(advisorId)", token: other).status == 204)
            #expect(try await platform.request("GET", "/v1/me/favorites", token: other).items.isEmpty)

            // Export, then erasure: the member's review stays under "former member"; the advisor's profile goes.
            let export = try await platform.request("GET", "/v1/me/export", token: member)
            let section = (export.object["sections"] as? [String: Any])?["directory"] as? [String: Any]
            #expect((section?["reviewsWritten"] as? [Any])?.count == 1 && (section?["favorites"] as? [Any])?.count == 1, "\(export.text)")
            let advisorExport = try await platform.request("GET", "/v1/me/export", token: advisor)
            let advisorSection = (advisorExport.object["sections"] as? [String: Any])?["directory"] as? [String: Any]
            #expect(advisorSection?["profile"] is [String: Any] && (advisorSection?["reviewsReceived"] as? [Any])?.count == 1)

            #expect(try await platform.request("DELETE", "/v1/me", token: member, json: ["password": AccountsPlatform.password]).status == 202)
            try await eventually("the review shows its author as a former member") {
                let reviews = try await platform.request("GET", "/v1/advisors/\(advisorId)/reviews")
                return (reviews.items.first?["author"] as? [String: Any])?["displayName"] as? String == "former member"
            }
            #expect(try await platform.request("DELETE", "/v1/me", token: advisor, json: ["password": AccountsPlatform.password]).status == 202)
            try await eventually("the advisor's profile is gone") {
                try await platform.request("GET", "/v1/advisors/\(advisorId)").status == 404
            }
            let names = try await directory.withConnection { connection in
                try connection.query("SELECT display_name FROM people WHERE account_id = ANY($1::uuid[])", [memberId.lowercased(), advisorId.lowercased()])
                    .count
            }
            #expect(names == 0, "no public name is kept for an erased person")
            let words = try await directory.withConnection { connection in
                try connection.query("SELECT word FROM search_words WHERE word IN ('madame', 'zora')").count
            }
            #expect(words == 0, "the erased advisor's name is gone from the typo list")
        }
    }

    @Test("demo data fills an empty directory once, for local runs only")
    func demoData() async throws {
        var environment = Self.directoryEnvironment
        environment[.directory]?["DIRECTORY_DEMO_DATA"] = "1"
        try await AccountsPlatform.with(serviceEnvironment: environment) { platform in
            let page = try await platform.request("GET", "/v1/advisors?facets=status&limit=100")
            #expect(page.items.count == 36, "\(page.text)")
            #expect(page.items.allSatisfy { ($0["reviewCount"] as? Int).map { $0 >= 0 } == true && $0["headline"] is String })
            let statuses = (page.object["facets"] as? [String: [String: Int]])?["status"] ?? [:]
            #expect((statuses["online"] ?? 0) > 0, "some demo advisors are online: \(statuses)")
            let reviewed = try #require(page.items.first { ($0["reviewCount"] as? Int ?? 0) > 0 }?["id"] as? String)
            let reviews = try await platform.request("GET", "/v1/advisors/\(reviewed)/reviews")
            #expect((reviews.items.first?["author"] as? [String: Any])?["displayName"] is String)

            // A second instance finds the directory filled and adds nobody.
            try await platform.harness.startService(
                "directory", schema: "directory", environment: environment[.directory] ?? [:])
            let again = try await platform.request("GET", "/v1/advisors?limit=100")
            #expect(again.items.count == 36)

            // Demo advisors send no heartbeats, yet stay online past the grace window (2 s here):
            // a wait, because what is checked is that nothing happens.
            try await Task.sleep(for: .seconds(3))
            let later = try await platform.request("GET", "/v1/advisors?facets=status&limit=100")
            let laterStatuses = (later.object["facets"] as? [String: [String: Int]])?["status"] ?? [:]
            #expect((laterStatuses["online"] ?? 0) >= (statuses["online"] ?? 0) - 1, "one flip at most: \(laterStatuses)")
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let compose = try String(contentsOf: root.appendingPathComponent("docker-compose.yml"), encoding: .utf8)
        #expect(!compose.contains("DIRECTORY_DEMO_DATA"), "the production-like configuration never fills the directory")
    }

    @Test("credentials show once support verifies them; reported reviews are hidden by staff; both in access logs")
    func credentials() async throws {
        try await AccountsPlatform.with(serviceEnvironment: Self.directoryEnvironment) { platform in
            let adminEmail = AccountsPlatform.email("admin")
            try await platform.createAdmin(email: adminEmail, password: AccountsPlatform.password)
            let admin = try await platform.signIn(email: adminEmail)
            let supportEmail = AccountsPlatform.email("support")
            let created = try await platform.request(
                "POST", "/v1/staff/accounts", token: admin,
                json: ["email": supportEmail, "password": AccountsPlatform.password, "displayName": "Support", "roles": ["support"]])
            #expect(created.status == 201, "\(created.text)")
            let support = try await platform.signIn(email: supportEmail)
            let advisorEmail = AccountsPlatform.email("advisor")
            let advisorId = try await platform.register(email: advisorEmail, displayName: "Madame Zora", role: "advisor")
            let advisor = try await platform.signIn(email: advisorEmail)
            let memberEmail = AccountsPlatform.email("member")
            let memberId = try await platform.register(email: memberEmail)
            let member = try await platform.signIn(email: memberEmail)
            #expect(try await platform.request("PUT", "/v1/advisors/me", token: advisor, json: Self.completeProfile).status == 200)

            // A review the advisor reports; support hides it, and it leaves the listing and the rating.
            let chat = UUID()
            try await Self.settle(chat: chat, member: memberId, advisor: advisorId, chargedCents: 398, platform: platform)
            var reviewId: String?
            try await eventually("the chat may be reviewed") {
                let reply = try await platform.request(
                    "POST", "/v1/advisors/\(advisorId)/reviews", token: member,
                    json: ["chatId": chat.uuidString, "rating": 1, "text": "Buy my course at scam.example"])
                reviewId = reply.object["id"] as? String
                return reply.status == 201
            }
            let review = try #require(reviewId)
            let report: [String: Any] = ["reason": "spam", "note": "an advertisement"]
            #expect(try await platform.request("POST", "/v1/reviews/\(review)/reports", json: report).status == 401)
            #expect(try await platform.request("POST", "/v1/reviews/\(review)/reports", token: advisor, json: ["reason": "meh"]).status == 422)
            for _ in 0..<2 {
                #expect(try await platform.request("POST", "/v1/reviews/\(review)/reports", token: advisor, json: report).status == 202)
            }
            #expect(try await platform.request("GET", "/v1/staff/review-reports", token: member).status == 403)
            let queue = try await platform.request("GET", "/v1/staff/review-reports", token: support)
            #expect(queue.items.count == 1 && queue.items.first?["reports"] as? Int == 1, "reported twice by one person is one report: \(queue.text)")
            let hide: [String: Any] = ["action": "hide", "reason": "Advertising, against the review rules"]
            #expect(try await platform.request("POST", "/v1/staff/reviews/\(review)/decision", token: member, json: hide).status == 403)
            #expect(try await platform.request("POST", "/v1/staff/reviews/\(review)/decision", token: support, json: hide).status == 204)
            let hiddenProfile = try await platform.request("GET", "/v1/advisors/\(advisorId)")
            #expect(hiddenProfile.object["reviewCount"] as? Int == 0 && hiddenProfile.object["rating"] == nil, "\(hiddenProfile.text)")
            #expect(try await platform.request("GET", "/v1/advisors/\(advisorId)/reviews").items.isEmpty)
            #expect(try await platform.request("GET", "/v1/staff/review-reports", token: support).items.isEmpty)
            let memberLog = try await platform.request("GET", "/v1/me/access-log", token: member)
            #expect(memberLog.items.contains { $0["action"] as? String == "staff.review-hidden" }, "\(memberLog.text)")

            let license: [String: Any] = [
                "kind": "license", "issuer": "State Board of Counseling", "number": "LPC-12345", "expiresOn": "2031-06-30",
            ]
            for (field, value) in [("kind", "diploma"), ("expiresOn", "2020-01-01"), ("expiresOn", "2031-02-30"), ("issuer", " ")] {
                var body = license
                body[field] = value
                let refused = try await platform.request("POST", "/v1/advisors/me/credentials", token: advisor, json: body)
                #expect(refused.status == 422, "\(field)=\(value): \(refused.text)")
            }
            #expect(try await platform.request("POST", "/v1/advisors/me/credentials", token: member, json: license).status == 403)
            let submitted = try await platform.request("POST", "/v1/advisors/me/credentials", token: advisor, json: license)
            #expect(submitted.status == 201 && submitted.object["status"] as? String == "pending", "\(submitted.text)")
            let credentialId = try #require(submitted.object["id"] as? String)
            let before = try await platform.request("GET", "/v1/advisors/\(advisorId)")
            #expect((before.object["credentials"] as? [Any])?.isEmpty == true, "unverified credentials are not shown")

            #expect(try await platform.request("GET", "/v1/staff/credentials", token: member).status == 403)
            let pending = try await platform.request("GET", "/v1/staff/credentials", token: support)
            #expect(pending.items.compactMap { $0["id"] as? String } == [credentialId], "\(pending.text)")
            let decision: [String: Any] = ["verified": true, "reason": "Checked the board's public register"]
            let byMember = try await platform.request(
                "POST", "/v1/staff/credentials/\(credentialId)/decision", token: member, json: decision)
            #expect(byMember.status == 403)
            let decided = try await platform.request("POST", "/v1/staff/credentials/\(credentialId)/decision", token: support, json: decision)
            #expect(decided.status == 200 && decided.object["status"] as? String == "verified", "\(decided.text)")
            let again = try await platform.request("POST", "/v1/staff/credentials/\(credentialId)/decision", token: support, json: decision)
            #expect(again.status == 409)

            let after = try await platform.request("GET", "/v1/advisors/\(advisorId)")
            let shown = after.object["credentials"] as? [[String: Any]]
            #expect(shown?.count == 1 && shown?.first?["issuer"] as? String == "State Board of Counseling", "\(after.text)")
            #expect(shown?.first?["number"] == nil, "the number is for the advisor and staff only")
            let accessLog = try await platform.request("GET", "/v1/me/access-log", token: advisor)
            let entry = accessLog.items.first { $0["action"] as? String == "staff.credential-verified" }
            #expect(entry?["reason"] as? String == "Checked the board's public register", "\(accessLog.text)")
            let export = try await platform.request("GET", "/v1/me/export", token: advisor)
            let section = (export.object["sections"] as? [String: Any])?["directory"] as? [String: Any]
            #expect((section?["credentials"] as? [Any])?.count == 1)
            #expect(try await platform.request("DELETE", "/v1/advisors/me/credentials/\(credentialId)", token: advisor).status == 204)
            #expect(try await platform.request("GET", "/v1/advisors/me/credentials", token: advisor).text == "[]")
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
