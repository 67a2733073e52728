import Foundation
import Store

/// A few threads, by the platform's team, so that a local run's boards are not empty.
enum DemoThreads {
    static let byline = "Advisor Platform team"

    static let threads: [(board: String, title: String, text: String)] = [
        ("general", "Welcome to the message boards",
         "Say hello and tell us what brought you here. Remember: posts on the message boards are public, so keep private details out of them."),
        ("tarot", "Which spread do you use for a yes-or-no question?",
         "Some readers draw a single card, others a three-card spread. What works for you, and why?"),
        ("astrology", "Mercury retrograde: myth or real?", "Share the times it seemed to matter, and the times it did not."),
        ("dreams", "Dreams about water", "Calm lakes, storms at sea, rain in the house: what did yours mean to you?"),
    ]

    /// Adds the demo threads when no thread exists yet; how many.
    static func seedIfEmpty(_ database: Database) async throws -> Int {
        try await database.transaction { connection in
            guard try connection.queryOne("SELECT 1 AS found FROM threads LIMIT 1") == nil else { return 0 }
            for thread in threads {
                _ = try BoardsHandlers.insertThread(
                    board: thread.board, title: thread.title, text: thread.text, author: nil, byline: byline, on: connection)
            }
            return threads.count
        }
    }
}
