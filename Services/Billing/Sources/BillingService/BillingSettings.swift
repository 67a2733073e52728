public import ServiceKit

/// What the billing service needs beyond the settings every worker service has.
public struct BillingSettings: Sendable {
    /// How many different advisors a new member may start a chat with on free minutes (`BILLING_FREE_CHATS`).
    public var freeChats: Int
    /// The free minutes at the start of each such chat (`BILLING_FREE_MINUTES`).
    public var freeMinutes: Int
    /// The platform's share of every minute, in percent (`BILLING_COMMISSION_PERCENT`).
    public var commissionPercent: Int

    public init(freeChats: Int = 3, freeMinutes: Int = 3, commissionPercent: Int = 30) {
        self.freeChats = freeChats
        self.freeMinutes = freeMinutes
        self.commissionPercent = commissionPercent
    }

    public static func read(_ reader: inout ConfigReader) -> BillingSettings {
        BillingSettings(
            freeChats: reader.int("BILLING_FREE_CHATS", default: 3, in: 0...100),
            freeMinutes: reader.int("BILLING_FREE_MINUTES", default: 3, in: 0...60),
            commissionPercent: reader.int("BILLING_COMMISSION_PERCENT", default: 30, in: 0...100))
    }
}
