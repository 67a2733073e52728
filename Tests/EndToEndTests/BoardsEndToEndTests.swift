import Foundation
import Logging
import Models
import Store
import Testing
import TestSupport

/// The message boards through the gateway (docs/api.md "Message boards"): public reading, posting
/// with the public notice, the posting rules of someone new, search, export and erasure.
@Suite(.timeLimit(.minutes(3)))
struct BoardsEndToEndTests {
    static let notice = "Posts on the message boards are public: anyone can read, copy and use them."

    /// Starts a thread on `board` as the person signed in with `token`.
    static func startThread(
        _ platform: AccountsPlatform, board: String = "general", title: String, text: String, acknowledge: Bool? = true, token: String
    ) async throws -> Reply {
        var body: [String: Any] = ["title": title, "text": text]
        body["acknowledgePublic"] = acknowledge
        return try await platform.request("POST", "/v1/boards/\(board)/threads", token: token, json: body)
    }

    static func threadCount(_ platform: AccountsPlatform, _ board: String) async throws -> Int? {
        let boards = try await platform.request("GET", "/v1/boards").object["boards"] as? [[String: Any]]
        return boards?.first { $0["slug"] as? String == board }?["threadCount"] as? Int
    }

    @Test("anyone reads; a first post needs the public notice acknowledged; reply, edit (history kept), delete in place; text comes back as written")
    func postingAndReading() async throws {
        try await AccountsPlatform.with { platform in
            let listed = try #require(try await platform.request("GET", "/v1/boards").object["boards"] as? [[String: Any]])
            #expect(listed.map { $0["slug"] as? String } == [
                "general", "tarot", "astrology", "love-relationships", "dreams", "spiritual-growth", "advisor-announcements",
            ])
            #expect(listed.last?["advisorsOnly"] as? Bool == true && listed.first?["advisorsOnly"] as? Bool == false)

            let author = try await ChatEndToEndTests.member(platform, name: "Stella Ray")
            let reader = try await ChatEndToEndTests.member(platform, name: "Quiet Owl")
            let anonymous = try await platform.request("POST", "/v1/boards/general/threads", json: ["title": "Hello", "text": "Hi"])
            #expect(anonymous.status == 401)

            // The first post without the acknowledgement is refused, and nothing is written.
            let unacknowledged = try await Self.startThread(platform, title: "Hello there", text: "My first post", acknowledge: nil, token: author.token)
            #expect(unacknowledged.status == 422 && unacknowledged.code == "public_notice_not_acknowledged", "\(unacknowledged.text)")
            #expect((unacknowledged.object["detail"] as? String)?.contains(Self.notice) == true, "the refusal says why")
            #expect(try await Self.threadCount(platform, "general") == 0)

            let text = "<b>bold?</b> '; DROP TABLE posts; -- \\ % _ 日本語 العربية Ελληνικά 🎴"
            let started = try await Self.startThread(platform, title: "Hello <there> & 'you'", text: text, token: author.token)
            #expect(started.status == 201, "\(started.text)")
            #expect(started.object["notice"] as? String == Self.notice)
            let threadId = try #require(started.object["id"] as? String)
            let firstPost = try #require(started.object["firstPost"] as? [String: Any])
            #expect(firstPost["text"] as? String == text, "stored and returned unchanged")
            #expect((started.object["author"] as? [String: Any])?["displayName"] as? String == "Stella Ray")
            #expect(started.object["title"] as? String == "Hello <there> & 'you'")
            #expect(try await Self.threadCount(platform, "general") == 1)

            // Acknowledged once is enough; a reply by someone else needs their own.
            let second = try await Self.startThread(platform, title: "A second thread", text: "More", acknowledge: nil, token: author.token)
            #expect(second.status == 201, "\(second.text)")
            let refusedReply = try await platform.request("POST", "/v1/threads/\(threadId)/posts", token: reader.token, json: ["text": "Hi"])
            #expect(refusedReply.code == "public_notice_not_acknowledged")
            let reply = try await platform.request(
                "POST", "/v1/threads/\(threadId)/posts", token: reader.token, json: ["text": "Welcome!", "acknowledgePublic": true])
            #expect(reply.status == 201 && reply.object["notice"] as? String == Self.notice, "\(reply.text)")
            let replyId = try #require(reply.object["id"] as? String)

