import Foundation
import Models
import ServiceKit
import Store

/// The events of other services the directory applies.
enum DirectoryEvents {
    /// From accounts: a new advisor gets an empty, unlisted profile; every public name is kept
    /// current. From billing: a settled chat with a charge may be reviewed by its member.
    static var subscriptions: [EventSubscription] {
        [
            EventSubscription(producer: .accounts)
                .on(Accounts.AccountRegistered.self) { event, _, connection in
                    if event.role == Role.advisor.rawValue {
                        try DirectoryHandlers.createProfile(event.accountId, displayName: event.displayName, on: connection)
                    } else {
                        try connection.execute(
                            "INSERT INTO people (account_id, role, display_name) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                            event.accountId, event.role, event.displayName)
                    }
                }
                .on(Accounts.DisplayNameChanged.self) { event, _, connection in
                    try connection.execute(
                        "UPDATE people SET display_name = $2 WHERE account_id = $1", event.accountId, event.displayName)
                    if let name = event.displayName {
                        try connection.execute("UPDATE advisors SET display_name = $2 WHERE account_id = $1", event.accountId, name)
                    }
                },
            EventSubscription(producer: .billing)
                .on(Billing.ChatSettled.self) { event, _, connection in
                    guard event.chargedCents > 0 else { return }
                    try connection.execute(
                        """
                        INSERT INTO reviewable_chats (chat_id, member_id, advisor_id, ended_at) VALUES ($1, $2, $3, $4)
                        ON CONFLICT DO NOTHING
                        """, event.chatId, event.memberId, event.advisorId, event.endedAt)
                },
        ]
    }
}
