import Foundation
import Models
import ServiceKit
import Store

/// The demo directory of a local run: when the directory is empty at start-up and
/// `DIRECTORY_DEMO_DATA=1`, a few dozen believable advisors with categories, prices, languages and
/// reviews (photos are left to front ends, which draw initials), some of them online and kept so.
/// The same every time: a seeded generator picks every value. A demo advisor sends no heartbeats,
/// so its heartbeat is `infinity`: never stale, whatever the grace window (a short one in tests
/// took every demo advisor offline before a keep-alive could run).
enum DemoData {
    static let advisorCount = 36

    /// Fills an empty directory; returns how many advisors it wrote (0 when there were some already).
    static func seedIfEmpty(_ database: Database) async throws -> Int {
        try await database.transaction { connection in
            // One instance seeds; another starting at once waits here, then finds the rows.
            try connection.execute("LOCK TABLE advisors IN EXCLUSIVE MODE")
            guard try connection.queryOne("SELECT 1 FROM advisors LIMIT 1") == nil else { return 0 }
            let names = Dictionary(
                uniqueKeysWithValues: try connection.query("SELECT slug, name FROM categories").map {
                    (try $0.decode("slug", as: String.self), try $0.decode("name", as: String.self))
                })
            var random = SeededGenerator(seed: 20_261_205)
            for index in 0..<advisorCount {
                try insertAdvisor(index, categoryNames: names, random: &random, on: connection)
            }
            return advisorCount
        }
    }

    private static func insertAdvisor(
        _ index: Int, categoryNames: [String: String], random: inout SeededGenerator, on connection: Connection
    ) throws {
        let id = UUID()
        let name = "\(firstNames[index % firstNames.count]) \(lastNames[(index * 7) % lastNames.count])"
        let primary = specialties[index % specialties.count]
        var categories = [primary.category]
        if random.next(upTo: 2) == 0 {
            let second = specialties[random.next(upTo: specialties.count)].category
            if second != primary.category { categories.append(second) }
        }
        let languages = ["en"] + (random.next(upTo: 4) == 0 ? [["es", "fr", "de", "pt"][random.next(upTo: 4)]] : [])
        let years = 2 + random.next(upTo: 30)
        let price = [99, 149, 199, 249, 299, 349, 399, 499, 599][random.next(upTo: 9)]
        let status = random.next(upTo: 3) == 0 ? "online" : "offline"
        try connection.execute(
            """
            INSERT INTO advisors (account_id, display_name, headline, bio, categories, category_text, price_cents, languages,
                years_experience, status, heartbeat_at, created_at, demo)
            VALUES ($1, $2, $3, $4, $5::text[], $6, $7, $8::text[], $9, $10, 'infinity', now() - make_interval(days => $11::int), true)
            """, id, name, primary.headline, "\(primary.bio) \(years) years of experience.", categories,
            categories.compactMap { categoryNames[$0] }.joined(separator: " "), price, languages, years, status, index)
        try connection.execute("INSERT INTO people (account_id, role, display_name, name_fetched) VALUES ($1, 'advisor', $2, 1)", id, name)
        let reviews = random.next(upTo: 7)
        for _ in 0..<reviews {
            let rating = [5, 5, 5, 4, 4, 3][random.next(upTo: 6)]
            let author = UUID()
            try connection.execute(
                "INSERT INTO people (account_id, role, display_name, name_fetched) VALUES ($1, 'member', $2, 1)", author,
                reviewers[random.next(upTo: reviewers.count)])
            try connection.execute(
                """
                INSERT INTO reviews (id, chat_id, advisor_id, author_id, rating, text, created_at)
                VALUES ($1, $2, $3, $4, $5, $6, now() - make_interval(hours => $7::int))
                """, UUID(), UUID(), id, author, rating, reviewTexts[rating]![random.next(upTo: reviewTexts[rating]!.count)],
                random.next(upTo: 24 * 60))
            try connection.execute(
                "UPDATE advisors SET rating_sum = rating_sum + $2, review_count = review_count + 1 WHERE account_id = $1", id,
                rating)
        }
    }

