import Foundation
import Models
import ServiceKit
import Store

/// The events of other services the directory applies.
enum DirectoryEvents {
    /// From accounts: a new advisor gets an empty, unlisted profile; a new or changed name is
    /// asked for (`PublicNames`). From billing: a settled chat with a charge may be reviewed by its member.
    static var subscriptions: [EventSubscription] {
        [
            EventSubscription(producer: .accounts)
                .on(Accounts.AccountRegistered.self) { event, _, connection in
                    try PublicNames.want(event.accountId, role: event.role, on: connection)
                    if event.role == Role.advisor.rawValue {
                        try DirectoryHandlers.createProfile(event.accountId, displayName: nil, on: connection)
                    }
                }
                .on(Accounts.DisplayNameChanged.self) { event, _, connection in
                    try connection.execute(
                        "UPDATE people SET name_requested = name_requested + 1 WHERE account_id = $1", event.accountId)
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
