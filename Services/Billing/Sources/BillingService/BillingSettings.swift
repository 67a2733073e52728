public import Foundation
public import ServiceKit

/// What the billing service needs beyond the settings every worker service has.
public struct BillingSettings: Sendable {
    /// The master key saved cards' processor references are sealed under, per member
    /// (`BILLING_DATA_KEY`, base64 of 32 random bytes; the database never holds it).
    public var dataKey: Data
    /// How many different advisors a new member may start a chat with on free minutes (`BILLING_FREE_CHATS`).
    public var freeChats: Int
    /// The free minutes at the start of each such chat (`BILLING_FREE_MINUTES`).
    public var freeMinutes: Int
    /// The platform's share of every minute, in percent (`BILLING_COMMISSION_PERCENT`).
    public var commissionPercent: Int
    /// The smallest and largest top-up (`BILLING_TOP_UP_MIN_CENTS`, `BILLING_TOP_UP_MAX_CENTS`).
    public var topUpRange: ClosedRange<Int>
    /// How long a top-up may stay pending before billing asks the processor again
    /// (`BILLING_RECONCILE_SECONDS`); the same idempotency key makes asking again safe.
    public var reconcileAfter: Duration
    /// How long a hold on a wallet for a chat's next minute lasts before it is voided unposted
    /// (`BILLING_HOLD_SECONDS`): longer than an advisor's time to accept plus a minute.
    public var holdSeconds: Int
    /// The satisfaction guarantee: how long after a chat's end a refund may be asked for
    /// (`BILLING_REFUND_WINDOW_HOURS`), the most it credits (`BILLING_REFUND_MAX_CENTS`), and how
    /// often a member may have one (`BILLING_REFUND_INTERVAL_DAYS`).
    public var refundWindowHours: Int
    public var refundMaxCents: Int
    public var refundIntervalDays: Int
    /// The smallest payout (`BILLING_PAYOUT_MIN_CENTS`), and how often the scheduled run looks
    /// for advisors to pay on and after the 1st and the 15th (`BILLING_PAYOUT_RUN_SECONDS`).
    public var payoutMinCents: Int
    public var payoutRunInterval: Duration
    /// Below this, a paid minute tells the member their wallet runs low (`BILLING_LOW_BALANCE_CENTS`, 500; 0: never).
    public var lowBalanceCents: Int

    public init(
        dataKey: Data, freeChats: Int = 3, freeMinutes: Int = 3, commissionPercent: Int = 30, topUpRange: ClosedRange<Int> = 500...50_000,
        reconcileAfter: Duration = .seconds(60), holdSeconds: Int = 600, refundWindowHours: Int = 72, refundMaxCents: Int = 2500,
        refundIntervalDays: Int = 30, payoutMinCents: Int = 2000, payoutRunInterval: Duration = .seconds(3600),
        lowBalanceCents: Int = 500
    ) {
        self.dataKey = dataKey
        self.freeChats = freeChats
        self.freeMinutes = freeMinutes
        self.commissionPercent = commissionPercent
        self.topUpRange = topUpRange
        self.reconcileAfter = reconcileAfter
        self.holdSeconds = holdSeconds
        self.refundWindowHours = refundWindowHours
        self.refundMaxCents = refundMaxCents
        self.refundIntervalDays = refundIntervalDays
        self.payoutMinCents = payoutMinCents
        self.lowBalanceCents = lowBalanceCents
        self.payoutRunInterval = payoutRunInterval
    }

    /// Reads the `BILLING_*` variables; nil, with the problems named, when the key is missing or malformed.
    public static func read(_ reader: inout ConfigReader) -> BillingSettings? {
        let encoded = reader.required("BILLING_DATA_KEY")
        let freeChats = reader.int("BILLING_FREE_CHATS", default: 3, in: 0...100)
        let freeMinutes = reader.int("BILLING_FREE_MINUTES", default: 3, in: 0...60)
        let commission = reader.int("BILLING_COMMISSION_PERCENT", default: 30, in: 0...100)
        let smallest = reader.int("BILLING_TOP_UP_MIN_CENTS", default: 500, in: 50...1_000_000)
        let largest = reader.int("BILLING_TOP_UP_MAX_CENTS", default: 50_000, in: 50...1_000_000)
        let reconcile = reader.int("BILLING_RECONCILE_SECONDS", default: 60, in: 1...86_400)
        let hold = reader.int("BILLING_HOLD_SECONDS", default: 600, in: 120...86_400)
        let refundWindow = reader.int("BILLING_REFUND_WINDOW_HOURS", default: 72, in: 0...8760)
        let refundMax = reader.int("BILLING_REFUND_MAX_CENTS", default: 2500, in: 0...1_000_000)
        let refundInterval = reader.int("BILLING_REFUND_INTERVAL_DAYS", default: 30, in: 0...3650)
        let payoutMin = reader.int("BILLING_PAYOUT_MIN_CENTS", default: 2000, in: 1...1_000_000)
        let payoutRun = reader.int("BILLING_PAYOUT_RUN_SECONDS", default: 3600, in: 1...86_400)
        let lowBalance = reader.int("BILLING_LOW_BALANCE_CENTS", default: 500, in: 0...1_000_000)
        if smallest > largest { reader.problem("BILLING_TOP_UP_MIN_CENTS must not exceed BILLING_TOP_UP_MAX_CENTS") }
        guard !encoded.isEmpty, smallest <= largest else { return nil }
        guard let key = Data(base64Encoded: encoded), key.count == 32 else {
            reader.problem("BILLING_DATA_KEY must be 32 random bytes in base64")
            return nil
        }
        return BillingSettings(
            dataKey: key, freeChats: freeChats, freeMinutes: freeMinutes, commissionPercent: commission, topUpRange: smallest...largest,
            reconcileAfter: .seconds(reconcile), holdSeconds: hold, refundWindowHours: refundWindow, refundMaxCents: refundMax,
            refundIntervalDays: refundInterval, payoutMinCents: payoutMin, payoutRunInterval: .seconds(payoutRun),
            lowBalanceCents: lowBalance)
    }
}