            // Anyone reads, without signing in: the board's threads by latest post, the thread, its posts oldest first.
            let threads = try await platform.request("GET", "/v1/boards/general/threads")
            #expect(threads.items.map { $0["title"] as? String } == ["Hello <there> & 'you'", "A second thread"])
            #expect(threads.items.first?["replyCount"] as? Int == 1)
            let thread = try await platform.request("GET", "/v1/threads/\(threadId)")
            #expect(thread.status == 200 && thread.object["locked"] as? Bool == false)
            let firstPage = try await platform.request("GET", "/v1/threads/\(threadId)/posts?limit=1")
            #expect(firstPage.items.map { $0["text"] as? String } == [text])
            let cursor = try #require(firstPage.object["nextCursor"] as? String)
            let secondPage = try await platform.request("GET", "/v1/threads/\(threadId)/posts?limit=1&cursor=\(cursor)")
            #expect(secondPage.items.map { $0["text"] as? String } == ["Welcome!"])
            #expect(secondPage.object["nextCursor"] is NSNull || secondPage.object["nextCursor"] == nil)
            #expect(try await platform.request("GET", "/v1/boards/no-such-board/threads").status == 404)
            #expect(try await platform.request("GET", "/v1/threads/\(UUID())").status == 404)

            // Only its author edits or deletes a post; an edit keeps the earlier text for moderators.
            let firstPostId = try #require(firstPost["id"] as? String)
            #expect(try await platform.request("PATCH", "/v1/posts/\(firstPostId)", token: reader.token, json: ["text": "mine now"]).status == 404)
            let edited = try await platform.request("PATCH", "/v1/posts/\(firstPostId)", token: author.token, json: ["text": "Edited text"])
            #expect(edited.status == 200 && edited.object["text"] as? String == "Edited text" && edited.object["editedAt"] is String, "\(edited.text)")
            #expect(edited.object["notice"] as? String == Self.notice)
            let boards = Database(platform.harness.database.config(schema: "boards"), logger: Logger(label: "test"))
            defer { Task { await boards.close() } }
            let history = try await boards.withConnection { connection in
                try connection.query("SELECT text FROM post_edits WHERE post_id = $1", try #require(UUID(uuidString: firstPostId)))
                    .map { try $0.decode("text", as: String.self) }
            }
            #expect(history == [text])
            let staff = try await Self.moderators(platform)
            #expect(try await platform.request("GET", "/v1/staff/posts/\(firstPostId)/edits", token: author.token).status == 403)
            #expect(try await platform.request("GET", "/v1/staff/posts/\(firstPostId)/edits", token: staff.tarot).status == 403, "a general post")
            let earlier = try await platform.request("GET", "/v1/staff/posts/\(firstPostId)/edits", token: staff.all)
            #expect(earlier.items.map { $0["text"] as? String } == [text] && earlier.items.first?["replacedAt"] is String, "\(earlier.text)")

            let deleted = try await platform.request("DELETE", "/v1/posts/\(firstPostId)", token: author.token)
            #expect(deleted.status == 200 && deleted.object["deleted"] as? Bool == true && deleted.object["text"] == nil, "\(deleted.text)")
            #expect(try await platform.request("DELETE", "/v1/posts/\(firstPostId)", token: author.token).status == 200, "twice is once")
            let afterDelete = try await platform.request("GET", "/v1/threads/\(threadId)/posts")
            #expect(afterDelete.items.map { $0["deleted"] as? Bool } == [true, false], "the deleted post keeps its place; the reply stays in context")
            let kept = try await boards.withConnection { connection in
                try connection.query("SELECT text FROM post_edits WHERE post_id = $1", try #require(UUID(uuidString: firstPostId))).count
            }
            #expect(kept == 0, "its earlier texts go with it")
            #expect(try await platform.request("PATCH", "/v1/posts/\(firstPostId)", token: author.token, json: ["text": "back"]).status == 409)
            _ = replyId

            // Bad input changes nothing: a blank text, a title too short, an unknown field.
            for body in [["title": "Fine title", "text": "   "], ["title": "Hi", "text": "text"], ["title": "Fine title", "text": "t", "extra": 1]] as [[String: Any]] {
                let refused = try await platform.request("POST", "/v1/boards/general/threads", token: author.token, json: body)
                #expect(refused.status == 422, "\(body): \(refused.text)")
            }
            #expect(try await Self.threadCount(platform, "general") == 2)
        }
    }

