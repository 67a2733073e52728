import Bus
import Foundation
import Logging
import Models
import ServiceKit
import Store

/// The directory's business rules, one method per bus operation: validate, authorize, one
/// transaction, answer.
struct DirectoryHandlers: Sendable {
    let database: Database
    let bus: BusClient
    let settings: DirectorySettings
    let logger: Logger
    let records: AdvisorRecords
    let search: AdvisorSearch
    let searchCache: SearchCache

    init(database: Database, bus: BusClient, settings: DirectorySettings, logger: Logger) {
        self.database = database
        self.bus = bus
        self.settings = settings
        self.logger = logger
        self.records = AdvisorRecords(graceSeconds: settings.presenceGraceSeconds)
        self.search = AdvisorSearch(records: records)
        self.searchCache = SearchCache(lifetime: .milliseconds(settings.searchCacheMilliseconds))
    }

    static let unauthenticated = ServiceError(.unauthenticated, "sign in first")
    static let notAdvisor = ServiceError(.forbidden, "only advisors have a directory profile")
    static let noSuchAdvisor = ServiceError(.notFound, "there is no listed advisor with this id")

    /// The calling advisor's id: 401 when nobody is signed in, 403 for anyone but an advisor.
    static func advisorId(of caller: Caller) throws -> UUID {
        guard let id = caller.accountId else { throw unauthenticated }
        guard caller.has(.advisor) else { throw notAdvisor }
        return id
    }

    // MARK: Reading

    func categories() async throws -> [Directory.Category] {
        try await database.withConnection { connection in
            try connection.query("SELECT slug, name FROM categories ORDER BY position").map {
                Directory.Category(slug: try $0.decode("slug"), name: try $0.decode("name"))
            }
        }
    }

    func search(_ request: Directory.Search.Request) async throws -> Directory.Search.Response {
        let query = try AdvisorSearch.validate(request, categories: Self.categorySlugs)
        let search = self.search
        let database = self.database
        return try await searchCache.answer(request) {
            try await database.withConnection { try search.run(query, on: $0) }
        }
    }

    /// The slugs of the seeded categories (migration 001), which never change while the service runs.
    static let categorySlugs: Set<String> = [
        "psychic-readings", "tarot", "astrology", "love-relationships", "dream-analysis", "career-finance",
        "spiritual-guidance", "numerology", "mediums", "pet-psychics",
    ]

    func advisor(_ request: Directory.GetAdvisor.Request, caller: Caller) async throws -> Directory.Profile {
        let records = self.records
        let found = try await database.withConnection {
            try records.profile(request.advisorId, viewer: caller.accountId, on: $0)
        }
        guard let found else { throw Self.noSuchAdvisor }
        return found
    }

    func myProfile(caller: Caller) async throws -> Directory.Profile {
        let id = try Self.advisorId(of: caller)
        try await ensureProfile(id, caller: caller)
        let records = self.records
        guard let profile = try await database.withConnection({ try records.profile(id, viewer: id, on: $0) }) else {
            throw Self.noSuchAdvisor
        }
        return profile
    }

    // MARK: The advisor's own profile

    func updateProfile(_ change: Directory.UpdateProfile.Request, caller: Caller) async throws -> Directory.Profile {
        let id = try Self.advisorId(of: caller)
        try ProfileRules.check(change, settings: settings)
        try await ensureProfile(id, caller: caller)
        let records = self.records
        let profile = try await database.transaction { connection -> Directory.Profile in
            guard let current = try connection.queryOne("SELECT price_cents FROM advisors WHERE account_id = $1 FOR UPDATE", id)
            else { throw Self.notAdvisor }
            var categoryText: String?
            if let slugs = change.categories {
                let names = try connection.query(
                    "SELECT slug, name FROM categories WHERE slug = ANY($1::text[]) ORDER BY position", slugs)
                guard names.count == slugs.count else {
                    throw ServiceError(
                        .validationFailed, "categories must be chosen from GET /v1/categories",
                        fieldErrors: [FieldError(field: "categories", code: "unknown_category")])
                }
                categoryText = try names.map { try $0.decode("name", as: String.self) }.joined(separator: " ")
            }
            try connection.execute(
                """
                UPDATE advisors SET headline = coalesce($2, headline), bio = coalesce($3, bio),
                    categories = coalesce($4::text[], categories), category_text = coalesce($5, category_text),
                    price_cents = coalesce($6::int, price_cents), languages = coalesce($7::text[], languages),
                    years_experience = coalesce($8::int, years_experience),
                    photo_url = CASE WHEN $9::text IS NULL THEN photo_url WHEN $9::text = '' THEN NULL ELSE $9::text END
                WHERE account_id = $1
                """, id, change.headline?.trimmingCharacters(in: .whitespacesAndNewlines), change.bio, change.categories,
                categoryText, change.pricePerMinuteCents, change.languages, change.yearsExperience, change.photoUrl)
            let oldPrice: Int? = try current.decode("price_cents")
            if let price = change.pricePerMinuteCents, price != oldPrice {
                try Outbox.append(Directory.AdvisorPriceChanged(advisorId: id, pricePerMinuteCents: price, at: Date()), on: connection)
            }
            guard let profile = try records.profile(id, viewer: id, on: connection) else { throw Self.notAdvisor }
            return profile
        }
        logger.info("advisor profile updated", metadata: ["account.id": "\(id)"])
        return profile
    }

