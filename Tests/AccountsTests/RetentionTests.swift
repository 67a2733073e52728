import Foundation
import Models
import Store
import Testing
@testable import AccountsService

@Suite("Retention")
struct RetentionTests {
    @Test("sessions go 30 days after they ended, sign-ins after 90 days, attempt counters soon after their window; newer ones stay")
    func pruning() async throws {
        try await AccountsFixture.with { accounts in
            let account = try await accounts.register(email: "keeps@example.com")
            for _ in 0..<3 { _ = try await accounts.signIn("keeps@example.com") }
            let live = try await accounts.signIn("keeps@example.com")
            try await accounts.database.withConnection { connection in
                // Two sessions long over (one expired, one revoked), one recently revoked, one live.
                try connection.executeScript(
                    """
                    WITH s AS (SELECT token_hash, row_number() OVER (ORDER BY created_at) AS n FROM sessions)
                    UPDATE sessions SET
                        expires_at = CASE WHEN s.n = 1 THEN now() - interval '31 days' ELSE sessions.expires_at END,
                        revoked_at = CASE WHEN s.n = 2 THEN now() - interval '40 days'
                                          WHEN s.n = 3 THEN now() - interval '1 day' ELSE sessions.revoked_at END
                    FROM s WHERE s.token_hash = sessions.token_hash AND s.n <= 3;
                    UPDATE sign_in_attempts SET at = now() - interval '91 days'
                    WHERE id IN (SELECT id FROM sign_in_attempts ORDER BY id LIMIT 2);
                    """)
            }
            _ = try await accounts.database.withConnection { connection in
                try connection.execute("UPDATE attempt_counters SET window_ends = now() - interval '2 minutes' WHERE ctid = (SELECT ctid FROM attempt_counters LIMIT 1)")
            }
            #expect(try await AccountsRetention.pruneAttemptCounters(accounts.database) == 1)
            #expect(try await AccountsRetention.pruneSessions(accounts.database) == 2)
            #expect(try await AccountsRetention.pruneSignIns(accounts.database) == 2)
            #expect(try await AccountsRetention.pruneSessions(accounts.database) == 0)
            let (sessions, signIns) = try await accounts.database.withConnection { connection in
                (
                    try connection.queryOne("SELECT count(*) AS n FROM sessions WHERE account_id = $1", account.id)?.decode("n", as: Int.self),
                    try connection.queryOne("SELECT count(*) AS n FROM sign_in_attempts WHERE account_id = $1", account.id)?
                        .decode("n", as: Int.self)
                )
            }
            #expect(sessions == 2 && signIns == 2)
            #expect(try await accounts.call(Accounts.Authenticate.self, .init(token: live.token)).accountId == account.id)
        }
    }
}
