import Foundation
import Store

/// Failed sign-ins per email and per address: the slow-down, the refusal and the history.
enum SignInThrottle {
    /// Failures in the window for the email or the address, whichever has more.
    struct Failures {
        var count: Int
        /// The oldest of the failures counted.
        var oldest: Date?

        /// Seconds until the oldest counted failure leaves the window (at least 1).
        func retryAfter(window: TimeInterval) -> Int {
            guard let oldest else { return 1 }
            return max(1, Int((window - Date().timeIntervalSince(oldest)).rounded(.up)))
        }
    }

    static func recentFailures(email: String, ip: String, window: TimeInterval, on connection: Connection) throws -> Failures {
        let since = Date().addingTimeInterval(-window)
        var worst = Failures(count: 0, oldest: nil)
        for (column, value) in [("email_normalized", email), ("ip", ip)] {
            guard
                let row = try connection.queryOne(
                    "SELECT count(*) AS n, min(at) AS oldest FROM sign_in_attempts WHERE \(column) = $1 AND NOT succeeded AND at > $2",
                    value, since)
            else { continue }
            let count = try row.decode("n", as: Int.self)
            if count > worst.count { worst = Failures(count: count, oldest: try row.decode("oldest")) }
        }
        return worst
    }

    /// Doubles from the base delay with every failure past the slow-down threshold, capped.
    static func delay(failures: Int, limits: SignInLimits) -> Duration {
        let steps = min(failures - limits.slowDownAfter, 16)
        let delay = limits.baseDelay * (1 << steps)
        return min(delay, limits.maximumDelay)
    }

    static func record(
        email: String, ip: String, userAgent: String, succeeded: Bool, accountId: UUID?, on connection: Connection
    ) throws {
        try connection.execute(
            """
            INSERT INTO sign_in_attempts (email_normalized, ip, user_agent, succeeded, account_id)
            VALUES ($1, $2, $3, $4, $5)
            """, String(email.prefix(254)), ip, userAgent, succeeded, accountId)
    }
}