    /// Going online needs a listed profile; each call refreshes the heartbeat. `busy` is the chat
    /// service's to set, and an advisor in a chat changes nothing by hand until it ends.
    func setStatus(_ request: Directory.SetStatus.Request, caller: Caller) async throws -> Directory.SetStatus.Response {
        let id = try Self.advisorId(of: caller)
        guard request.status != .busy else {
            throw ServiceError(
                .validationFailed, "busy is set by the chat service while you are in a chat",
                fieldErrors: [FieldError(field: "status", code: "not_allowed")])
        }
        // A heartbeat is this call, often: the profile is made (one more query and a call to
        // accounts) only when the row is not there yet.
        if let answer = try await applyStatus(request.status, of: id) { return answer }
        try await ensureProfile(id, caller: caller)
        guard let answer = try await applyStatus(request.status, of: id) else { throw Self.notAdvisor }
        return answer
    }

    /// The status change in one transaction; nil when the advisor has no profile row yet.
    private func applyStatus(_ status: Directory.Status, of id: UUID) async throws -> Directory.SetStatus.Response? {
        let records = self.records
        let grace = settings.presenceGraceSeconds
        let request = Directory.SetStatus.Request(status: status)
        return try await database.transaction { connection -> Directory.SetStatus.Response? in
            guard
                let row = try connection.queryOne(
                    "SELECT \(records.statusSQL) AS status, a.listed FROM advisors a WHERE a.account_id = $1 FOR UPDATE", id)
            else { return nil }
            let current = try AdvisorRecords.status(row)
            if current == .busy {
                throw ServiceError(.advisorBusy, "you are in a chat; your status changes when it ends")
            }
            if request.status == .online, try !row.decode("listed", as: Bool.self) {
                throw ServiceError(
                    .profileIncomplete, "add a headline, a category and a price to your profile before going online")
            }
            let heartbeat = try connection.queryOne(
                """
                UPDATE advisors SET status = $2, heartbeat_at = CASE WHEN $2 = 'online' THEN now() ELSE heartbeat_at END,
                    status_changed_at = CASE WHEN $3 THEN now() ELSE status_changed_at END
                WHERE account_id = $1 RETURNING heartbeat_at
                """, id, request.status.rawValue, current != request.status)
            if current != request.status {
                try Presence.announce(id, is: request.status, on: connection)
            }
            var expiresAt: Date?
            if request.status == .online, let at: Date = try heartbeat?.decode("heartbeat_at") {
                expiresAt = at.addingTimeInterval(TimeInterval(grace))
            }
            return Directory.SetStatus.Response(status: request.status, expiresAt: expiresAt)
        }
    }

