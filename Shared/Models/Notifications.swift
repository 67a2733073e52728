public import Foundation

/// The notifications service's operations (docs/api.md "Notifications"): a person's in-app inbox
/// and their settings per kind and channel, with quiet hours.
public enum Notifications {
    /// A channel a notice may go by.
    public enum Channel: String, Codable, Sendable, CaseIterable {
        case email, sms, inApp
    }

    /// What a notice is about, and the channels it may use (each on unless the person turns it off).
    public struct Kind: Sendable, Equatable {
        public let name: String
        public let channels: [Channel]
        /// Channels the person cannot turn off: how the platform tells them what happened to their account.
        public let required: [Channel]

        init(_ name: String, _ channels: [Channel], required: [Channel] = []) {
            self.name = name
            self.channels = channels
            self.required = required
        }

        // The kinds sent so far, each by the channels that deliver it today.
        public static let boardReply = Kind("board_reply", [.inApp])
        public static let favoriteOnline = Kind("favorite_online", [.inApp, .email])
        public static let securityNotice = Kind("security_notice", [.email, .inApp], required: [.email])
        /// Urgent: never held by quiet hours. By text only to an advisor with no stream connection.
        public static let chatRequest = Kind("chat_request", [.inApp, .sms])
        public static let topUpReceipt = Kind("top_up_receipt", [.email, .inApp])
        public static let refundDecided = Kind("refund_decided", [.email, .inApp])
        public static let payoutSent = Kind("payout_sent", [.email, .inApp])
        public static let lowBalance = Kind("low_balance", [.inApp, .email])
        public static let reviewReceived = Kind("review_received", [.inApp, .email])
        /// Told to everyone; by email whatever the settings say, as the policy promises.
        public static let policyChanged = Kind("policy_changed", [.email, .inApp], required: [.email])

        /// Every kind a person can set, in the order settings list them.
        public static let all = [
            boardReply, chatRequest, favoriteOnline, lowBalance, payoutSent, policyChanged, refundDecided, reviewReceived, securityNotice,
            topUpReceipt,
        ]

        public static func named(_ name: String) -> Kind? { all.first { $0.name == name } }
    }

    /// One notice in a person's in-app inbox.
    public struct Item: Codable, Sendable, Equatable {
        public var id: UUID
        public var kind: String
        /// Short plain text; front ends show it as text.
        public var text: String
        /// Ids of what the notice is about (`threadId`, `postId`, `advisorId`…), for a front end to link to.
        public var subject: [String: String]
        public var createdAt: Date
        public var readAt: Date?
        public init(id: UUID, kind: String, text: String, subject: [String: String], createdAt: Date, readAt: Date?) {
            self.id = id
            self.kind = kind
            self.text = text
            self.subject = subject
            self.createdAt = createdAt
            self.readAt = readAt
        }
    }

