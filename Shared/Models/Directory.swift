public import Foundation

/// The directory service's operations and events: advisor profiles, presence, search, reviews
/// and favorites (docs/api.md "Advisor directory").
public enum Directory {
    /// One of the fixed, seeded categories an advisor works in.
    public struct Category: Codable, Sendable, Equatable {
        public var slug: String
        public var name: String
        public init(slug: String, name: String) {
            self.slug = slug
            self.name = name
        }
    }

    /// An advisor's presence: `online` and `offline` are the advisor's to set, `busy` the chat service's.
    public enum Status: String, Codable, Sendable, CaseIterable {
        case online, busy, offline
    }

    /// An advisor as a search result lists them.
    public struct AdvisorSummary: Codable, Sendable, Equatable {
        public var id: UUID
        public var displayName: String
        public var headline: String?
        public var categories: [String]
        public var pricePerMinuteCents: Int?
        public var status: Status
        /// The mean of the advisor's reviews, to two decimals; nil before the first review.
        public var rating: Double?
        public var reviewCount: Int
        public var languages: [String]
        public var photoUrl: String?

        public init(
            id: UUID, displayName: String, headline: String?, categories: [String], pricePerMinuteCents: Int?,
            status: Status, rating: Double?, reviewCount: Int, languages: [String], photoUrl: String?
        ) {
            self.id = id
            self.displayName = displayName
            self.headline = headline
            self.categories = categories
            self.pricePerMinuteCents = pricePerMinuteCents
            self.status = status
            self.rating = rating
            self.reviewCount = reviewCount
            self.languages = languages
            self.photoUrl = photoUrl
        }
    }

    /// A review as anyone reads it: the author's display name, "former member" once erased.
    public struct Review: Codable, Sendable, Equatable {
        public struct Author: Codable, Sendable, Equatable {
            /// nil once the author was erased.
            public var id: UUID?
            public var displayName: String
            public init(id: UUID?, displayName: String) {
                self.id = id
                self.displayName = displayName
            }
        }

        public struct Reply: Codable, Sendable, Equatable {
            public var text: String
            public var createdAt: Date
            public init(text: String, createdAt: Date) {
                self.text = text
                self.createdAt = createdAt
            }
        }

        public var id: UUID
        public var advisorId: UUID
        public var author: Author
        public var rating: Int
        public var text: String
        public var createdAt: Date
        public var reply: Reply?

        public init(
            id: UUID, advisorId: UUID, author: Author, rating: Int, text: String, createdAt: Date, reply: Reply?
        ) {
            self.id = id
            self.advisorId = advisorId
            self.author = author
            self.rating = rating
            self.text = text
            self.createdAt = createdAt
            self.reply = reply
        }
    }

    /// An advisor's whole profile: what anyone sees of a listed advisor, and what the advisor sees
    /// of their own profile, listed or not.
    public struct Profile: Codable, Sendable, Equatable {
        public var id: UUID
        public var displayName: String
        public var headline: String?
        public var bio: String?
        public var categories: [String]
        public var pricePerMinuteCents: Int?
        public var languages: [String]
        public var yearsExperience: Int?
        public var photoUrl: String?
        public var status: Status
        public var rating: Double?
        public var reviewCount: Int
        /// Whether search shows it: once it has a headline, a category and a price.
        public var listed: Bool
        public var createdAt: Date
        /// The newest reviews, newest first.
        public var reviews: [Review]
        /// Licenses and certifications whose verification came in, not expired.
        public var credentials: [VerifiedCredential]