    @Test("advisors start announcement threads and members reply; someone new may post a few times a day, with few links and no images")
    func postingRules() async throws {
        try await AccountsPlatform.with(serviceEnvironment: [.boards: ["BOARDS_NEW_POSTS_PER_DAY": "3"]]) { platform in
            let member = try await ChatEndToEndTests.member(platform)
            let advisor = try await ChatEndToEndTests.onlineAdvisor(platform)
            let refused = try await Self.startThread(platform, board: "advisor-announcements", title: "My offer", text: "Hi", token: member.token)
            #expect(refused.status == 403, "\(refused.text)")
            let announced = try await Self.startThread(
                platform, board: "advisor-announcements", title: "Open this weekend", text: "Readings all Saturday", token: advisor.token)
            #expect(announced.status == 201, "\(announced.text)")
            let threadId = try #require(announced.object["id"] as? String)

            // A refused post records no acknowledgement either, so each attempt sends it.
            let links = "see https://a.example/1 and https://b.example/2 and www.c.example"
            let tooMany = try await platform.request(
                "POST", "/v1/threads/\(threadId)/posts", token: member.token, json: ["text": links, "acknowledgePublic": true])
            #expect(tooMany.status == 422 && tooMany.code == "too_many_links", "\(tooMany.text)")
            let image = try await platform.request(
                "POST", "/v1/threads/\(threadId)/posts", token: member.token,
                json: ["text": "look https://img.example/card.PNG?size=2", "acknowledgePublic": true])
            #expect(image.status == 422 && image.code == "too_many_links", "\(image.text)")
            // A link within the limit in a new person's first posts waits for a moderator's look.
            let linked = try await platform.request(
                "POST", "/v1/threads/\(threadId)/posts", token: member.token,
                json: ["text": "Reply 1 https://a.example/1", "acknowledgePublic": true])
            #expect(linked.status == 201 && (linked.object["moderation"] as? [String: Any])?["status"] as? String == "held", "\(linked.text)")
            for n in 2...3 {
                let reply = try await platform.request("POST", "/v1/threads/\(threadId)/posts", token: member.token, json: ["text": "Reply \(n)"])
                #expect(reply.status == 201 && reply.object["moderation"] == nil, "\(reply.text)")
            }
            let fourth = try await platform.request("POST", "/v1/threads/\(threadId)/posts", token: member.token, json: ["text": "Reply 4"])
            #expect(fourth.status == 429 && fourth.code == "posting_too_fast", "\(fourth.text)")
            let thread = try await platform.request("GET", "/v1/threads/\(threadId)")
            #expect(thread.object["replyCount"] as? Int == 2, "refused and held posts count for nothing")
        }
    }

    @Test("search finds titles and posts in any script; export holds a person's posts; erasure leaves them under former member everywhere")
    func searchExportAndErasure() async throws {
        try await AccountsPlatform.with { platform in
            let author = try await ChatEndToEndTests.member(platform, name: "Luna Vale")
            let started = try await Self.startThread(
                platform, board: "tarot", title: "The Tower card reversed", text: "What does it mean in a love reading?", token: author.token)
            let threadId = try #require(started.object["id"] as? String)
            let reply = try await platform.request(
                "POST", "/v1/threads/\(threadId)/posts", token: author.token, json: ["text": "Ещё вопрос: что значит Башня?"])
            #expect(reply.status == 201)

            let byTitle = try await platform.request("GET", "/v1/boards/search?q=tower")
            #expect(byTitle.items.count == 1 && byTitle.items.first?["post"] == nil, "\(byTitle.text)")
            #expect(((byTitle.items.first?["thread"] as? [String: Any])?["id"] as? String) == threadId)
            let byPost = try await platform.request("GET", "/v1/boards/search?q=\("Башня".addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed)!)")
            #expect((byPost.items.first?["post"] as? [String: Any])?["text"] as? String == "Ещё вопрос: что значит Башня?", "\(byPost.text)")
            #expect(try await platform.request("GET", "/v1/boards/search?q=nothingmatchesthis").items.isEmpty)
            #expect(try await platform.request("GET", "/v1/boards/search").status == 422)

            #expect(try await platform.request("GET", "/v1/threads/\(threadId)/posts", token: author.token).status == 200)
            let export = try await platform.request("GET", "/v1/me/export", token: author.token)
            let section = (export.object["sections"] as? [String: Any])?["boards"] as? [String: Any]
            #expect((section?["posts"] as? [Any])?.count == 2 && (section?["threads"] as? [Any])?.count == 1, "\(export.text)")
            #expect(section?["publicNoticeAcknowledgedAt"] is String)
            #expect(((section?["threadsRead"] as? [[String: Any]])?.first)?["threadId"] as? String == threadId, "\(export.text)")

            #expect(try await platform.request("DELETE", "/v1/me", token: author.token, json: ["password": AccountsPlatform.password]).status == 202)
            try await eventually("the posts show their author as a former member") {
                let posts = try await platform.request("GET", "/v1/threads/\(threadId)/posts")
                return posts.items.allSatisfy { ($0["author"] as? [String: Any])?["displayName"] as? String == "former member" }
            }
            let threads = try await platform.request("GET", "/v1/boards/tarot/threads")
            #expect((threads.items.first?["author"] as? [String: Any])?["displayName"] as? String == "former member")
            #expect((threads.items.first?["author"] as? [String: Any])?["id"] == nil)
            let found = try await platform.request("GET", "/v1/boards/search?q=tower")
            #expect(((found.items.first?["thread"] as? [String: Any])?["author"] as? [String: Any])?["displayName"] as? String == "former member")
            let boards = Database(platform.harness.database.config(schema: "boards"), logger: Logger(label: "test"))
            defer { Task { await boards.close() } }
            try await eventually("the boards keep nothing linked to the erased person") {
                try await boards.withConnection { connection in
                    try connection.queryOne(
                        """
                        SELECT (SELECT count(*) FROM posts WHERE author_id IS NOT NULL) + (SELECT count(*) FROM people)
                            + (SELECT count(*) FROM thread_reads) AS n
                        """)?
                        .decode("n", as: Int.self) == 0
                }
            }
        }
    }