    /// `notifications.inbox`: the caller's inbox, newest first, optionally only what is unread.
    public struct Inbox: BusOperation {
        public static let service = ServiceName.notifications
        public static let name = "notifications.inbox"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var unreadOnly: Bool
            public var page: PageRequest
            public init(unreadOnly: Bool = false, page: PageRequest = PageRequest()) {
                self.unreadOnly = unreadOnly
                self.page = page
            }
        }
        public typealias Response = Page<Item>
    }

    /// `notifications.mark-read`: the caller marks some notices read (`ids`), or all of them.
    public struct MarkRead: BusOperation {
        public static let service = ServiceName.notifications
        public static let name = "notifications.mark-read"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var ids: [UUID]?
            public var all: Bool?
            public init(ids: [UUID]? = nil, all: Bool? = nil) {
                self.ids = ids
                self.all = all
            }
        }
        public struct Response: Codable, Sendable, Equatable {
            /// Notices that were unread and are read now.
            public var marked: Int
            public init(marked: Int) { self.marked = marked }
        }
        public static let maxIds = 100
    }

    /// A person's settings: each kind's channels, and quiet hours.
    public struct Settings: Codable, Sendable, Equatable {
        public struct KindSetting: Codable, Sendable, Equatable {
            public var kind: String
            /// On or off per channel the kind may use; the others are left out.
            public var channels: [String: Bool]
            /// The channels that stay on whatever the settings say (answers only: a request's is
            /// ignored, so the answer can be sent back as it is).
            public var required: [String]?
            public init(kind: String, channels: [String: Bool], required: [String]? = nil) {
                self.kind = kind
                self.channels = channels
                self.required = required
            }
        }
        /// Non-urgent notices by email and SMS wait until quiet hours end, in the person's time zone.
        public struct QuietHours: Codable, Sendable, Equatable {
            /// "HH:MM", 24-hour clock.
            public var start: String
            public var end: String
            /// An IANA time zone name, such as `Europe/Paris`.
            public var timeZone: String
            public init(start: String, end: String, timeZone: String) {
                self.start = start
                self.end = end
                self.timeZone = timeZone
            }
        }
        public var kinds: [KindSetting]
        public var quietHours: QuietHours?
        public init(kinds: [KindSetting], quietHours: QuietHours?) {
            self.kinds = kinds
            self.quietHours = quietHours
        }
    }

    /// `notifications.settings.get`: the caller's settings, every kind listed.
    public struct GetSettings: BusOperation {
        public static let service = ServiceName.notifications
        public static let name = "notifications.settings.get"
        public static let isIdempotent = true
        public typealias Request = Empty
        public typealias Response = Settings
    }

    /// `notifications.settings.put`: replaces the caller's settings; a kind left out keeps its
    /// defaults (every channel on), and leaving quiet hours out ends them.
    public struct PutSettings: BusOperation {
        public static let service = ServiceName.notifications
        public static let name = "notifications.settings.put"
        public static let isIdempotent = true
        public typealias Request = Settings
        public typealias Response = Settings
    }

    /// A marketing campaign and how far it has gone.
    public struct Campaign: Codable, Sendable, Equatable {
        public var id: UUID
        public var channel: String
        public var subject: String
        public var text: String
        /// `planning` (people are being added) or `sending`.
        public var status: String
        public var createdAt: Date
        /// Deliveries planned, sent, cancelled (the consent was withdrawn before sending), failed.
        public var planned: Int
        public var sent: Int
        public var cancelled: Int
        public var failed: Int
        public init(
            id: UUID, channel: String, subject: String, text: String, status: String, createdAt: Date, planned: Int, sent: Int,
            cancelled: Int, failed: Int
        ) {
            self.id = id
            self.channel = channel
            self.subject = subject
            self.text = text
            self.status = status
            self.createdAt = createdAt
            self.planned = planned
            self.sent = sent
            self.cancelled = cancelled
            self.failed = failed
        }
    }

    /// `notifications.campaigns.create`: an admin composes an email campaign; it goes to the
    /// people whose marketing consent for email is on when their message is sent.
    public struct CreateCampaign: BusOperation {
        public static let service = ServiceName.notifications
        public static let name = "notifications.campaigns.create"
        public struct Request: Codable, Sendable, Equatable {
            /// `email` (nil: the default) or `sms`.
            public var channel: String?
            /// The email's subject; for a text, its name among the campaigns (not sent).
            public var subject: String
            /// Plain text; paragraphs apart by blank lines. A text's, with the opt-out line the
            /// platform adds, fits two segments.
            public var text: String
            public init(subject: String, text: String, channel: String? = nil) {
                self.channel = channel
                self.subject = subject
                self.text = text
            }
        }
        public typealias Response = Campaign
        /// What every marketing text ends with.
        public static let textOptOut = " Reply STOP to opt out."
    }

    /// `notifications.partner-notice`: an email to a partner's contact about its integration
    /// (the platform only). `key` names the notice: told twice, it is sent once. Kinds:
    /// `webhook_endpoint_disabled` (`params`: `endpointId`, `url`, `reason` `gone` or `failing`).
    public struct PartnerNotice: BusOperation {
        public static let service = ServiceName.notifications
        public static let name = "notifications.partner-notice"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var partnerId: String
            public var kind: String
            public var params: [String: String]
            public var key: String
            public init(partnerId: String, kind: String, params: [String: String], key: String) {
                self.partnerId = partnerId
                self.kind = kind
                self.params = params
                self.key = key
            }
        }
        public typealias Response = Empty
        public static let webhookEndpointDisabled = "webhook_endpoint_disabled"
    }

    /// `notifications.campaigns.get`: a campaign with its counts (admins).
    public struct GetCampaign: BusOperation {
        public static let service = ServiceName.notifications
        public static let name = "notifications.campaigns.get"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var campaignId: UUID
            public init(campaignId: UUID) { self.campaignId = campaignId }
        }
        public typealias Response = Campaign
    }

    /// `notifications.unsubscribe`: the holder of an unsubscribe link withdraws the consent it
    /// names (`withdraw`), or only learns whether the link is good (for the page a GET shows).
    public struct Unsubscribe: BusOperation {
        public static let service = ServiceName.notifications
        public static let name = "notifications.unsubscribe"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var token: String
            public var withdraw: Bool
            public init(token: String, withdraw: Bool) {
                self.token = token
                self.withdraw = withdraw
            }
        }
        public struct Response: Codable, Sendable, Equatable {
            /// The consent the link is for (`marketingEmail`).
            public var consent: String
            public var withdrawn: Bool
            public init(consent: String, withdrawn: Bool) {
                self.consent = consent
                self.withdrawn = withdrawn
            }
        }
    }
}