        public init(
            id: UUID, displayName: String, headline: String?, bio: String?, categories: [String],
            pricePerMinuteCents: Int?, languages: [String], yearsExperience: Int?, photoUrl: String?, status: Status,
            rating: Double?, reviewCount: Int, listed: Bool, createdAt: Date, reviews: [Review],
            credentials: [VerifiedCredential] = []
        ) {
            self.id = id
            self.displayName = displayName
            self.headline = headline
            self.bio = bio
            self.categories = categories
            self.pricePerMinuteCents = pricePerMinuteCents
            self.languages = languages
            self.yearsExperience = yearsExperience
            self.photoUrl = photoUrl
            self.status = status
            self.rating = rating
            self.reviewCount = reviewCount
            self.listed = listed
            self.createdAt = createdAt
            self.reviews = reviews
            self.credentials = credentials
        }
    }

    /// A license or certification as anyone sees it on a profile: only once verified.
    public struct VerifiedCredential: Codable, Sendable, Equatable {
        public var kind: String
        public var issuer: String
        /// `YYYY-MM-DD`.
        public var expiresOn: String
        public init(kind: String, issuer: String, expiresOn: String) {
            self.kind = kind
            self.issuer = issuer
            self.expiresOn = expiresOn
        }
    }

    /// A license or certification as its advisor and staff see it.
    public struct Credential: Codable, Sendable, Equatable {
        public var id: UUID
        public var advisorId: UUID
        /// `license` or `certification`.
        public var kind: String
        public var issuer: String
        public var number: String
        /// `YYYY-MM-DD`.
        public var expiresOn: String
        /// `pending` until a verification result comes in, then `verified` or `rejected`.
        public var status: String
        public var submittedAt: Date
        public var decidedAt: Date?
        public init(
            id: UUID, advisorId: UUID, kind: String, issuer: String, number: String, expiresOn: String, status: String,
            submittedAt: Date, decidedAt: Date?
        ) {
            self.id = id
            self.advisorId = advisorId
            self.kind = kind
            self.issuer = issuer
            self.number = number
            self.expiresOn = expiresOn
            self.status = status
            self.submittedAt = submittedAt
            self.decidedAt = decidedAt
        }
    }

    /// `directory.credentials.submit`: the calling advisor submits a license or certification.
    public struct SubmitCredential: BusOperation {
        public static let service = ServiceName.directory
        public static let name = "directory.credentials.submit"
        public struct Request: Codable, Sendable, Equatable {
            public var kind: String
            public var issuer: String
            public var number: String
            public var expiresOn: String
            public init(kind: String, issuer: String, number: String, expiresOn: String) {
                self.kind = kind
                self.issuer = issuer
                self.number = number
                self.expiresOn = expiresOn
            }
        }
        public typealias Response = Credential
    }

    /// `directory.credentials.mine`: the calling advisor's credentials, newest first.
    public struct MyCredentials: BusOperation {
        public static let service = ServiceName.directory
        public static let name = "directory.credentials.mine"
        public static let isIdempotent = true
        public typealias Request = Empty
        public typealias Response = [Credential]
    }