    /// Now and then takes one demo advisor on or off line, announced like any change, so the
    /// directory looks alive.
    static func presence(every interval: Duration = .seconds(15)) -> MaintenanceTask {
        MaintenanceTask(name: "directory.demo-presence", interval: interval) { database in
            try await database.transaction { connection in
                let flipped = try connection.query(
                    """
                    UPDATE advisors SET status = CASE WHEN status = 'online' THEN 'offline' ELSE 'online' END,
                        heartbeat_at = 'infinity', status_changed_at = now()
                    WHERE account_id = (SELECT account_id FROM advisors WHERE demo AND status <> 'busy' ORDER BY random() LIMIT 1)
                    RETURNING account_id, status
                    """)
                for row in flipped {
                    try Presence.announce(
                        try row.decode("account_id"), is: Directory.Status(rawValue: try row.decode("status")) ?? .offline,
                        on: connection)
                }
                return flipped.count
            }
        }
    }

    static let firstNames = [
        "Luna", "Orion", "Sage", "Marisol", "Ezra", "Ivy", "Bram", "Celeste", "Dorian", "Freya", "Jasper", "Lyra",
        "Morgana", "Nico", "Opal", "Rowan", "Selene", "Theo", "Willow", "Aurora", "Caspian", "Delphine", "Elias", "Juniper",
    ]
    static let lastNames = [
        "Starweaver", "Blake", "Whitfield", "Vega", "Moon", "Hollow", "Quill", "Ashgrove", "Marlowe", "Nightingale",
        "Rivers", "Thorne", "Vale", "Wren", "Everly", "Fairchild", "Grey", "Holloway", "Lark", "Sterling",
    ]

    struct Specialty {
        var category: String
        var headline: String
        var bio: String
    }

    static let specialties = [
        Specialty(category: "tarot", headline: "Clear, compassionate tarot readings", bio: "I read the cards to show you the paths open to you, never to frighten you."),
        Specialty(category: "astrology", headline: "Your birth chart, explained in plain words", bio: "Natal charts, transits and compatibility, with practical advice for the months ahead."),
        Specialty(category: "love-relationships", headline: "Love and relationship guidance", bio: "Whether you are single, together or apart, I help you understand what your heart is telling you."),
        Specialty(category: "psychic-readings", headline: "Honest psychic readings, no fluff", bio: "I tell you what I see, kindly and directly, so you can decide your next step."),
        Specialty(category: "dream-analysis", headline: "What your dreams are trying to tell you", bio: "Recurring dreams, nightmares and symbols, read with care."),
        Specialty(category: "career-finance", headline: "Career crossroads and money decisions", bio: "New job, promotion or a leap of faith: let us look at the timing together."),
        Specialty(category: "spiritual-guidance", headline: "Gentle spiritual guidance", bio: "Meditation, energy and purpose for when life feels heavy."),
        Specialty(category: "numerology", headline: "Numerology: the numbers in your name and birthday", bio: "Life path, expression and personal year numbers, and what they mean for you now."),
        Specialty(category: "mediums", headline: "Medium readings with loved ones who have passed", bio: "I connect with spirit to bring comfort, messages and closure."),
        Specialty(category: "pet-psychics", headline: "Pet psychic for cats, dogs and horses", bio: "I help you understand what your animal companion feels and needs."),
    ]

    static let reviewers = [
        "Amelia R.", "Ben K.", "Chloe", "Daniel M.", "Grace", "Hannah P.", "Isaac", "Jade L.", "Kiara", "Leo T.", "Maya",
        "Noah S.", "Olivia", "Priya N.", "Sam", "Zoe W.",
    ]

    static let reviewTexts: [Int: [String]] = [
        5: [
            "Incredibly accurate and so kind. I felt heard.", "Spot on about my situation at work. Thank you!",
            "Calm, clear and caring. I will be back.", "Everything she said made sense a week later.",
        ],
        4: ["Helpful reading with practical advice.", "Good insight, a little rushed at the end.", "Warm and thoughtful."],
        3: ["Some of it resonated, some did not.", "Nice person, the reading was fairly general."],
    ]
}

/// SplitMix64: a small, fast, seedable generator, so the demo data is the same on every machine.
struct SeededGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func nextValue() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in `0..<bound`.
    mutating func next(upTo bound: Int) -> Int { Int(nextValue() % UInt64(bound)) }
}
