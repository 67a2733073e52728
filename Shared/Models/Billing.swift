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
            /// The saved card it charges.
            public var paymentMethodId: UUID?
            public init(enabled: Bool, thresholdCents: Int, amountCents: Int, paymentMethodId: UUID? = nil) {
                self.enabled = enabled
                self.thresholdCents = thresholdCents
                self.amountCents = amountCents
                self.paymentMethodId = paymentMethodId
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
        /// It reads the whole ledger: seconds once it holds millions of entries.
        public static let timeout = Duration.seconds(60)
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
    /// advisor, within their free chats) or their wallet's available balance covers a first minute,
    /// which is then held; else 402 `insufficient_funds`, and the advisor is never asked.
    public struct AuthorizeChat: BusOperation {
        public static let service = ServiceName.billing
        public static let name = "billing.authorize-chat"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var memberId: UUID
            public var advisorId: UUID
            public var pricePerMinuteCents: Int
            /// The chat asked for, whose first paid minute is held on the wallet (absent from an
            /// older chat service: the funds are then checked, not held).
            public var chatId: UUID?
            public init(memberId: UUID, advisorId: UUID, pricePerMinuteCents: Int, chatId: UUID? = nil) {
                self.memberId = memberId
                self.advisorId = advisorId
                self.pricePerMinuteCents = pricePerMinuteCents
                self.chatId = chatId
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
    public static let errorCodes: [DeclaredErrorCode] = [
        .init(.insufficientFunds, status: 402), .init(.cardDeclined, status: 402), .init(.idempotencyKeyReused, status: 422),
        .init(.idempotencyKeyInUse, status: 409), .init(.refundAlreadyRequested, status: 409), .init(.belowMinimum, status: 422),
        .init(.taxInfoRequired, status: 409),
    ]
}

/// Money in: saved cards and top-ups (docs/api.md "Billing").
extension Billing {
    /// A saved card as its member sees it.
    public struct PaymentMethod: Codable, Sendable, Equatable {
        public var id: UUID
        public var brand: String
        public var last4: String
        public var expMonth: Int
        public var expYear: Int
        public var createdAt: Date
        public init(id: UUID, brand: String, last4: String, expMonth: Int, expYear: Int, createdAt: Date) {
            self.id = id
            self.brand = brand
            self.last4 = last4
            self.expMonth = expMonth
            self.expYear = expYear
            self.createdAt = createdAt
        }
    }

    /// `billing.payment-methods`: the calling member's saved cards, newest first.
    public struct PaymentMethods: BusOperation {
        public static let service = ServiceName.billing
        public static let name = "billing.payment-methods"
        public static let isIdempotent = true
        public typealias Request = Empty
        public struct Response: Codable, Sendable, Equatable {
            public var items: [PaymentMethod]
            public init(items: [PaymentMethod]) { self.items = items }
        }
    }

    /// `billing.payment-methods.add`: saves the card behind a processor token.
    public struct AddPaymentMethod: BusOperation {
        public static let service = ServiceName.billing
        public static let name = "billing.payment-methods.add"
        public static let timeout = Duration.seconds(20)
        public struct Request: Codable, Sendable, Equatable {
            public var processorToken: String
            public init(processorToken: String) { self.processorToken = processorToken }
        }
        public typealias Response = PaymentMethod
    }

    /// `billing.payment-methods.remove`: forgets a saved card (its sealed reference is deleted).
    public struct RemovePaymentMethod: BusOperation {
        public static let service = ServiceName.billing
        public static let name = "billing.payment-methods.remove"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var id: UUID
            public init(id: UUID) { self.id = id }
        }
        public typealias Response = Empty
    }

    /// A top-up as its member sees it.
    public struct TopUp: Codable, Sendable, Equatable {
        public var id: UUID
        /// `succeeded`, `pending` (the processor's word awaited) or `declined`.
        public var status: String
        public var amountCents: Int
        public var paymentMethodId: UUID?
        public var declineCode: String?
        public var createdAt: Date
        public init(id: UUID, status: String, amountCents: Int, paymentMethodId: UUID?, declineCode: String?, createdAt: Date) {
            self.id = id
            self.status = status
            self.amountCents = amountCents
            self.paymentMethodId = paymentMethodId
            self.declineCode = declineCode
            self.createdAt = createdAt
        }
    }

    /// `billing.top-up`: charges a saved card and credits the wallet, once per idempotency key
    /// (the bus header's, which the gateway takes from `Idempotency-Key`): the first answer is
    /// kept for 24 h and given again for the same key and body.
    public struct CreateTopUp: BusOperation {
        public static let service = ServiceName.billing
        public static let name = "billing.top-up"
        public static let timeout = Duration.seconds(25)
        public struct Request: Codable, Sendable, Equatable {
            public var amountCents: Int
            public var paymentMethodId: UUID
            public init(amountCents: Int, paymentMethodId: UUID) {
                self.amountCents = amountCents
                self.paymentMethodId = paymentMethodId
            }
        }
        public typealias Response = TopUp
    }

    /// `billing.top-ups.get`: one of the caller's top-ups, as it stands now.
    public struct GetTopUp: BusOperation {
        public static let service = ServiceName.billing
        public static let name = "billing.top-ups.get"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var id: UUID
            public init(id: UUID) { self.id = id }
        }
        public typealias Response = TopUp
    }

    /// `billing.payment-update` (the integration service only): what the processor's verified
    /// webhook said about a payment. Applying one twice, or out of order, changes nothing more.
    public struct PaymentUpdate: BusOperation {
        public static let service = ServiceName.billing
        public static let name = "billing.payment-update"
        public static let isIdempotent = true
        public enum Kind: String, Codable, Sendable {
            case succeeded, failed, disputed
            /// The processor refunded (part of) a charge to its card: made from the processor's
            /// own dashboard, since the platform's refunds are wallet credits.
            case refunded
            /// A payout reached the advisor, or did not.
            case payoutPaid = "payout_paid"
            case payoutFailed = "payout_failed"
        }
        public struct Request: Codable, Sendable, Equatable {
            public var kind: Kind
            /// Billing's reference given with the charge (the top-up id); disputes name the payment only.
            public var reference: String?
            public var paymentId: String
            public var amountCents: Int
            public var declineCode: String?
            /// The processor's dispute (`dp_…`), for `disputed`.
            public var disputeId: String?
            /// The processor's refund (`re_…`), for `refunded`.
            public var refundId: String?
            public init(
                kind: Kind, reference: String?, paymentId: String, amountCents: Int, declineCode: String? = nil, disputeId: String? = nil,
                refundId: String? = nil
            ) {
                self.kind = kind
                self.reference = reference
                self.paymentId = paymentId
                self.amountCents = amountCents
                self.declineCode = declineCode
                self.disputeId = disputeId
                self.refundId = refundId
            }
        }
        public typealias Response = Empty
    }
}