extension StreamPush {
    /// `notification`: a new notice in the person's in-app inbox.
    public struct Notification: Codable, Sendable, Equatable {
        public var type = "notification"
        public var notification: Notifications.Item
        public init(_ notification: Notifications.Item) { self.notification = notification }
    }
}

extension Accounts {
    /// Something happened to a person's account that they must hear of, whatever their settings:
    /// `new-sign-in` (from a device or network not seen before), `password-changed`, `email-changed`
    /// (told at the previous address too).
    public struct SecurityNotice: DomainEvent, Equatable {
        public static let type = "accounts.security-notice.v1"
        public var accountId: UUID
        public var what: String
        public var at: Date
        public init(accountId: UUID, what: String, at: Date) {
            self.accountId = accountId
            self.what = what
            self.at = at
        }
        public static let newSignIn = "new-sign-in"
        public static let passwordChanged = "password-changed"
        public static let emailChanged = "email-changed"
    }

    /// `accounts.contacts`: where to reach people (their email address and name), for the
    /// notifications service when it sends. Callers: the platform only. An erased or unknown
    /// account is left out.
    public struct Contacts: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.contacts"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            /// At most 500.
            public var accountIds: [UUID]
            public init(accountIds: [UUID]) { self.accountIds = accountIds }
        }
        public struct Response: Codable, Sendable, Equatable {
            public var contacts: [Contact]
            public init(contacts: [Contact]) { self.contacts = contacts }
        }
        public struct Contact: Codable, Sendable, Equatable {
            public var accountId: UUID
            public var email: String
            public var displayName: String
            /// Their marketing consents as they stand now (`marketingEmail`, `marketingSms`).
            public var marketingConsents: [String]
            /// The address they changed from, for 30 days after the change (to tell it of the change).
            public var previousEmail: String?
            /// Their verified phone (E.164), unless that number texted STOP.
            public var phone: String?
            public init(
                accountId: UUID, email: String, displayName: String, marketingConsents: [String], previousEmail: String? = nil,
                phone: String? = nil
            ) {
                self.phone = phone
                self.accountId = accountId
                self.email = email
                self.displayName = displayName
                self.marketingConsents = marketingConsents
                self.previousEmail = previousEmail
            }
        }
        public static let maxAccounts = 500
    }

    /// `accounts.marketing-audience`: the live accounts whose `consent` (`marketingEmail` or
    /// `marketingSms`) is granted, in id order after `after`, for planning a campaign. Callers:
    /// the platform only.
    public struct MarketingAudience: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.marketing-audience"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var consent: String
            public var after: UUID?
            /// At most 1000.
            public var limit: Int
            public init(consent: String, after: UUID?, limit: Int) {
                self.consent = consent
                self.after = after
                self.limit = limit
            }
        }
        public struct Response: Codable, Sendable, Equatable {
            public var accountIds: [UUID]
            public init(accountIds: [UUID]) { self.accountIds = accountIds }
        }
        public static let consents = ["marketingEmail", "marketingSms"]
        /// Instead of a consent: every live account, for what the platform must tell everyone
        /// (a new privacy policy).
        public static let everyone = "everyone"
        public static let maxLimit = 1000
    }
}

extension Accounts {
    /// `accounts.policy-published.v1`: a new privacy policy version, in force from `effectiveDate`.
    public struct PolicyPublished: DomainEvent, Equatable {
        public static let type = "accounts.policy-published.v1"
        public var version: String
        public var effectiveDate: Date
        public init(version: String, effectiveDate: Date) {
            self.version = version
            self.effectiveDate = effectiveDate
        }
    }
}