    /// An admin and two moderators: one given the tarot board only, one with every board.
    static func moderators(_ platform: AccountsPlatform) async throws -> (admin: String, tarot: String, all: String) {
        let adminEmail = AccountsPlatform.email("admin")
        try await platform.createAdmin(email: adminEmail, password: AccountsPlatform.password)
        let admin = try await platform.signIn(email: adminEmail)
        var made: [(id: String, token: String)] = []
        for name in ["Tarot Moderator", "Moderator"] {
            let email = AccountsPlatform.email("moderator")
            let staff = try await platform.request(
                "POST", "/v1/staff/accounts", token: admin,
                json: ["email": email, "password": AccountsPlatform.password, "displayName": name, "roles": ["moderator"]])
            #expect(staff.status == 201, "\(staff.text)")
            made.append((try #require(staff.object["id"] as? String), try await platform.signIn(email: email)))
        }
        #expect(try await platform.request("PUT", "/v1/staff/boards/tarot/moderators/\(made[0].id)", token: made[1].token).status == 403)
        #expect(try await platform.request("PUT", "/v1/staff/boards/tarot/moderators/\(made[0].id)", token: admin).status == 204)
        return (admin, made[0].token, made[1].token)
    }

    @Test("flags from several people hide a post at once; moderators of the board decide, audited; the author sees why; locked 423, silenced 403")
    func moderation() async throws {
        try await AccountsPlatform.with { platform in
            let owner = try await ChatEndToEndTests.member(platform, name: "Thread Owner")
            let author = try await ChatEndToEndTests.member(platform, name: "Sharp Tongue")
            let started = try await Self.startThread(platform, title: "Morning routines", text: "What is yours?", token: owner.token)
            let threadId = try #require(started.object["id"] as? String)
            let reply = try await platform.request(
                "POST", "/v1/threads/\(threadId)/posts", token: author.token, json: ["text": "Yours is silly.", "acknowledgePublic": true])
            let postId = try #require(reply.object["id"] as? String)

            var flaggers: [String] = []
            for n in 1...3 { flaggers.append(try await ChatEndToEndTests.member(platform, name: "Reader \(n)").token) }
            #expect(try await platform.request("POST", "/v1/posts/\(postId)/flags", json: ["reason": "abuse"]).status == 401)
            #expect(try await platform.request("POST", "/v1/posts/\(postId)/flags", token: author.token, json: ["reason": "abuse"]).status == 403)
            #expect(try await platform.request("POST", "/v1/posts/\(postId)/flags", token: flaggers[0], json: ["reason": "rude"]).status == 422)
            let first = try await platform.request("POST", "/v1/posts/\(postId)/flags", token: flaggers[0], json: ["reason": "abuse", "note": "insult"])
            #expect(first.status == 201, "\(first.text)")
            let again = try await platform.request("POST", "/v1/posts/\(postId)/flags", token: flaggers[0], json: ["reason": "spam"])
            #expect(again.status == 409 && again.code == "already_flagged")
            func shown() async throws -> [String] {
                try await platform.request("GET", "/v1/threads/\(threadId)/posts").items.compactMap { $0["id"] as? String }
            }
            #expect(try await shown().contains(postId), "one flag hides nothing")
            for token in flaggers.dropFirst() {
                #expect(try await platform.request("POST", "/v1/posts/\(postId)/flags", token: token, json: ["reason": "abuse"]).status == 201)
            }
            #expect(try await !shown().contains(postId), "three new people's flags hide it at once")
            let seenByAuthor = try await platform.request("GET", "/v1/threads/\(threadId)/posts", token: author.token).items.first { $0["id"] as? String == postId }
            #expect((seenByAuthor?["moderation"] as? [String: Any])?["status"] as? String == "hidden", "\(String(describing: seenByAuthor))")

            // Moderators: the one given tarot neither sees nor decides a post on general; the other does.
            let staff = try await Self.moderators(platform)
            #expect(try await platform.request("GET", "/v1/staff/moderation/queue", token: owner.token).status == 403)
            #expect(try await platform.request("GET", "/v1/staff/moderation/queue", token: staff.tarot).items.isEmpty)
            let queue = try await platform.request("GET", "/v1/staff/moderation/queue", token: staff.all)
            let queued = try #require(queue.items.first, "\(queue.text)")
            #expect((queued["post"] as? [String: Any])?["id"] as? String == postId && queued["hidden"] as? Bool == true)
            #expect((queued["flags"] as? [[String: Any]])?.count == 3 && queued["flagWeight"] as? Double == 3)
            let hide: [String: Any] = ["action": "hide", "reason": "A personal attack on another member"]
            #expect(try await platform.request("POST", "/v1/staff/posts/\(postId)/decision", token: staff.tarot, json: hide).status == 403)
            #expect(try await platform.request("POST", "/v1/staff/posts/\(postId)/decision", token: staff.all, json: ["action": "hide", "reason": " "]).status == 422)
            let restored = try await platform.request(
                "POST", "/v1/staff/posts/\(postId)/decision", token: staff.all, json: ["action": "restore", "reason": "Blunt, but within the rules"])
            #expect(restored.status == 200 && restored.object["moderation"] == nil, "\(restored.text)")
            #expect(try await shown().contains(postId))
            #expect(try await platform.request("GET", "/v1/staff/moderation/queue", token: staff.all).items.isEmpty)
            let hidden = try await platform.request("POST", "/v1/staff/posts/\(postId)/decision", token: staff.all, json: hide)
            #expect(hidden.status == 200, "\(hidden.text)")
            let decided = try await platform.request("GET", "/v1/threads/\(threadId)/posts", token: author.token).items.first { $0["id"] as? String == postId }
            #expect((decided?["moderation"] as? [String: Any])?["reason"] as? String == "A personal attack on another member")
            let log = try await platform.request("GET", "/v1/me/access-log", token: author.token)
            #expect(log.items.contains { $0["action"] as? String == "staff.board-post-hidden" }, "\(log.text)")

            // Locked: no more replies. Silenced: no more posts, for a while.
            let lock: [String: Any] = ["action": "lock-thread", "reason": "The discussion turned sour"]
            #expect(try await platform.request("POST", "/v1/staff/posts/\(postId)/decision", token: staff.all, json: lock).status == 200)
            let locked = try await platform.request("POST", "/v1/threads/\(threadId)/posts", token: owner.token, json: ["text": "Anyone?"])
            #expect(locked.status == 423 && locked.code == "thread_locked", "\(locked.text)")
            #expect(try await platform.request("GET", "/v1/threads/\(threadId)").object["locked"] as? Bool == true)
            let silence: [String: Any] = ["action": "silence-author", "reason": "Repeated personal attacks"]
            #expect(try await platform.request("POST", "/v1/staff/posts/\(postId)/decision", token: staff.all, json: silence).status == 200)
            let silenced = try await Self.startThread(platform, title: "I am back", text: "Hello again", token: author.token)
            #expect(silenced.status == 403 && silenced.code == "author_silenced", "\(silenced.text)")

            // Pinned threads come first on their board.
            let later = try await Self.startThread(platform, title: "A newer thread", text: "Newer", token: owner.token)
            #expect(later.status == 201)
            let firstPostId = try #require((started.object["firstPost"] as? [String: Any])?["id"] as? String)
            let pin: [String: Any] = ["action": "pin-thread", "reason": "Good questions for newcomers"]
            #expect(try await platform.request("POST", "/v1/staff/posts/\(firstPostId)/decision", token: staff.all, json: pin).status == 200)
            let threads = try await platform.request("GET", "/v1/boards/general/threads")
            #expect(threads.items.map { $0["title"] as? String } == ["Morning routines", "A newer thread"], "\(threads.text)")
            #expect(threads.items.first?["pinned"] as? Bool == true)
        }
    }

    @Test("reading threads and time on the boards earn tier 1; a moderator of every board sets a tier by hand, audited; a board's moderator may not")
    func trustTiers() async throws {
        let environment = ["BOARDS_NEW_DAYS": "0", "BOARDS_TRUST_THREADS_READ": "2"]
        try await AccountsPlatform.with(serviceEnvironment: [.boards: environment]) { platform in
            let owner = try await ChatEndToEndTests.member(platform, name: "Thread Owner")
            var threads: [String] = []
            for title in ["First thread", "Second thread"] {
                let started = try await Self.startThread(platform, title: title, text: "Tell me", token: owner.token)
                threads.append(try #require(started.object["id"] as? String, "\(started.text)"))
            }
            let reader = try await ChatEndToEndTests.member(platform, name: "Keen Reader")
            let newcomer = try await ChatEndToEndTests.member(platform, name: "Newcomer")
            for person in [reader, newcomer] {
                let hello = try await platform.request(
                    "POST", "/v1/threads/\(threads[0])/posts", token: person.token, json: ["text": "Hello", "acknowledgePublic": true])
                #expect(hello.status == 201, "\(hello.text)")
            }
            let links = "three links: https://a.example/1 https://b.example/2 https://c.example/3"
            func post(_ token: String) async throws -> Reply {
                try await platform.request("POST", "/v1/threads/\(threads[1])/posts", token: token, json: ["text": links])
            }

            // Someone new may post two links; reading one thread is not enough, two are.
            #expect(try await post(reader.token).code == "too_many_links")
            #expect(try await platform.request("GET", "/v1/threads/\(threads[0])/posts", token: reader.token).status == 200)
            #expect(try await platform.request("GET", "/v1/threads/\(threads[0])/posts", token: reader.token).status == 200)
            #expect(try await post(reader.token).code == "too_many_links", "the same thread twice is one thread read")
            #expect(try await platform.request("GET", "/v1/threads/\(threads[1])/posts", token: reader.token).status == 200)
            let trusted = try await post(reader.token)
            #expect(trusted.status == 201 && trusted.object["moderation"] == nil, "\(trusted.text)")

            // By hand: only moderators of every board (a tier holds on all of them) and admins.
            let staff = try await Self.moderators(platform)
            let trust: [String: Any] = ["tier": 1, "reason": "Known to us from the advisors' meetups"]
            #expect(try await platform.request("PUT", "/v1/staff/board-tiers/\(newcomer.id)", token: owner.token, json: trust).status == 403)
            #expect(try await platform.request("PUT", "/v1/staff/board-tiers/\(newcomer.id)", token: staff.tarot, json: trust).status == 403)
            #expect(try await platform.request("PUT", "/v1/staff/board-tiers/\(newcomer.id)", token: staff.all, json: ["tier": 2, "reason": "x"]).status == 422)
            #expect(try await platform.request("PUT", "/v1/staff/board-tiers/\(UUID())", token: staff.all, json: trust).status == 404)
            #expect(try await post(newcomer.token).code == "too_many_links")
            let set = try await platform.request("PUT", "/v1/staff/board-tiers/\(newcomer.id)", token: staff.all, json: trust)
            #expect(set.status == 200 && set.object["tier"] as? Int == 1 && set.object["tierSetBy"] as? String == "moderator", "\(set.text)")
            #expect(try await post(newcomer.token).status == 201)
            let log = try await platform.request("GET", "/v1/me/access-log", token: newcomer.token)
            #expect(log.items.contains { $0["action"] as? String == "staff.board-tier-set" && $0["reason"] as? String == trust["reason"] as? String }, "\(log.text)")

            // A moderator's word outranks behaviour, until it is handed back.
            let demote = try await platform.request(
                "PUT", "/v1/staff/board-tiers/\(reader.id)", token: staff.admin, json: ["tier": 0, "reason": "Link spam in private reports"])
            #expect(demote.status == 200 && demote.object["tier"] as? Int == 0 && demote.object["threadsRead"] as? Int == 2, "\(demote.text)")
            #expect(try await post(reader.token).code == "too_many_links")
            #expect(try await platform.request("DELETE", "/v1/staff/board-tiers/\(reader.id)", token: staff.all).status == 422)
            let cleared = try await platform.request("DELETE", "/v1/staff/board-tiers/\(reader.id)?reason=Appeal%20upheld", token: staff.all)
            #expect(cleared.status == 200 && cleared.object["tier"] as? Int == 1 && cleared.object["tierSetBy"] as? String == "behaviour", "\(cleared.text)")
            #expect(try await post(reader.token).status == 201)
        }
    }

    @Test("a new person's repeated post is held for review: no one else sees it, nothing counts it, until a moderator lets it out")
    func heldPosts() async throws {
        try await AccountsPlatform.with { platform in
            let owner = try await ChatEndToEndTests.member(platform, name: "Thread Owner")
            let newcomer = try await ChatEndToEndTests.member(platform, name: "Eager Newcomer")
            let started = try await Self.startThread(platform, title: "Crystals", text: "Do they help you?", token: owner.token)
            let threadId = try #require(started.object["id"] as? String)
            let text = "Best crystals at great prices, ask me!"
            let firstReply = try await platform.request(
                "POST", "/v1/threads/\(threadId)/posts", token: newcomer.token, json: ["text": text, "acknowledgePublic": true])
            #expect(firstReply.status == 201 && firstReply.object["moderation"] == nil)
            let repeated = try await platform.request("POST", "/v1/threads/\(threadId)/posts", token: newcomer.token, json: ["text": text])
            #expect(repeated.status == 201 && (repeated.object["moderation"] as? [String: Any])?["status"] as? String == "held", "\(repeated.text)")
            let heldId = try #require(repeated.object["id"] as? String)
            let anyone = try await platform.request("GET", "/v1/threads/\(threadId)/posts")
            #expect(!anyone.items.contains { $0["id"] as? String == heldId })
            #expect(try await platform.request("GET", "/v1/threads/\(threadId)").object["replyCount"] as? Int == 1, "a held post counts for nothing")
            #expect(try await platform.request("GET", "/v1/threads/\(threadId)/posts", token: newcomer.token).items.contains { $0["id"] as? String == heldId })

            let staff = try await Self.moderators(platform)
            let queue = try await platform.request("GET", "/v1/staff/moderation/queue", token: staff.all)
            #expect(queue.items.first?["held"] as? Bool == true, "\(queue.text)")
            let approve: [String: Any] = ["action": "restore", "reason": "Not spam: a genuine offer"]
            #expect(try await platform.request("POST", "/v1/staff/posts/\(heldId)/decision", token: staff.all, json: approve).status == 200)
            #expect(try await platform.request("GET", "/v1/threads/\(threadId)/posts").items.contains { $0["id"] as? String == heldId })
            #expect(try await platform.request("GET", "/v1/threads/\(threadId)").object["replyCount"] as? Int == 2)
        }
    }

    @Test("a reply tells the thread's author and the participants it mentions by name, never the replier; a held reply only once released")
    func replyEvents() async throws {
        try await AccountsPlatform.with { platform in
            let owner = try await ChatEndToEndTests.member(platform, name: "Thread Owner")
            let alice = try await ChatEndToEndTests.member(platform, name: "Alice Moon")
            let bob = try await ChatEndToEndTests.member(platform, name: "Bob Star")
            let started = try await Self.startThread(platform, title: "Full moon rituals", text: "Share yours", token: owner.token)
            let threadId = try #require(started.object["id"] as? String)
            func reply(_ text: String, _ token: String) async throws -> Reply {
                try await platform.request("POST", "/v1/threads/\(threadId)/posts", token: token, json: ["text": text, "acknowledgePublic": true])
            }
            let boards = Database(platform.harness.database.config(schema: "boards"), logger: Logger(label: "test"))
            defer { Task { await boards.close() } }
            func told() async throws -> [[String: String]] {
                try await boards.withConnection { connection in
                    try connection.query("SELECT payload::text AS payload FROM outbox WHERE type = 'boards.reply.v1' ORDER BY id").map { row in
                        let payload = try JSONSerialization.jsonObject(with: Data(try row.decode("payload", as: String.self).utf8)) as? [String: Any]
                        let recipients = payload?["recipients"] as? [[String: Any]] ?? []
                        return Dictionary(uniqueKeysWithValues: recipients.map {
                            (($0["accountId"] as? String ?? "").lowercased(), $0["why"] as? String ?? "")
                        })
                    }
                }
            }
            #expect(try await reply("Candles and silence.", alice.token).status == 201)
            #expect(try await reply("@Alice Moon lovely, thank you!", bob.token).status == 201)
            #expect(try await reply("Thanks @bob star", owner.token).status == 201)
            let events = try await told()
            #expect(events == [
                [owner.id.lowercased(): "thread-author"],
                [owner.id.lowercased(): "thread-author", alice.id.lowercased(): "mention"],
                [bob.id.lowercased(): "mention"],
            ], "\(events)")

            // Held, it tells nobody; released, it tells them then.
            let text = "Buy my moon oil, best price!"
            #expect(try await reply(text, bob.token).status == 201)
            let held = try await reply(text, bob.token)
            #expect((held.object["moderation"] as? [String: Any])?["status"] as? String == "held")
            #expect(try await told().count == 4)
            let staff = try await Self.moderators(platform)
            let approve: [String: Any] = ["action": "restore", "reason": "An honest offer"]
            #expect(try await platform.request("POST", "/v1/staff/posts/\(try #require(held.object["id"] as? String))/decision", token: staff.all, json: approve).status == 200)
            #expect(try await told().count == 5)
        }
    }

    @Test("admins add boards, rename and archive them; an archived board is neither listed nor read, and comes back whole")
    func boardAdministration() async throws {
        try await AccountsPlatform.with { platform in
            let staff = try await Self.moderators(platform)
            let member = try await ChatEndToEndTests.member(platform)
            let board: [String: Any] = ["slug": "crystals", "name": "Crystals", "description": "Stones and what they do."]
            #expect(try await platform.request("POST", "/v1/staff/boards", token: member.token, json: board).status == 403)
            #expect(try await platform.request("POST", "/v1/staff/boards", token: staff.all, json: board).status == 403, "moderators do not")
            let created = try await platform.request("POST", "/v1/staff/boards", token: staff.admin, json: board)
            #expect(created.status == 201 && created.object["threadCount"] as? Int == 0, "\(created.text)")
            #expect(try await platform.request("POST", "/v1/staff/boards", token: staff.admin, json: board).status == 409)
            for slug in ["Crystals", "a--b", "-a", "crystals!", String(repeating: "a", count: 41)] {
                var bad = board
                bad["slug"] = slug
                #expect(try await platform.request("POST", "/v1/staff/boards", token: staff.admin, json: bad).status == 422, "\(slug)")
            }
            func listed() async throws -> [String: String] {
                let boards = try await platform.request("GET", "/v1/boards").object["boards"] as? [[String: Any]] ?? []
                return Dictionary(uniqueKeysWithValues: boards.map { ($0["slug"] as? String ?? "", $0["name"] as? String ?? "") })
            }
            #expect(try await listed()["crystals"] == "Crystals")
            let thread = try await Self.startThread(platform, board: "crystals", title: "Amethyst", text: "For calm?", token: member.token)
            let threadId = try #require(thread.object["id"] as? String)

            let renamed = try await platform.request("PATCH", "/v1/staff/boards/crystals", token: staff.admin, json: ["name": "Crystals & stones"])
            #expect(renamed.status == 200 && renamed.object["description"] as? String == "Stones and what they do.", "\(renamed.text)")
            #expect(try await platform.request("PATCH", "/v1/staff/boards/crystals", token: staff.admin, json: ["archived": true]).status == 200)
            #expect(try await listed()["crystals"] == nil)
            #expect(try await platform.request("GET", "/v1/boards/crystals/threads").status == 404)
            #expect(try await platform.request("GET", "/v1/threads/\(threadId)").status == 404)
            #expect(try await platform.request("GET", "/v1/threads/\(threadId)/posts").status == 404)
            #expect(try await Self.startThread(platform, board: "crystals", title: "Quartz", text: "Clear", token: member.token).status == 404)
            #expect(try await platform.request("PATCH", "/v1/staff/boards/crystals", token: staff.admin, json: ["archived": false]).status == 200)
            #expect(try await listed()["crystals"] == "Crystals & stones")
            #expect(try await platform.request("GET", "/v1/boards/crystals/threads").items.map { $0["id"] as? String } == [threadId])
            #expect(try await platform.request("PATCH", "/v1/staff/boards/nowhere", token: staff.admin, json: ["archived": true]).status == 404)
        }
    }

    @Test("a local run's empty boards get the demo threads, once")
    func demoThreads() async throws {
        try await AccountsPlatform.with(serviceEnvironment: [.boards: ["BOARDS_DEMO_DATA": "1"]]) { platform in
            let threads = try await platform.request("GET", "/v1/boards/general/threads")
            #expect(threads.items.first?["title"] as? String == "Welcome to the message boards")
            #expect((threads.items.first?["author"] as? [String: Any])?["displayName"] as? String == "Advisor Platform team")
            #expect(try await Self.threadCount(platform, "tarot") == 1)
        }
    }
}