extension ServiceError.Code {
    /// The processor declined the card (402).
    public static let cardDeclined = ServiceError.Code(rawValue: "card_declined")
    /// An `Idempotency-Key` sent again with a different body (422).
    public static let idempotencyKeyReused = ServiceError.Code(rawValue: "idempotency_key_reused")
    /// The first request with this `Idempotency-Key` is still being answered (409).
    public static let idempotencyKeyInUse = ServiceError.Code(rawValue: "idempotency_key_in_use")
}

/// The satisfaction guarantee (docs/api.md "Billing").
extension Billing {
    /// A refund decision: `approved` (credited to the wallet) or `declined`, and the rule that
    /// decided: `guarantee`, `window_passed`, `recent_refund`, `nothing_charged`, `finance_override`.
    public struct Refund: Codable, Sendable, Equatable {
        public var id: UUID
        public var chatId: UUID
        public var status: String
        public var amountCents: Int
        public var rule: String
        public var decidedAt: Date
        public init(id: UUID, chatId: UUID, status: String, amountCents: Int, rule: String, decidedAt: Date) {
            self.id = id
            self.chatId = chatId
            self.status = status
            self.amountCents = amountCents
            self.rule = rule
            self.decidedAt = decidedAt
        }
    }

    /// `billing.refunds.request`: a member asks for a chat's money back; decided at once by the rules.
    public struct RequestRefund: BusOperation {
        public static let service = ServiceName.billing
        public static let name = "billing.refunds.request"
        public struct Request: Codable, Sendable, Equatable {
            public var chatId: UUID
            public var reason: String
            public init(chatId: UUID, reason: String) {
                self.chatId = chatId
                self.reason = reason
            }
        }
        public typealias Response = Refund
    }

    /// `billing.refunds.override`: finance staff refund a chat whatever the rules said, with a
    /// reason recorded in the member's access log.
    public struct OverrideRefund: BusOperation {
        public static let service = ServiceName.billing
        public static let name = "billing.refunds.override"
        public struct Request: Codable, Sendable, Equatable {
            public var chatId: UUID
            public var amountCents: Int
            public var reason: String
            public init(chatId: UUID, amountCents: Int, reason: String) {
                self.chatId = chatId
                self.amountCents = amountCents
                self.reason = reason
            }
        }
        public typealias Response = Refund
    }
}

