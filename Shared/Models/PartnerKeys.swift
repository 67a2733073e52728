public import Foundation

/// Partners' API keys (docs/partners.md): a visible prefix that names the environment
/// (`adv_live_…`, `adv_test_…`, so a leaked key is easy to scan for), a secret the platform keeps
/// only as a hash, the scopes it may use, several per partner for rotation, revoked at once.
extension Accounts {
    /// What a partner key may do; each route of the partner API names the one it needs.
    public enum PartnerScope: String, Codable, Sendable, CaseIterable {
        case directoryRead = "directory:read"
        case referralsWrite = "referrals:write"
        case reportsRead = "reports:read"
        case usersRead = "users:read"
        case chatsCreate = "chats:create"
        case webhooksManage = "webhooks:manage"
    }

    /// A key as its partner and admins see it: never its secret after it was made.
    public struct PartnerKey: Codable, Sendable, Equatable {
        public var id: UUID
        public var partnerId: String
        /// `live` or `test`.
        public var environment: String
        /// The key's first characters (`adv_live_3fK9q2Lm`), enough to tell keys apart and to scan for.
        public var prefix: String
        public var scopes: [String]
        public var createdAt: Date
        public var lastUsedAt: Date?
        public var revokedAt: Date?
        public init(
            id: UUID, partnerId: String, environment: String, prefix: String, scopes: [String], createdAt: Date, lastUsedAt: Date?,
            revokedAt: Date?
        ) {
            self.id = id
            self.partnerId = partnerId
            self.environment = environment
            self.prefix = prefix
            self.scopes = scopes
            self.createdAt = createdAt
            self.lastUsedAt = lastUsedAt
            self.revokedAt = revokedAt
        }
    }

    /// `accounts.partner-keys.create`: an admin makes a key for a partner; the whole key is in
    /// this answer only.
    public struct CreatePartnerKey: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.partner-keys.create"
        public struct Request: Codable, Sendable, Equatable {
            public var partnerId: String
            public var environment: String
            public var scopes: [String]
            public init(partnerId: String, environment: String, scopes: [String]) {
                self.partnerId = partnerId
                self.environment = environment
                self.scopes = scopes
            }
        }
        public struct Response: Codable, Sendable, Equatable {
            public var key: PartnerKey
            /// The whole key: shown once, kept by the platform only as a hash.
            public var secret: String
            public init(key: PartnerKey, secret: String) {
                self.key = key
                self.secret = secret
            }
        }
    }

    /// `accounts.partner-keys.list`: a partner's keys, newest first (admins).
    public struct ListPartnerKeys: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.partner-keys.list"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var partnerId: String
            public init(partnerId: String) { self.partnerId = partnerId }
        }
        public struct Response: Codable, Sendable, Equatable {
            public var items: [PartnerKey]
            public init(items: [PartnerKey]) { self.items = items }
        }
    }

    /// `accounts.partner-keys.revoke`: an admin revokes a key; it opens nothing from then on.
    public struct RevokePartnerKey: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.partner-keys.revoke"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var keyId: UUID
            public init(keyId: UUID) { self.keyId = keyId }
        }
        public typealias Response = PartnerKey
    }

    /// `accounts.partner-keys.authenticate`: what a presented key opens, if anything (the
    /// integration service asks, as the platform, on every partner request: a revoked key is
    /// refused at once). 401 `unauthenticated` for a key that opens nothing.
    public struct AuthenticatePartnerKey: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.partner-keys.authenticate"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var key: String
            public init(key: String) { self.key = key }
        }
        public struct Response: Codable, Sendable, Equatable {
            public var keyId: UUID
            public var partnerId: String
            public var environment: String
            public var scopes: [String]
            public init(keyId: UUID, partnerId: String, environment: String, scopes: [String]) {
                self.keyId = keyId
                self.partnerId = partnerId
                self.environment = environment
                self.scopes = scopes
            }
        }
    }
}

extension ServiceError.Code {
    /// The partner key is good but lacks the scope the route needs (403).
    public static let insufficientScope = ServiceError.Code(rawValue: "insufficient_scope")
}

extension Accounts {
    /// A partner's referral code: an account that registers with it is counted for the partner,
    /// who never learns who.
    public struct ReferralCode: Codable, Sendable, Equatable {
        public var code: String
        public var createdAt: Date
        public init(code: String, createdAt: Date) {
            self.code = code
            self.createdAt = createdAt
        }
    }

    /// `accounts.referral-codes.create`: a code for `partnerId` (the platform asks, for the
    /// partner's key); given, or made. 409 `conflict` for a code taken.
    public struct CreateReferralCode: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.referral-codes.create"
        public struct Request: Codable, Sendable, Equatable {
            public var partnerId: String
            /// 4 to 40 letters, digits, `-` and `_`; nil: one is made.
            public var code: String?
            public init(partnerId: String, code: String? = nil) {
                self.partnerId = partnerId
                self.code = code
            }
        }
        public typealias Response = ReferralCode
    }

    /// `accounts.referral-codes.list`: a partner's codes, newest first (at most 500).
    public struct ListReferralCodes: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.referral-codes.list"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var partnerId: String
            public init(partnerId: String) { self.partnerId = partnerId }
        }
        public struct Response: Codable, Sendable, Equatable {
            public var items: [ReferralCode]
            public init(items: [ReferralCode]) { self.items = items }
        }
    }

    /// `accounts.referral-report`: sign-ups per code and day between `from` and `to` (UTC days,
    /// at most 92); a count under `minGroupSize` is suppressed (nil), never shown exactly.
    public struct ReferralReport: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.referral-report"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var partnerId: String
            /// `YYYY-MM-DD`.
            public var from: String
            public var to: String
            public var minGroupSize: Int
            /// The partners' share of what referred members paid, in percent.
            public var revenueSharePercent: Int
            public init(partnerId: String, from: String, to: String, minGroupSize: Int, revenueSharePercent: Int) {
                self.partnerId = partnerId
                self.from = from
                self.to = to
                self.minGroupSize = minGroupSize
                self.revenueSharePercent = revenueSharePercent
            }
        }
        /// One code's day. A figure counting fewer people than the minimum group size (but some) is
        /// left out, never shown exactly; what was paid is left out with the number who paid.
        public struct Row: Codable, Sendable, Equatable {
            public var code: String
            public var day: String
            /// Accounts registered with the code that day.
            public var signups: Int?
            /// Accounts registered with the code whose first chat began that day.
            public var firstChats: Int?
            /// Accounts registered with the code that paid for a chat that day.
            public var payers: Int?
            /// What they paid for chats that day, in cents, and the partner's share of it.
            public var chargedCents: Int?
            public var shareCents: Int?
            /// Whether any figure of the row was left out.
            public var suppressed: Bool
            public init(
                code: String, day: String, signups: Int?, firstChats: Int?, payers: Int?, chargedCents: Int?, shareCents: Int?,
                suppressed: Bool
            ) {
                self.code = code
                self.day = day
                self.signups = signups
                self.firstChats = firstChats
                self.payers = payers
                self.chargedCents = chargedCents
                self.shareCents = shareCents
                self.suppressed = suppressed
            }
        }
        public struct Response: Codable, Sendable, Equatable {
            public var minGroupSize: Int
            public var revenueSharePercent: Int
            public var items: [Row]
            public init(minGroupSize: Int, revenueSharePercent: Int, items: [Row]) {
                self.minGroupSize = minGroupSize
                self.revenueSharePercent = revenueSharePercent
                self.items = items
            }
        }
        public static let maxDays = 92
    }
}