    /// The chat service takes an online advisor (one statement, so two chats cannot both win) or
    /// gives a busy one back, online with a fresh heartbeat or offline.
    func engage(_ request: Directory.Engage.Request, caller: Caller) async throws -> Directory.Engage.Response {
        guard caller.has(.system) else { throw ServiceError(.forbidden, "only the chat service engages advisors") }
        let records = self.records
        return try await database.transaction { connection in
            let changed: Row?
            if request.to == .busy {
                changed = try connection.queryOne(
                    """
                    UPDATE advisors a SET status = 'busy', engaged_chat = $2, status_changed_at = now()
                    WHERE a.account_id = $1 AND a.listed AND \(records.statusSQL) = 'online' RETURNING price_cents
                    """, request.advisorId, request.chatId)
            } else {
                changed = try connection.queryOne(
                    """
                    UPDATE advisors SET status = $2, engaged_chat = NULL,
                        heartbeat_at = CASE WHEN demo THEN 'infinity' ELSE now() END, status_changed_at = now()
                    WHERE account_id = $1 AND status = 'busy' AND engaged_chat = $3 RETURNING price_cents
                    """, request.advisorId, request.to.rawValue, request.chatId)
            }
            guard let changed else {
                guard
                    let row = try connection.queryOne(
                        "SELECT \(records.statusSQL) AS status, a.price_cents, a.engaged_chat FROM advisors a WHERE a.account_id = $1",
                        request.advisorId)
                else { throw Self.noSuchAdvisor }
                let current = try AdvisorRecords.status(row)
                if request.to == .busy, current == .busy, try row.decode("engaged_chat", as: UUID?.self) == request.chatId {
                    // Taken already for this very chat: a retried call.
                    return Directory.Engage.Response(status: .busy, pricePerMinuteCents: try row.decode("price_cents"))
                }
                if request.to == .busy {
                    throw current == .busy
                        ? ServiceError(.advisorBusy, "the advisor is in another chat")
                        : ServiceError(.advisorOffline, "the advisor is not online")
                }
                // Given back twice, or not held for this chat: nothing to change.
                return Directory.Engage.Response(status: current, pricePerMinuteCents: try row.decode("price_cents"))
            }
            try Presence.announce(request.advisorId, is: request.to, on: connection)
            return Directory.Engage.Response(status: request.to, pricePerMinuteCents: try changed.decode("price_cents"))
        }
    }

    /// Learns the caller's public name from accounts now, if the name task has not yet: a review
    /// must show its author's name from the start, not "former member" for a second.
    func ensureName(_ id: UUID, role: Role, caller: Caller) async throws {
        let known = try await database.withConnection {
            try $0.queryOne("SELECT 1 FROM people WHERE account_id = $1 AND display_name IS NOT NULL", id) != nil
        }
        guard !known else { return }
        let account = try await bus.call(Accounts.Me.self, Empty(), as: caller)
        try await database.withConnection { connection in
            try connection.execute(
                """
                INSERT INTO people (account_id, role, display_name) VALUES ($1, $2, $3)
                ON CONFLICT (account_id) DO UPDATE SET display_name = coalesce(people.display_name, excluded.display_name)
                """, id, role.rawValue, account.displayName)
        }
    }

    /// Creates the advisor's profile, or gives it its name, if accounts' announcement or the name
    /// task has not got there yet (both run asynchronously), with the name accounts gives the
    /// advisor themselves.
    func ensureProfile(_ id: UUID, caller: Caller) async throws {
        let named = try await database.withConnection {
            try $0.queryOne("SELECT 1 FROM advisors WHERE account_id = $1 AND display_name <> ''", id) != nil
        }
        guard !named else { return }
        let account = try await bus.call(Accounts.Me.self, Empty(), as: caller)
        guard account.roles.contains(Role.advisor.rawValue) else { throw Self.notAdvisor }
        try await database.transaction { connection in
            try Self.createProfile(id, displayName: account.displayName, on: connection)
        }
    }

    /// The advisor's empty, unlisted profile, with their name when it is known (else the name task
    /// fills it in); nothing if it exists already.
    static func createProfile(_ id: UUID, displayName: String?, on connection: Connection) throws {
        if let displayName {
            try connection.execute(
                """
                INSERT INTO people (account_id, role, display_name, name_fetched) VALUES ($1, 'advisor', $2, 1)
                ON CONFLICT (account_id) DO UPDATE SET display_name = coalesce(people.display_name, excluded.display_name)
                """, id, displayName)
        }
        try connection.execute(
            """
            INSERT INTO advisors (account_id, display_name)
            VALUES ($1, coalesce($2, (SELECT display_name FROM people WHERE account_id = $1), ''))
            ON CONFLICT DO NOTHING
            """, id, displayName)
        if let displayName {
            try connection.execute(
                "UPDATE advisors SET display_name = $2 WHERE account_id = $1 AND display_name = ''", id, displayName)
        }
    }
}