extension ServiceError.Code {
    /// A refund of this chat was asked for already (409).
    public static let refundAlreadyRequested = ServiceError.Code(rawValue: "refund_already_requested")
}

/// The advisor's side: payouts and tax information (docs/api.md "Billing").
extension Billing {
    /// A payout of earnings to the advisor through the processor.
    public struct Payout: Codable, Sendable, Equatable {
        public var id: UUID
        /// `requested` (earnings set aside), `sent` (the processor has it), `paid`, or `failed`
        /// (the amount returned to earnings).
        public var status: String
        public var amountCents: Int
        /// Whether the twice-monthly run made it rather than the advisor.
        public var scheduled: Bool
        public var createdAt: Date
        public init(id: UUID, status: String, amountCents: Int, scheduled: Bool, createdAt: Date) {
            self.id = id
            self.status = status
            self.amountCents = amountCents
            self.scheduled = scheduled
            self.createdAt = createdAt
        }
    }

    /// `billing.payouts.request`: the calling advisor asks for `amountCents` of their available
    /// earnings, once per idempotency key (the bus header's); 422 `below_minimum`, 409
    /// `tax_info_required`, 402 `insufficient_funds`.
    public struct RequestPayout: BusOperation {
        public static let service = ServiceName.billing
        public static let name = "billing.payouts.request"
        public struct Request: Codable, Sendable, Equatable {
            public var amountCents: Int
            public init(amountCents: Int) { self.amountCents = amountCents }
        }
        public typealias Response = Payout
    }

    /// `billing.payouts`: the calling advisor's payouts, newest first.
    public struct Payouts: BusOperation {
        public static let service = ServiceName.billing
        public static let name = "billing.payouts"
        public static let isIdempotent = true
        public typealias Request = PageRequest
        public typealias Response = Page<Payout>
    }

    /// A postal address on a tax form.
    public struct TaxAddress: Codable, Sendable, Equatable {
        public var line1: String
        public var line2: String?
        public var city: String
        public var region: String?
        public var postalCode: String
        /// ISO 3166-1 alpha-2.
        public var country: String
        public init(line1: String, line2: String? = nil, city: String, region: String? = nil, postalCode: String, country: String) {
            self.line1 = line1
            self.line2 = line2
            self.city = city
            self.region = region
            self.postalCode = postalCode
            self.country = country
        }
    }

    /// What an advisor certifies on a W-9 (US persons) or W-8BEN (foreign individuals).
    public struct TaxInfoFields: Codable, Sendable, Equatable {
        /// `w9` or `w8ben`.
        public var form: String
        public var legalName: String
        public var businessName: String?
        /// W-9 line 3: `individual`, `sole_proprietor`, `c_corporation`, `s_corporation`,
        /// `partnership`, `trust_estate`, `llc`; absent on a W-8BEN.
        public var taxClassification: String?
        /// W-8BEN: the country of citizenship (ISO 3166-1 alpha-2).
        public var citizenshipCountry: String?
        public var address: TaxAddress
        public init(
            form: String, legalName: String, businessName: String? = nil, taxClassification: String? = nil,
            citizenshipCountry: String? = nil, address: TaxAddress
        ) {
            self.form = form
            self.legalName = legalName
            self.businessName = businessName
            self.taxClassification = taxClassification
            self.citizenshipCountry = citizenshipCountry
            self.address = address
        }
    }