    /// `directory.credentials.remove`: the calling advisor withdraws one of their credentials.
    public struct RemoveCredential: BusOperation {
        public static let service = ServiceName.directory
        public static let name = "directory.credentials.remove"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var credentialId: UUID
            public init(credentialId: UUID) { self.credentialId = credentialId }
        }
        public typealias Response = Empty
    }

    /// An advisor submitted a credential: the integration service sends it to the verification
    /// provider. Ids only: the provider's request is made with what `CredentialForVerification` answers.
    public struct CredentialSubmitted: DomainEvent, Equatable {
        public static let type = "directory.credential-submitted.v1"
        public var credentialId: UUID
        public var advisorId: UUID
        public var at: Date
        public init(credentialId: UUID, advisorId: UUID, at: Date) {
            self.credentialId = credentialId
            self.advisorId = advisorId
            self.at = at
        }
    }

    /// `directory.credentials.for-verification`: a credential as the verification provider is
    /// sent it (the platform only).
    public struct CredentialForVerification: BusOperation {
        public static let service = ServiceName.directory
        public static let name = "directory.credentials.for-verification"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var credentialId: UUID
            public init(credentialId: UUID) { self.credentialId = credentialId }
        }
        public typealias Response = Credential
    }

    /// `directory.credentials.record-verification`: the verification provider's result (the
    /// platform only); 409 once decided, by the provider or by staff.
    public struct RecordVerification: BusOperation {
        public static let service = ServiceName.directory
        public static let name = "directory.credentials.record-verification"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var credentialId: UUID
            public var verified: Bool
            public init(credentialId: UUID, verified: Bool) {
                self.credentialId = credentialId
                self.verified = verified
            }
        }
        public typealias Response = Credential
    }

    /// `directory.staff.credentials.pending`: credentials waiting for a decision, oldest first (support, admin).
    public struct PendingCredentials: BusOperation {
        public static let service = ServiceName.directory
        public static let name = "directory.staff.credentials.pending"
        public static let isIdempotent = true
        public typealias Request = PageRequest
        public typealias Response = Page<Credential>
    }

    /// `directory.staff.credentials.decide`: support staff record a verification result, until an
    /// outside verifier does; audited in accounts, so the advisor sees it in their access log.
    public struct DecideCredential: BusOperation {
        public static let service = ServiceName.directory
        public static let name = "directory.staff.credentials.decide"
        public struct Request: Codable, Sendable, Equatable {
            public var credentialId: UUID
            public var verified: Bool
            public var reason: String
            public init(credentialId: UUID, verified: Bool, reason: String) {
                self.credentialId = credentialId
                self.verified = verified
                self.reason = reason
            }
        }
        public typealias Response = Credential
    }

    /// `directory.categories`: every category, in the order front ends list them.
    public struct Categories: BusOperation {
        public static let service = ServiceName.directory
        public static let name = "directory.categories"
        public static let isIdempotent = true
        public typealias Request = Empty
        public typealias Response = [Category]
    }

    /// `directory.search`: listed advisors matching a query, one page, with facet counts on request.
    public struct Search: BusOperation {
        public static let service = ServiceName.directory
        public static let name = "directory.search"
        public static let isIdempotent = true

        public struct Request: Codable, Sendable, Hashable {
            /// Free text over name, headline and biography; prefixes and small typos match.
            public var q: String?
            public var category: String?
            public var status: Status?
            public var maxPriceCents: Int?
            public var minRating: Double?
            public var language: String?
            /// `relevance` (the default with `q`), `rating` (the default without), `price`, `reviews`, `newest`.
            public var sort: String?
            /// Which facets to count: `category`, `status`, `language`.
            public var facets: [String]
            public var limit: Int
            public var cursor: String?

            public init(
                q: String? = nil, category: String? = nil, status: Status? = nil, maxPriceCents: Int? = nil,
                minRating: Double? = nil, language: String? = nil, sort: String? = nil, facets: [String] = [],
                limit: Int = 20, cursor: String? = nil
            ) {
                self.q = q
                self.category = category
                self.status = status
                self.maxPriceCents = maxPriceCents
                self.minRating = minRating
                self.language = language
                self.sort = sort
                self.facets = facets
                self.limit = limit
                self.cursor = cursor
            }
        }

        public struct Response: Codable, Sendable, Equatable {
            public var items: [AdvisorSummary]
            public var nextCursor: String?
            /// Per facet asked for, each value's count under the other filters of the query.
            public var facets: [String: [String: Int]]?
            public init(items: [AdvisorSummary], nextCursor: String?, facets: [String: [String: Int]]?) {
                self.items = items
                self.nextCursor = nextCursor
                self.facets = facets
            }
        }
    }

    /// `directory.advisor`: one advisor's profile with the newest reviews; an unlisted profile is
    /// found only by its advisor.
    public struct GetAdvisor: BusOperation {
        public static let service = ServiceName.directory
        public static let name = "directory.advisor"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var advisorId: UUID
            public init(advisorId: UUID) { self.advisorId = advisorId }
        }
        public typealias Response = Profile
    }

    /// `directory.profile.update`: the calling advisor changes their own profile; a field left out
    /// keeps its value, `photoUrl: ""` removes the photo.
    public struct UpdateProfile: BusOperation {
        public static let service = ServiceName.directory
        public static let name = "directory.profile.update"
        public struct Request: Codable, Sendable, Equatable {
            public var headline: String?
            public var bio: String?
            public var categories: [String]?
            public var pricePerMinuteCents: Int?
            public var languages: [String]?
            public var yearsExperience: Int?
            public var photoUrl: String?
            public init(
                headline: String? = nil, bio: String? = nil, categories: [String]? = nil, pricePerMinuteCents: Int? = nil,
                languages: [String]? = nil, yearsExperience: Int? = nil, photoUrl: String? = nil
            ) {
                self.headline = headline
                self.bio = bio
                self.categories = categories
                self.pricePerMinuteCents = pricePerMinuteCents
                self.languages = languages
                self.yearsExperience = yearsExperience
                self.photoUrl = photoUrl
            }
        }
        public typealias Response = Profile
    }

    /// `directory.profile.mine`: the calling advisor's own profile, listed or not.
    public struct MyProfile: BusOperation {
        public static let service = ServiceName.directory
        public static let name = "directory.profile.mine"
        public static let isIdempotent = true
        public typealias Request = Empty
        public typealias Response = Profile
    }

    /// `directory.status.set`: the calling advisor goes online (each call also refreshes their
    /// presence, as a heartbeat) or offline. `busy` is refused: only the chat service sets it.
    public struct SetStatus: BusOperation {
        public static let service = ServiceName.directory
        public static let name = "directory.status.set"
        public struct Request: Codable, Sendable, Equatable {
            public var status: Status
            public init(status: Status) { self.status = status }
        }
        public struct Response: Codable, Sendable, Equatable {
            public var status: Status
            /// When an online advisor is taken offline unless another heartbeat comes first.
            public var expiresAt: Date?
            public init(status: Status, expiresAt: Date?) {
                self.status = status
                self.expiresAt = expiresAt
            }
        }
    }

    /// `directory.status.engage`: the chat service takes an online, listed advisor for a chat
    /// (`to: busy`), or gives them back (`to: online`, their heartbeat renewed; `to: offline` after a
    /// request they let expire). Taking is atomic: of two chats asking for one advisor at once, one
    /// wins and the other gets 409 `advisor_busy`; an advisor who is not online is 409
    /// `advisor_offline`. The advisor is held for that chat: taking them again for it succeeds (a
    /// retried call), and only that chat gives them back; giving back otherwise changes nothing.
    /// Callers: the platform only.
    public struct Engage: BusOperation {
        public static let service = ServiceName.directory
        public static let name = "directory.status.engage"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var advisorId: UUID
            /// The chat that takes or gives back the advisor.
            public var chatId: UUID
            public var to: Status
            public init(advisorId: UUID, chatId: UUID, to: Status) {
                self.advisorId = advisorId
                self.chatId = chatId
                self.to = to
            }
        }
        public struct Response: Codable, Sendable, Equatable {
            public var status: Status
            /// The advisor's price per minute at this moment, for the chat that takes them.
            public var pricePerMinuteCents: Int?
            public init(status: Status, pricePerMinuteCents: Int?) {
                self.status = status
                self.pricePerMinuteCents = pricePerMinuteCents
            }
        }
    }

    /// `directory.reviews.post`: a member reviews an advisor after an ended, paid chat with them.
    public struct PostReview: BusOperation {
        public static let service = ServiceName.directory
        public static let name = "directory.reviews.post"
        public struct Request: Codable, Sendable, Equatable {
            public var advisorId: UUID
            public var chatId: UUID
            public var rating: Int
            public var text: String
            public init(advisorId: UUID, chatId: UUID, rating: Int, text: String) {
                self.advisorId = advisorId
                self.chatId = chatId
                self.rating = rating
                self.text = text
            }
        }
        public typealias Response = Review
    }

    /// `directory.reviews.list`: an advisor's reviews, newest first, one page.
    public struct ListReviews: BusOperation {
        public static let service = ServiceName.directory
        public static let name = "directory.reviews.list"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var advisorId: UUID
            public var page: PageRequest
            public init(advisorId: UUID, page: PageRequest = PageRequest()) {
                self.advisorId = advisorId
                self.page = page
            }
        }
        public typealias Response = Page<Review>
    }

    /// `directory.reviews.reply`: the reviewed advisor answers a review, once.
    public struct ReplyToReview: BusOperation {
        public static let service = ServiceName.directory
        public static let name = "directory.reviews.reply"
        public struct Request: Codable, Sendable, Equatable {
            public var reviewId: UUID
            public var text: String
            public init(reviewId: UUID, text: String) {
                self.reviewId = reviewId
                self.text = text
            }
        }
        public typealias Response = Review
    }

    /// `directory.reviews.report`: a signed-in person reports a review to staff (again: nothing changes).
    public struct ReportReview: BusOperation {
        public static let service = ServiceName.directory
        public static let name = "directory.reviews.report"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var reviewId: UUID
            /// `spam`, `abuse`, `fake`, `off_topic` or `other`.
            public var reason: String
            public var note: String?
            public init(reviewId: UUID, reason: String, note: String? = nil) {
                self.reviewId = reviewId
                self.reason = reason
                self.note = note
            }
        }
        public typealias Response = Empty
        public static let reasons: Set<String> = ["spam", "abuse", "fake", "off_topic", "other"]
    }

    /// A reported review as staff see it in their queue.
    public struct ReportedReview: Codable, Sendable, Equatable {
        public var review: Review
        public var reports: Int
        public var reasons: [String]
        public var notes: [String]
        public var firstReportedAt: Date
        public init(review: Review, reports: Int, reasons: [String], notes: [String], firstReportedAt: Date) {
            self.review = review
            self.reports = reports
            self.reasons = reasons
            self.notes = notes
            self.firstReportedAt = firstReportedAt
        }
    }

    /// `directory.staff.review-reports`: reviews with open reports, the longest waiting first
    /// (support, moderator, admin).
    public struct ReviewReports: BusOperation {
        public static let service = ServiceName.directory
        public static let name = "directory.staff.review-reports"
        public static let isIdempotent = true
        public typealias Request = PageRequest
        public typealias Response = Page<ReportedReview>
    }

    /// `directory.staff.reviews.decide`: staff hide a reported review (out of listings and the
    /// rating; audited for its author) or keep it; either closes its reports.
    public struct DecideReview: BusOperation {
        public static let service = ServiceName.directory
        public static let name = "directory.staff.reviews.decide"
        public struct Request: Codable, Sendable, Equatable {
            public var reviewId: UUID
            /// `hide` or `keep`.
            public var action: String
            public var reason: String
            public init(reviewId: UUID, action: String, reason: String) {
                self.reviewId = reviewId
                self.action = action
                self.reason = reason
            }
        }
        public typealias Response = Empty
    }

    /// A favorite as its member lists it.
    public struct Favorite: Codable, Sendable, Equatable {
        public var advisor: AdvisorSummary
        public var notifyWhenOnline: Bool
        public var createdAt: Date
        public init(advisor: AdvisorSummary, notifyWhenOnline: Bool, createdAt: Date) {
            self.advisor = advisor
            self.notifyWhenOnline = notifyWhenOnline
            self.createdAt = createdAt
        }
    }

    /// `directory.favorites.set`: the calling member favorites a listed advisor (again: the setting changes).
    public struct SetFavorite: BusOperation {
        public static let service = ServiceName.directory
        public static let name = "directory.favorites.set"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var advisorId: UUID
            public var notifyWhenOnline: Bool
            public init(advisorId: UUID, notifyWhenOnline: Bool) {
                self.advisorId = advisorId
                self.notifyWhenOnline = notifyWhenOnline
            }
        }
        public typealias Response = Favorite
    }

    /// `directory.favorites.remove`: no longer a favorite; removing one that is not is no error.
    public struct RemoveFavorite: BusOperation {
        public static let service = ServiceName.directory
        public static let name = "directory.favorites.remove"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var advisorId: UUID
            public init(advisorId: UUID) { self.advisorId = advisorId }
        }
        public typealias Response = Empty
    }

    /// `directory.favorites.list`: the calling member's favorites, newest first.
    public struct ListFavorites: BusOperation {
        public static let service = ServiceName.directory
        public static let name = "directory.favorites.list"
        public static let isIdempotent = true
        public typealias Request = PageRequest
        public typealias Response = Page<Favorite>
    }

    // MARK: Events

    /// An advisor's presence changed (by the advisor, by the chat service, or by missed heartbeats).
    public struct AdvisorStatusChanged: DomainEvent, Equatable {
        public static let type = "directory.advisor-status-changed.v1"
        public var advisorId: UUID
        public var status: Status
        public var at: Date
        public init(advisorId: UUID, status: Status, at: Date) {
            self.advisorId = advisorId
            self.status = status
            self.at = at
        }
    }

    /// An advisor's price per minute changed; chats started from `at` on use it.
    public struct AdvisorPriceChanged: DomainEvent, Equatable {
        public static let type = "directory.advisor-price-changed.v1"
        public var advisorId: UUID
        public var pricePerMinuteCents: Int
        public var at: Date
        public init(advisorId: UUID, pricePerMinuteCents: Int, at: Date) {
            self.advisorId = advisorId
            self.pricePerMinuteCents = pricePerMinuteCents
            self.at = at
        }
    }

    /// An advisor was reviewed (ids and the rating; the text is public on the profile).
    public struct ReviewReceived: DomainEvent, Equatable {
        public static let type = "directory.review-received.v1"
        public var advisorId: UUID
        public var reviewId: UUID
        public var rating: Int
        public var at: Date
        public init(advisorId: UUID, reviewId: UUID, rating: Int, at: Date) {
            self.advisorId = advisorId
            self.reviewId = reviewId
            self.rating = rating
            self.at = at
        }
    }

    /// A member's favorite advisor came online and the member asked to hear of it; at most once
    /// per member and advisor an hour.
    public struct FavoriteOnline: DomainEvent, Equatable {
        public static let type = "directory.favorite-online.v1"
        public var memberId: UUID
        public var advisorId: UUID
        public var at: Date
        public init(memberId: UUID, advisorId: UUID, at: Date) {
            self.memberId = memberId
            self.advisorId = advisorId
            self.at = at
        }
    }
}

