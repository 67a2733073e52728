public import Foundation

/// The accounts service's operations: identity, sessions, profile, consent, policy and audit.
public enum Accounts {
    /// An account as its owner sees it.
    public struct Account: Codable, Sendable, Equatable {
        public var id: UUID
        public var email: String
        public var displayName: String
        public var role: String
        public var roles: [String]
        public var country: String?
        /// The verified phone number (E.164): the only one texts go to.
        public var phone: String?
        /// A number given but not yet confirmed with the code texted to it.
        public var pendingPhone: String?
        public var source: String?
        public var createdAt: Date
        public var policyVersion: String?

        public init(
            id: UUID, email: String, displayName: String, role: String, roles: [String], country: String?,
            phone: String?, source: String?, createdAt: Date, policyVersion: String?, pendingPhone: String? = nil
        ) {
            self.pendingPhone = pendingPhone
            self.id = id
            self.email = email
            self.displayName = displayName
            self.role = role
            self.roles = roles
            self.country = country
            self.phone = phone
            self.source = source
            self.createdAt = createdAt
            self.policyVersion = policyVersion
        }
    }

    /// `accounts.register`: a new member or advisor, who accepts the current policy.
    public struct Register: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.register"
        public struct Request: Codable, Sendable, Equatable {
            public var email: String
            public var password: String
            public var displayName: String
            public var role: String
            public var acceptPolicyVersion: String
            public var marketingEmailOptIn: Bool?
            public var referralCode: String?
            public var country: String?
            /// Where the registration came from, for its rate limit; set by the gateway.
            public var ipAddress: String
            public init(
                email: String, password: String, displayName: String, role: String, acceptPolicyVersion: String,
                marketingEmailOptIn: Bool? = nil, referralCode: String? = nil, country: String? = nil, ipAddress: String = ""
            ) {
                self.email = email
                self.password = password
                self.displayName = displayName
                self.role = role
                self.acceptPolicyVersion = acceptPolicyVersion
                self.marketingEmailOptIn = marketingEmailOptIn
                self.referralCode = referralCode
                self.country = country
                self.ipAddress = ipAddress
            }
        }
        public typealias Response = Account
    }

    /// `accounts.sign-in`: a session token for an email and password.
    public struct SignIn: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.sign-in"
        public struct Request: Codable, Sendable, Equatable {
            public var email: String
            public var password: String
            /// Where the attempt came from, for rate limits and the sign-in history.
            public var ipAddress: String
            public var userAgent: String
            public init(email: String, password: String, ipAddress: String, userAgent: String) {
                self.email = email
                self.password = password
                self.ipAddress = ipAddress
                self.userAgent = userAgent
            }
        }
        public struct Response: Codable, Sendable, Equatable {
            public var token: String
            public var expiresAt: Date
            public var account: Account
            public init(token: String, expiresAt: Date, account: Account) {
                self.token = token
                self.expiresAt = expiresAt
                self.account = account
            }
        }
    }

    /// `accounts.sign-out`: the token stops working at once.
    public struct SignOut: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.sign-out"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var token: String
            public init(token: String) { self.token = token }
        }
        public typealias Response = Empty
    }

    /// `accounts.authenticate`: who a session token belongs to, for the gateway.
    public struct Authenticate: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.authenticate"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var token: String
            public init(token: String) { self.token = token }
        }
        public struct Response: Codable, Sendable, Equatable {
            public var accountId: UUID
            public var roles: [String]
            public var expiresAt: Date
            /// The policy version the account accepted last; the gateway compares it with the current one.
            public var acceptedPolicyVersion: String?
            public var currentPolicyVersion: String
            public init(accountId: UUID, roles: [String], expiresAt: Date, acceptedPolicyVersion: String?, currentPolicyVersion: String) {
                self.accountId = accountId
                self.roles = roles
                self.expiresAt = expiresAt
                self.acceptedPolicyVersion = acceptedPolicyVersion
                self.currentPolicyVersion = currentPolicyVersion
            }
        }
    }

    /// `accounts.me`: the caller's own account.
    public struct Me: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.me"
        public static let isIdempotent = true
        public typealias Request = Empty
        public typealias Response = Account
    }

    /// `accounts.update-profile`: the caller changes their own details. Changing email or password
    /// needs `currentPassword`; changing the password ends every other session.
    public struct UpdateProfile: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.update-profile"
        /// Longer than `SMS.Send`'s, which a new phone number waits for (its code is texted).
        public static let timeout = Duration.seconds(20)
        public struct Request: Codable, Sendable, Equatable {
            public var displayName: String?
            public var phone: String?
            public var email: String?
            public var password: String?
            public var currentPassword: String?
            /// The session making the change, which stays signed in when the password changes.
            public var currentToken: String?
            public init(
                displayName: String? = nil, phone: String? = nil, email: String? = nil, password: String? = nil,
                currentPassword: String? = nil, currentToken: String? = nil
            ) {
                self.displayName = displayName
                self.phone = phone
                self.email = email
                self.password = password
                self.currentPassword = currentPassword
                self.currentToken = currentToken
            }
        }
        public typealias Response = Account
    }

    /// The caller's consents (strictly necessary cookies need none).
    public struct Consents: Codable, Sendable, Equatable {
        public var performanceCookies: Bool
        public var functionalityCookies: Bool
        public var marketingEmail: Bool
        public var marketingSms: Bool
        /// One consent per partner integration, by partner id.
        public var partners: [String: Bool]
        /// The policy version in force when they were last changed.
        public var policyVersion: String
        public init(
            performanceCookies: Bool, functionalityCookies: Bool, marketingEmail: Bool, marketingSms: Bool,
            partners: [String: Bool], policyVersion: String
        ) {
            self.performanceCookies = performanceCookies
            self.functionalityCookies = functionalityCookies
            self.marketingEmail = marketingEmail
            self.marketingSms = marketingSms
            self.partners = partners
            self.policyVersion = policyVersion
        }
    }

    /// A partner integration a person may consent to share data with (the integration service's
    /// partners; consents may name only these).
    public struct Partner: Codable, Sendable, Equatable {
        /// Lower-case letters, digits and hyphens, 1…63 characters: `horoscope-daily`.
        public var id: String
        public var name: String
        public var registeredAt: Date
        /// The scopes its keys may hold (`Accounts.PartnerScope`).
        public var scopes: [String]
        public init(id: String, name: String, registeredAt: Date, scopes: [String]) {
            self.id = id
            self.name = name
            self.registeredAt = registeredAt
            self.scopes = scopes
        }
    }

    /// The registered partners.
    public struct Partners: Codable, Sendable, Equatable {
        public var items: [Partner]
        public init(items: [Partner]) { self.items = items }
    }

    /// `accounts.partners.list`: every registered partner, by id. Anyone may ask.
    public struct ListPartners: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.partners.list"
        public static let isIdempotent = true
        public typealias Request = Empty
        public typealias Response = Partners
    }

    /// `accounts.partners.register`: an admin registers a partner; audited.
    public struct RegisterPartner: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.partners.register"
        public struct Request: Codable, Sendable, Equatable {
            public var id: String
            public var name: String
            /// The scopes its keys may hold; nil: every scope.
            public var scopes: [String]?
            /// Where the platform writes to the partner (an endpoint it disabled, …).
            public var contactEmail: String?
            public init(id: String, name: String, scopes: [String]? = nil, contactEmail: String? = nil) {
                self.id = id
                self.name = name
                self.scopes = scopes
                self.contactEmail = contactEmail
            }
        }
        public typealias Response = Partner
    }

    /// A partner's name and the address the platform writes to (staff and the platform only:
    /// `GET /v1/partners` is public and never shows it).
    public struct PartnerContact: Codable, Sendable, Equatable {
        public var partnerId: String
        public var name: String
        public var contactEmail: String?
        public init(partnerId: String, name: String, contactEmail: String?) {
            self.partnerId = partnerId
            self.name = name
            self.contactEmail = contactEmail
        }
    }

    /// `accounts.partners.set-contact`: the address the platform writes to a partner at (admins).
    public struct SetPartnerContact: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.partners.set-contact"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var partnerId: String
            public var contactEmail: String
            public init(partnerId: String, contactEmail: String) {
                self.partnerId = partnerId
                self.contactEmail = contactEmail
            }
        }
        public typealias Response = PartnerContact
    }

    /// `accounts.partners.contacts`: partners' contacts, for notifications when it writes to
    /// them (the platform only). An unknown partner is left out.
    public struct PartnerContacts: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.partners.contacts"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            /// At most 100.
            public var partnerIds: [String]
            public init(partnerIds: [String]) { self.partnerIds = partnerIds }
        }
        public struct Response: Codable, Sendable, Equatable {
            public var contacts: [PartnerContact]
            public init(contacts: [PartnerContact]) { self.contacts = contacts }
        }
    }

    /// Where a consent change came from.
    public enum ConsentSource: String, Codable, Sendable, CaseIterable {
        case settings, registration
        case unsubscribeLink = "unsubscribe_link"
        case smsStop = "sms_stop"
        /// Granted or withdrawn through a partner's OAuth authorization (or its withdrawal).
        case partnerGrant = "partner_grant"
    }

    /// `accounts.consents.get`
    public struct GetConsents: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.consents.get"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            /// Whose consents: nil for the caller; another account only for the platform.
            public var accountId: UUID?
            public init(accountId: UUID? = nil) { self.accountId = accountId }
        }
        public typealias Response = Consents
    }

    /// `accounts.consents.set`: changes the given consents, each change kept with time, source and policy version.
    public struct SetConsents: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.consents.set"
        public struct Request: Codable, Sendable, Equatable {
            public var performanceCookies: Bool?
            public var functionalityCookies: Bool?
            public var marketingEmail: Bool?
            public var marketingSms: Bool?
            public var partners: [String: Bool]?
            public var source: ConsentSource
            /// Whose consents: nil for the caller; another account only for the platform (unsubscribe, SMS STOP).
            public var accountId: UUID?
            public init(
                performanceCookies: Bool? = nil, functionalityCookies: Bool? = nil, marketingEmail: Bool? = nil,
                marketingSms: Bool? = nil, partners: [String: Bool]? = nil, source: ConsentSource, accountId: UUID? = nil
            ) {
                self.performanceCookies = performanceCookies
                self.functionalityCookies = functionalityCookies
                self.marketingEmail = marketingEmail
                self.marketingSms = marketingSms
                self.partners = partners
                self.source = source
                self.accountId = accountId
            }
        }
        public typealias Response = Consents
    }

    /// One consent change: which consent (`marketingEmail`, `partner:<id>`, …), to what, from where, under which policy.
    public struct ConsentChange: Codable, Sendable, Equatable {
        public var consent: String
        public var granted: Bool
        public var source: ConsentSource
        public var policyVersion: String
        public var changedAt: Date
        public init(consent: String, granted: Bool, source: ConsentSource, policyVersion: String, changedAt: Date) {
            self.consent = consent
            self.granted = granted
            self.source = source
            self.policyVersion = policyVersion
            self.changedAt = changedAt
        }
    }

    /// `accounts.consents.history`: every change, newest first.
    public struct ConsentHistory: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.consents.history"
        public static let isIdempotent = true
        public typealias Request = PageRequest
        public typealias Response = Page<ConsentChange>
    }

    /// A version of the privacy policy.
    public struct PolicyVersion: Codable, Sendable, Equatable {
        public var version: String
        public var effectiveDate: Date
        public init(version: String, effectiveDate: Date) {
            self.version = version
            self.effectiveDate = effectiveDate
        }
    }

    /// `accounts.policy.current`: the version in force now. Anyone may ask.
    public struct CurrentPolicy: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.policy.current"
        public static let isIdempotent = true
        public typealias Request = Empty
        public typealias Response = PolicyVersion
    }

    /// `accounts.policy.accept`: the caller accepts a version, which must be the current one.
    public struct AcceptPolicy: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.policy.accept"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var version: String
            public init(version: String) { self.version = version }
        }
        public typealias Response = Empty
    }

    /// `accounts.policy.publish`: a legal or admin user publishes a new version; everyone is asked to accept it.
    public struct PublishPolicy: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.policy.publish"
        public typealias Request = PolicyVersion
        public typealias Response = PolicyVersion
    }

    /// One sign-in attempt as the account's owner sees it.
    public struct SignInRecord: Codable, Sendable, Equatable {
        public var at: Date
        public var ipAddress: String
        public var userAgent: String
        public var succeeded: Bool
        public init(at: Date, ipAddress: String, userAgent: String, succeeded: Bool) {
            self.at = at
            self.ipAddress = ipAddress
            self.userAgent = userAgent
            self.succeeded = succeeded
        }
    }

    /// `accounts.sign-ins`: the caller's sign-in history, newest first.
    public struct SignInHistory: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.sign-ins"
        public static let isIdempotent = true
        public typealias Request = PageRequest
        public typealias Response = Page<SignInRecord>
    }

    /// One staff access to a person's data, as that person sees it.
    public struct AccessRecord: Codable, Sendable, Equatable {
        public var at: Date
        /// The staff member; nil when the platform itself acted (a legal export made by an
        /// operator's process rather than a person's account).
        public var staffId: UUID?
        public var staffRoles: [String]
        public var action: String
        public var reason: String?
        /// For `partner-access.*`: the partner that read the person's data under their grant.
        public var partnerId: String?
        /// For `partner-access.*`: how many reads the entry stands for (every read in its clock
        /// hour, from `at`), and the last one's time.
        public var reads: Int?
        public var lastAt: Date?
        public init(
            at: Date, staffId: UUID?, staffRoles: [String], action: String, reason: String?, partnerId: String? = nil, reads: Int? = nil,
            lastAt: Date? = nil
        ) {
            self.at = at
            self.staffId = staffId
            self.staffRoles = staffRoles
            self.action = action
            self.reason = reason
            self.partnerId = partnerId
            self.reads = reads
            self.lastAt = lastAt
        }
    }

    /// `accounts.access-log`: staff accesses to the caller's data, newest first.
    public struct AccessLog: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.access-log"
        public static let isIdempotent = true
        public typealias Request = PageRequest
        public typealias Response = Page<AccessRecord>
    }

    /// `accounts.staff.create`: an admin creates a staff account with staff roles.
    public struct CreateStaff: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.staff.create"
        public struct Request: Codable, Sendable, Equatable {
            public var email: String
            public var password: String
            public var displayName: String
            /// Among support, moderator, finance, legal, admin.
            public var roles: [String]
            public init(email: String, password: String, displayName: String, roles: [String]) {
                self.email = email
                self.password = password
                self.displayName = displayName
                self.roles = roles
            }
        }
        public typealias Response = Account
    }

    /// `accounts.staff.view-account`: a support, legal or admin user reads a person's account,
    /// with a reason; the access is audited and shown to the person.
    public struct StaffViewAccount: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.staff.view-account"
        public struct Request: Codable, Sendable, Equatable {
            public var accountId: UUID
            public var reason: String
            public init(accountId: UUID, reason: String) {
                self.accountId = accountId
                self.reason = reason
            }
        }
        public typealias Response = Account
    }

    /// `accounts.staff.offboard`: an admin removes staff roles from another account, disables it, or
    /// ends all its sessions, with a reason; audited and shown in that person's access log.
    public struct StaffOffboard: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.staff.offboard"
        public struct Request: Codable, Sendable, Equatable {
            public var accountId: UUID
            /// Staff roles to take away (support, moderator, finance, legal, admin).
            public var removeRoles: [String]
            /// Disable the account: it cannot sign in, and every session ends.
            public var disable: Bool
            /// End every session of the account now.
            public var endSessions: Bool
            public var reason: String
            public init(accountId: UUID, removeRoles: [String] = [], disable: Bool = false, endSessions: Bool = false, reason: String) {
                self.accountId = accountId
                self.removeRoles = removeRoles
                self.disable = disable
                self.endSessions = endSessions
                self.reason = reason
            }
        }
        public struct Response: Codable, Sendable, Equatable {
            public var accountId: UUID
            public var roles: [String]
            public var disabled: Bool
            /// How many sessions this request ended.
            public var sessionsEnded: Int
            public init(accountId: UUID, roles: [String], disabled: Bool, sessionsEnded: Int) {
                self.accountId = accountId
                self.roles = roles
                self.disabled = disabled
                self.sessionsEnded = sessionsEnded
            }
        }
    }

    /// `accounts.request-erasure`: the caller, with their password, asks to be erased everywhere.
    public struct RequestErasure: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.request-erasure"
        public struct Request: Codable, Sendable, Equatable {
            public var password: String
            public init(password: String) { self.password = password }
        }
        public struct Response: Codable, Sendable, Equatable {
            public var erasureId: UUID
            public init(erasureId: UUID) { self.erasureId = erasureId }
        }
    }

    /// The progress of an erasure across every service.
    public struct ErasureProgress: Codable, Sendable, Equatable {
        public var erasureId: UUID
        public var requestedAt: Date
        /// Services that confirmed, accounts included.
        public var confirmed: [String]
        public var completedAt: Date?
        public init(erasureId: UUID, requestedAt: Date, confirmed: [String], completedAt: Date?) {
            self.erasureId = erasureId
            self.requestedAt = requestedAt
            self.confirmed = confirmed
            self.completedAt = completedAt
        }
    }

    /// `accounts.erasure-status`: for staff (legal, admin) and the platform.
    public struct ErasureStatus: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.erasure-status"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var erasureId: UUID
            public init(erasureId: UUID) { self.erasureId = erasureId }
        }
        public typealias Response = ErasureProgress
    }
}

