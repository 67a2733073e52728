public import Foundation

extension ServiceName {
    /// Social sign-in's OpenID Connect providers, as the integration service fronts them.
    public static let identity = ServiceName("identity")
}

/// Social sign-in (OpenID Connect, authorization code with PKCE). Integration speaks the
/// providers' protocol (`identity.*`): it starts a sign-in and verifies what comes back, the ID
/// token against the provider's keys. Accounts decides what a verified identity may do
/// (`accounts.social.*`): sign in to the account it is linked to, be linked to the account with
/// its verified email once the person confirms with that account's password, or register one.
public enum Identity {
    /// How long a started sign-in, and then what the provider said, wait for the person.
    public static let pendingSeconds = 600

    /// A provider a person may sign in with.
    public struct Provider: Codable, Sendable, Equatable {
        /// The provider's id in paths (`sandbox`, `google`, …).
        public var id: String
        /// Its name as people know it.
        public var name: String
        public init(id: String, name: String) {
            self.id = id
            self.name = name
        }
    }

    /// What a provider vouched for in a verified ID token.
    public struct Verified: Codable, Sendable, Equatable {
        public var provider: String
        public var providerName: String
        /// The token's `iss` and `sub`: together, the person at that provider, for good.
        public var issuer: String
        public var subject: String
        public var email: String?
        /// Whether the provider says it checked that the person holds `email`.
        public var emailVerified: Bool
        public var name: String?
        public init(
            provider: String, providerName: String, issuer: String, subject: String, email: String?, emailVerified: Bool, name: String?
        ) {
            self.provider = provider
            self.providerName = providerName
            self.issuer = issuer
            self.subject = subject
            self.email = email
            self.emailVerified = emailVerified
            self.name = name
        }
    }

    /// `identity.providers`: the providers configured (anyone).
    public struct Providers: BusOperation {
        public static let service = ServiceName.identity
        public static let name = "identity.providers"
        public static let isIdempotent = true
        public typealias Request = Empty
        public struct Response: Codable, Sendable, Equatable {
            public var items: [Provider]
            public init(items: [Provider]) { self.items = items }
        }
    }

    /// `identity.begin`: where to send the person to sign in at `provider`, coming back to
    /// `redirectUri` with `state` (anyone: it holds nothing of anybody's).
    public struct Begin: BusOperation {
        public static let service = ServiceName.identity
        public static let name = "identity.begin"
        public static let timeout = Duration.seconds(15)
        public struct Request: Codable, Sendable, Equatable {
            public var provider: String
            public var redirectUri: String
            public init(provider: String, redirectUri: String) {
                self.provider = provider
                self.redirectUri = redirectUri
            }
        }
        public struct Response: Codable, Sendable, Equatable {
            public var authorizationUrl: String
            public var state: String
            public init(authorizationUrl: String, state: String) {
                self.authorizationUrl = authorizationUrl
                self.state = state
            }
        }
    }

    /// `identity.complete`: the provider sent the person back with `code` for `state`: the code is
    /// exchanged and the ID token verified (the platform only: accounts calls it).
    public struct Complete: BusOperation {
        public static let service = ServiceName.identity
        public static let name = "identity.complete"
        /// Four provider requests at most (discovery, token, keys twice), 5 s each.
        public static let timeout = Duration.seconds(25)
        public struct Request: Codable, Sendable, Equatable {
            public var provider: String
            public var state: String
            public var code: String
            public init(provider: String, state: String, code: String) {
                self.provider = provider
                self.state = state
                self.code = code
            }
        }
        public typealias Response = Verified
    }

    public static let errorCodes: [DeclaredErrorCode] = [
        .init(.invalidState, status: 409), .init(.identityRejected, status: 401), .init(.emailNotVerified, status: 409),
    ]
}

extension ServiceError.Code {
    /// The sign-in has expired or was finished already: start again (409: the request is sound,
    /// what it would finish is no longer there to finish).
    public static let invalidState = ServiceError.Code(rawValue: "invalid_state")
    /// The provider's answer did not verify (signature, issuer, audience, expiry or nonce) (401).
    public static let identityRejected = ServiceError.Code(rawValue: "identity_rejected")
    /// The provider did not vouch for the email an account would need (409).
    public static let emailNotVerified = ServiceError.Code(rawValue: "email_not_verified")
}