extension ServiceError.Code {
    /// The review needs an ended, paid chat of the caller's with that advisor (403).
    public static let reviewNotAllowed = ServiceError.Code(rawValue: "review_not_allowed")
    /// That chat has its review already: one per chat (409).
    public static let alreadyReviewed = ServiceError.Code(rawValue: "already_reviewed")
    /// The review has an answer already (409).
    public static let alreadyReplied = ServiceError.Code(rawValue: "already_replied")
    /// The advisor is in a chat (409).
    public static let advisorBusy = ServiceError.Code(rawValue: "advisor_busy")
    /// The advisor is not online (409).
    public static let advisorOffline = ServiceError.Code(rawValue: "advisor_offline")
    /// The profile lacks a headline, a category or a price, so it cannot go online (409).
    public static let profileIncomplete = ServiceError.Code(rawValue: "profile_incomplete")
}

extension Directory {
    /// The directory operations' own error codes, with their HTTP statuses.
    public static let errorCodes: [DeclaredErrorCode] = [
        .init(.reviewNotAllowed, status: 403), .init(.alreadyReviewed, status: 409), .init(.alreadyReplied, status: 409), .init(.advisorBusy, status: 409),
        .init(.profileIncomplete, status: 409), .init(.advisorOffline, status: 409),
    ]
}