// MARK: Error codes

extension ServiceError.Code {
    /// The phone verification code is not the one texted (422).
    public static let invalidCode = ServiceError.Code(rawValue: "invalid_code")
    /// The phone verification code is older than ten minutes, or was tried too often (422).
    public static let codeExpired = ServiceError.Code(rawValue: "code_expired")
    /// No phone number is waiting for its code (409).
    public static let noPendingPhone = ServiceError.Code(rawValue: "no_pending_phone")
    /// Another live account has this email (409).
    public static let emailTaken = ServiceError.Code(rawValue: "email_taken")
    /// The email or password is not right; the same for an unknown email (401).
    public static let invalidCredentials = ServiceError.Code(rawValue: "invalid_credentials")
    /// A partner with this id is registered already (409).
    public static let partnerExists = ServiceError.Code(rawValue: "partner_exists")
    /// The account was disabled by an admin; told only to whoever knows its password (403).
    public static let accountDisabled = ServiceError.Code(rawValue: "account_disabled")
    /// The change would leave the platform without an admin who can sign in (409).
    public static let lastAdmin = ServiceError.Code(rawValue: "last_admin")
}

extension Accounts {
    /// The accounts operations' own error codes, with their HTTP statuses.
    public static let errorCodes: [DeclaredErrorCode] = [
        .init(.emailTaken, status: 409), .init(.invalidCredentials, status: 401), .init(.partnerExists, status: 409),
        .init(.accountDisabled, status: 403), .init(.lastAdmin, status: 409), .init(.invalidCode, status: 422),
        .init(.codeExpired, status: 422), .init(.noPendingPhone, status: 409), .init(.insufficientScope, status: 403),
        .init(.invalidGrant, status: 400), .init(.invalidClient, status: 401), .init(.unsupportedGrantType, status: 400),
    ]
}