    /// `billing.tax-info.put`: the calling advisor's tax information; `taxId` (SSN, EIN, ITIN or a
    /// foreign tax id) goes in whole and is sealed, and comes back only as its last four digits.
    public struct PutTaxInfo: BusOperation {
        public static let service = ServiceName.billing
        public static let name = "billing.tax-info.put"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var fields: TaxInfoFields
            public var taxId: String
            /// The advisor certifies, under penalties of perjury, what the form says.
            public var certified: Bool
            public init(fields: TaxInfoFields, taxId: String, certified: Bool) {
                self.fields = fields
                self.taxId = taxId
                self.certified = certified
            }
        }
        public typealias Response = TaxInfo
    }

    /// Tax information as its advisor reads it back.
    public struct TaxInfo: Codable, Sendable, Equatable {
        public var fields: TaxInfoFields
        public var taxIdLast4: String
        public var certifiedAt: Date
        public init(fields: TaxInfoFields, taxIdLast4: String, certifiedAt: Date) {
            self.fields = fields
            self.taxIdLast4 = taxIdLast4
            self.certifiedAt = certifiedAt
        }
    }

    /// `billing.tax-info`: the calling advisor's tax information (404 before it is given).
    public struct GetTaxInfo: BusOperation {
        public static let service = ServiceName.billing
        public static let name = "billing.tax-info"
        public static let isIdempotent = true
        public typealias Request = Empty
        public typealias Response = TaxInfo
    }

    /// `billing.tax-summary`: the figures of a year a 1099-NEC needs.
    public struct TaxSummary: BusOperation {
        public static let service = ServiceName.billing
        public static let name = "billing.tax-summary"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var year: Int
            public init(year: Int) { self.year = year }
        }
        public struct Response: Codable, Sendable, Equatable {
            public var year: Int
            /// Box 1, nonemployee compensation: what the advisor earned in the year (their share of minutes).
            public var grossEarningsCents: Int
            public var paidOutCents: Int
            public var legalName: String?
            public var taxIdLast4: String?
            /// Whether the year reaches the 1099-NEC threshold ($600) for a W-9 filer.
            public var form1099Required: Bool
            public init(
                year: Int, grossEarningsCents: Int, paidOutCents: Int, legalName: String?, taxIdLast4: String?, form1099Required: Bool
            ) {
                self.year = year
                self.grossEarningsCents = grossEarningsCents
                self.paidOutCents = paidOutCents
                self.legalName = legalName
                self.taxIdLast4 = taxIdLast4
                self.form1099Required = form1099Required
            }
        }
    }
}

extension ServiceError.Code {
    /// A payout below `BILLING_PAYOUT_MIN_CENTS` (422).
    public static let belowMinimum = ServiceError.Code(rawValue: "below_minimum")
    /// Payouts need tax information first (409).
    public static let taxInfoRequired = ServiceError.Code(rawValue: "tax_info_required")
}

extension Payments {
    /// `payments.payout`: pays an advisor out once per `idempotencyKey`. The processor says later,
    /// by webhook, whether it was paid.
    public struct Payout: BusOperation {
        public static let service = ServiceName.payments
        public static let name = "payments.payout"
        public static let isIdempotent = true
        public static let timeout = Duration.seconds(15)
        public struct Request: Codable, Sendable, Equatable {
            public var idempotencyKey: String
            public var amountCents: Int
            /// Whom the processor pays (the advisor's id: their payout account at the processor).
            public var destination: String
            /// Billing's reference (the payout id), echoed by the webhooks.
            public var reference: String
            public init(idempotencyKey: String, amountCents: Int, destination: String, reference: String) {
                self.idempotencyKey = idempotencyKey
                self.amountCents = amountCents
                self.destination = destination
                self.reference = reference
            }
        }
        public struct Response: Codable, Sendable, Equatable {
            /// Whether the processor took it (`pending` there), or it could not be told.
            public var accepted: Bool
            public var payoutId: String?
            public init(accepted: Bool, payoutId: String? = nil) {
                self.accepted = accepted
                self.payoutId = payoutId
            }
        }
    }
}

extension Billing {
    /// `billing.auto-reload.set`: when enabled, each time the wallet's available balance drops
    /// below `thresholdCents` billing tops it up by `amountCents` from the saved card, once per
    /// crossing (again only after the balance was back above the threshold).
    public struct SetAutoReload: BusOperation {
        public static let service = ServiceName.billing
        public static let name = "billing.auto-reload.set"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var enabled: Bool
            public var thresholdCents: Int
            public var amountCents: Int
            public var paymentMethodId: UUID
            public init(enabled: Bool, thresholdCents: Int, amountCents: Int, paymentMethodId: UUID) {
                self.enabled = enabled
                self.thresholdCents = thresholdCents
                self.amountCents = amountCents
                self.paymentMethodId = paymentMethodId
            }
        }
        public typealias Response = Wallet.AutoReload
    }
}

extension Billing {
    /// `billing.money-notice.v1`: something about a person's money they are told of (the
    /// notifications service's receipts and warnings). Amounts only, never a card or a statement.
    public struct MoneyNotice: DomainEvent, Equatable {
        public static let type = "billing.money-notice.v1"
        public var accountId: UUID
        /// One of the constants below.
        public var what: String
        /// The top-up, refund or payout; for `low-balance`, what is left.
        public var amountCents: Int
        public var at: Date
        public init(accountId: UUID, what: String, amountCents: Int, at: Date) {
            self.accountId = accountId
            self.what = what
            self.amountCents = amountCents
            self.at = at
        }

        public static let topUpSucceeded = "top-up-succeeded"
        public static let refundApproved = "refund-approved"
        public static let refundDeclined = "refund-declined"
        public static let payoutPaid = "payout-paid"
        /// A paid minute took the wallet below the low-balance mark.
        public static let lowBalance = "low-balance"
    }
}