extension Accounts {
    /// A member or advisor registered (staff accounts are not announced). Names travel only by
    /// `accounts.public-names`, so no event, and no outbox, ever holds one.
    public struct AccountRegistered: DomainEvent, Equatable {
        public static let type = "accounts.account-registered.v1"
        public var accountId: UUID
        public var role: String
        public var at: Date
        public init(accountId: UUID, role: String, at: Date) {
            self.accountId = accountId
            self.role = role
            self.at = at
        }
    }

    /// `accounts.staff.record-access`: another service tells accounts that a staff member acted on a
    /// person's data there (support verifying an advisor's credential), for the audit log and the
    /// person's access log. Callers: staff, forwarded by that service; only the actions listed here.
    public struct RecordStaffAccess: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.staff.record-access"
        public struct Request: Codable, Sendable, Equatable {
            public var subjectId: UUID
            public var action: String
            public var reason: String
            public init(subjectId: UUID, action: String, reason: String) {
                self.subjectId = subjectId
                self.action = action
                self.reason = reason
            }
        }
        public typealias Response = Empty
        /// The actions other services record, each with the staff roles that may take it.
        public static let actions: [String: Set<Role>] = [
            "staff.credential-verified": [.support, .admin], "staff.credential-rejected": [.support, .admin],
            "staff.review-hidden": [.support, .moderator, .admin], "staff.chat-read": [.support],
            "staff.refund-override": [.finance],
            "staff.board-post-hidden": [.moderator, .admin], "staff.board-post-restored": [.moderator, .admin],
            "staff.board-thread-locked": [.moderator, .admin], "staff.board-thread-unlocked": [.moderator, .admin],
            "staff.board-thread-pinned": [.moderator, .admin], "staff.board-thread-unpinned": [.moderator, .admin],
            "staff.board-author-silenced": [.moderator, .admin],
            "staff.board-tier-set": [.moderator, .admin], "staff.board-tier-cleared": [.moderator, .admin],
        ]
    }

    /// A person changed their display name; services that show it ask for it again.
    public struct DisplayNameChanged: DomainEvent, Equatable {
        public static let type = "accounts.display-name-changed.v1"
        public var accountId: UUID
        public init(accountId: UUID) { self.accountId = accountId }
    }

    /// `accounts.public-names`: the display names of members and advisors, for the services that
    /// show them publicly (profiles, reviews). Callers: the platform only. An erased or unknown
    /// account is left out.
    public struct PublicNames: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.public-names"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            /// At most 500.
            public var accountIds: [UUID]
            public init(accountIds: [UUID]) { self.accountIds = accountIds }
        }
        public struct Response: Codable, Sendable, Equatable {
            public var names: [PublicName]
            public init(names: [PublicName]) { self.names = names }
        }
        public struct PublicName: Codable, Sendable, Equatable {
            public var accountId: UUID
            public var displayName: String
            public init(accountId: UUID, displayName: String) {
                self.accountId = accountId
                self.displayName = displayName
            }
        }
        public static let maxAccounts = 500
    }
}

/// Billing's events that other services apply.
public enum Billing {
    /// A chat ended and was settled: `chargedCents` is what the member paid beyond free minutes.
    /// A chat with a charge is a paid chat, which its member may review.
    public struct ChatSettled: DomainEvent, Equatable {
        public static let type = "billing.chat-settled.v1"
        public var chatId: UUID
        public var memberId: UUID
        public var advisorId: UUID
        public var chargedCents: Int
        public var endedAt: Date
        public init(chatId: UUID, memberId: UUID, advisorId: UUID, chargedCents: Int, endedAt: Date) {
            self.chatId = chatId
            self.memberId = memberId
            self.advisorId = advisorId
            self.chargedCents = chargedCents
            self.endedAt = endedAt
        }
    }
}
