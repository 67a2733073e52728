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
        public var phone: String?
        public var source: String?
        public var createdAt: Date
        public var policyVersion: String?

        public init(
            id: UUID, email: String, displayName: String, role: String, roles: [String], country: String?,
            phone: String?, source: String?, createdAt: Date, policyVersion: String?
        ) {
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
            public init(
                email: String, password: String, displayName: String, role: String, acceptPolicyVersion: String,
                marketingEmailOptIn: Bool? = nil, referralCode: String? = nil, country: String? = nil
            ) {
                self.email = email
                self.password = password
                self.displayName = displayName
                self.role = role
                self.acceptPolicyVersion = acceptPolicyVersion
                self.marketingEmailOptIn = marketingEmailOptIn
                self.referralCode = referralCode
                self.country = country
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
}
