public import Foundation

/// The billing service's operations (docs/api.md "Billing"): the ledger as its people see it.
extension Billing {
    /// `billing.wallet`: the calling member's wallet.
    public struct Wallet: BusOperation {
        public static let service = ServiceName.billing
        public static let name = "billing.wallet"
        public static let isIdempotent = true
        public typealias Request = Empty
        public struct AutoReload: Codable, Sendable, Equatable {
            public var enabled: Bool
            public var thresholdCents: Int
            public var amountCents: Int
            public init(enabled: Bool, thresholdCents: Int, amountCents: Int) {
                self.enabled = enabled
                self.thresholdCents = thresholdCents
                self.amountCents = amountCents
            }
        }
        public struct Response: Codable, Sendable, Equatable {
            public var balanceCents: Int
            /// Held for chats under way (pending transfers).
            public var heldCents: Int
            public var availableCents: Int
            /// How many more advisors this member may start a chat with on free minutes.
            public var freeChatsLeft: Int
            public var autoReload: AutoReload
            public init(balanceCents: Int, heldCents: Int, availableCents: Int, freeChatsLeft: Int, autoReload: AutoReload) {
                self.balanceCents = balanceCents
                self.heldCents = heldCents
                self.availableCents = availableCents
                self.freeChatsLeft = freeChatsLeft
                self.autoReload = autoReload
            }
        }
    }

    /// One line of a statement: a ledger entry of one of the caller's own accounts.
    public struct StatementLine: Codable, Sendable, Equatable {
        public var id: Int64
        public var at: Date
        /// `chat-minute`, `free-minute`, `earning`, …
        public var kind: String
        public var amountCents: Int
        public var balanceAfterCents: Int
        public var chatId: UUID?
        public init(id: Int64, at: Date, kind: String, amountCents: Int, balanceAfterCents: Int, chatId: UUID?) {
            self.id = id
            self.at = at
            self.kind = kind
            self.amountCents = amountCents
            self.balanceAfterCents = balanceAfterCents
            self.chatId = chatId
        }
    }

    /// `billing.statement`: the caller's statement lines, newest first.
    public struct Statement: BusOperation {
        public static let service = ServiceName.billing
        public static let name = "billing.statement"
        public static let isIdempotent = true
        public typealias Request = PageRequest
        public typealias Response = Page<StatementLine>
    }

    /// `billing.earnings`: the calling advisor's earnings.
    public struct Earnings: BusOperation {
        public static let service = ServiceName.billing
        public static let name = "billing.earnings"
        public static let isIdempotent = true
        public typealias Request = Empty
        public struct Response: Codable, Sendable, Equatable {
            public var availableCents: Int
            public var pendingCents: Int
            public var paidOutCents: Int
            /// The platform's share of each minute, in percent.
            public var commissionPercent: Int
            public init(availableCents: Int, pendingCents: Int, paidOutCents: Int, commissionPercent: Int) {
                self.availableCents = availableCents
                self.pendingCents = pendingCents
                self.paidOutCents = paidOutCents
                self.commissionPercent = commissionPercent
            }
        }
    }

    /// `billing.ledger.check`: proves every balance equals the sum of its entries, every
    /// transfer sums to zero, and so does the whole ledger (finance staff, or the platform tool).
    public struct LedgerCheck: BusOperation {
        public static let service = ServiceName.billing
        public static let name = "billing.ledger.check"
        public static let isIdempotent = true
        public typealias Request = Empty
        public struct Response: Codable, Sendable, Equatable {
            public var ok: Bool
            public var accounts: Int
            public var transfers: Int
            public var entries: Int
            /// The sum of every entry: 0 when the ledger balances.
            public var totalCents: Int
            /// Ledger accounts whose balance is not the sum of their entries.
            public var mismatchedAccounts: [UUID]
            /// Transfers whose entries do not sum to zero.
            public var unbalancedTransfers: [String]
            /// Wallets below zero without a dispute.
            public var negativeWallets: [UUID]
            public init(
                ok: Bool, accounts: Int, transfers: Int, entries: Int, totalCents: Int, mismatchedAccounts: [UUID],
                unbalancedTransfers: [String], negativeWallets: [UUID]
            ) {
                self.ok = ok
                self.accounts = accounts
                self.transfers = transfers
                self.entries = entries
                self.totalCents = totalCents
                self.mismatchedAccounts = mismatchedAccounts
                self.unbalancedTransfers = unbalancedTransfers
                self.negativeWallets = negativeWallets
            }
        }
    }
}

extension Billing {
    /// `billing.authorize-chat` (the chat service only): may this member start a paid chat with
    /// this advisor at this price? Yes when free minutes await them (a first chat with this
    /// advisor, within their free chats) or their wallet covers a first minute; else 402
    /// `insufficient_funds`, and the advisor is never asked.
    public struct AuthorizeChat: BusOperation {
        public static let service = ServiceName.billing
        public static let name = "billing.authorize-chat"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var memberId: UUID
            public var advisorId: UUID
            public var pricePerMinuteCents: Int
            public init(memberId: UUID, advisorId: UUID, pricePerMinuteCents: Int) {
                self.memberId = memberId
                self.advisorId = advisorId
                self.pricePerMinuteCents = pricePerMinuteCents
            }
        }
        public typealias Response = Empty
    }
}

extension ServiceError.Code {
    /// Neither free minutes nor the wallet cover what was asked (402).
    public static let insufficientFunds = ServiceError.Code(rawValue: "insufficient_funds")
}

extension Billing {
    /// Billing's own error codes, with their HTTP statuses.
    public static let errorCodes: [DeclaredErrorCode] = [.init(.insufficientFunds, status: 402)]
}