extension Accounts {
    /// What a social sign-in came to.
    public struct SocialOutcome: Codable, Sendable, Equatable {
        public enum Kind: String, Codable, Sendable {
            /// The identity is linked to an account: `session` is open.
            case signedIn = "signed-in"
            /// An account has the provider's verified email: its password links them (`ticket`).
            case linkRequired = "link-required"
            /// No account has that email: one may be registered with it (`ticket`).
            case registrationRequired = "registration-required"
        }
        public var outcome: Kind
        public var providerName: String
        public var session: SignIn.Response?
        /// For `accounts.social.link` or `.register`, within `Identity.pendingSeconds`, once.
        public var ticket: String?
        public var email: String?
        public var displayName: String?
        public init(
            outcome: Kind, providerName: String, session: SignIn.Response? = nil, ticket: String? = nil, email: String? = nil,
            displayName: String? = nil
        ) {
            self.outcome = outcome
            self.providerName = providerName
            self.session = session
            self.ticket = ticket
            self.email = email
            self.displayName = displayName
        }
    }

    /// `accounts.social.sign-in`: the person came back from `provider` (anyone; the gateway adds the client).
    public struct SocialSignIn: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.social.sign-in"
        public static let timeout = Duration.seconds(30)
        public struct Request: Codable, Sendable, Equatable {
            public var provider: String
            public var state: String
            public var code: String
            public var ipAddress: String
            public var userAgent: String
            public init(provider: String, state: String, code: String, ipAddress: String, userAgent: String) {
                self.provider = provider
                self.state = state
                self.code = code
                self.ipAddress = ipAddress
                self.userAgent = userAgent
            }
        }
        public typealias Response = SocialOutcome
    }

    /// `accounts.social.link`: the account's password confirms that the identity in `ticket` is
    /// its owner's; linked, and signed in.
    public struct SocialLink: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.social.link"
        public struct Request: Codable, Sendable, Equatable {
            public var ticket: String
            public var password: String
            public var ipAddress: String
            public var userAgent: String
            public init(ticket: String, password: String, ipAddress: String, userAgent: String) {
                self.ticket = ticket
                self.password = password
                self.ipAddress = ipAddress
                self.userAgent = userAgent
            }
        }
        public typealias Response = SignIn.Response
    }

    /// `accounts.social.register`: a new account with the provider's verified email, linked, and signed in.
    public struct SocialRegister: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.social.register"
        public struct Request: Codable, Sendable, Equatable {
            public var ticket: String
            public var password: String
            public var displayName: String
            public var role: String
            public var acceptPolicyVersion: String
            public var marketingEmailOptIn: Bool?
            public var referralCode: String?
            public var country: String?
            public var ipAddress: String
            public var userAgent: String
            public init(
                ticket: String, password: String, displayName: String, role: String, acceptPolicyVersion: String,
                marketingEmailOptIn: Bool? = nil, referralCode: String? = nil, country: String? = nil, ipAddress: String,
                userAgent: String
            ) {
                self.ticket = ticket
                self.password = password
                self.displayName = displayName
                self.role = role
                self.acceptPolicyVersion = acceptPolicyVersion
                self.marketingEmailOptIn = marketingEmailOptIn
                self.referralCode = referralCode
                self.country = country
                self.ipAddress = ipAddress
                self.userAgent = userAgent
            }
        }
        public typealias Response = SignIn.Response
    }

    /// One provider identity linked to the caller's account, with what the provider told.
    public struct SocialIdentity: Codable, Sendable, Equatable {
        public var provider: String
        public var providerName: String
        public var email: String?
        public var name: String?
        public var linkedAt: Date
        public var lastUsedAt: Date?
        public init(provider: String, providerName: String, email: String?, name: String?, linkedAt: Date, lastUsedAt: Date?) {
            self.provider = provider
            self.providerName = providerName
            self.email = email
            self.name = name
            self.linkedAt = linkedAt
            self.lastUsedAt = lastUsedAt
        }
    }

    /// `accounts.social.identities`: the caller's linked identities.
    public struct SocialIdentities: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.social.identities"
        public static let isIdempotent = true
        public typealias Request = Empty
        public struct Response: Codable, Sendable, Equatable {
            public var items: [SocialIdentity]
            public init(items: [SocialIdentity]) { self.items = items }
        }
    }

    /// `accounts.social.unlink`: the caller's account no longer signs in with `provider`.
    public struct SocialUnlink: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.social.unlink"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var provider: String
            public init(provider: String) { self.provider = provider }
        }
        public typealias Response = Empty
    }
}
