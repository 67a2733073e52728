public import Foundation

/// User-granted access (OAuth 2.0, authorization code with PKCE): a partner app acts for a person
/// only with that person's grant, which is the person's consent to share with that partner.
extension Accounts {
    public enum OAuth {
        /// What a person may grant a partner, and what each means in plain words.
        public static let userScopes: [(scope: String, meaning: String)] = [
            (PartnerScope.usersRead.rawValue, "see your display name"),
        ]
        public static let codeSeconds = 60
        public static let accessTokenSeconds = 3600
        public static let refreshTokenSeconds = 30 * 86_400
    }

    /// `accounts.oauth.client`: a partner as an OAuth client, for the consent page (anyone).
    public struct OAuthClient: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.oauth.client"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var partnerId: String
            public init(partnerId: String) { self.partnerId = partnerId }
        }
        public struct Response: Codable, Sendable, Equatable {
            public var partnerId: String
            public var name: String
            public var redirectUris: [String]
            /// The scopes the partner was registered with: all it may ask for.
            public var scopes: [String]
            public init(partnerId: String, name: String, redirectUris: [String], scopes: [String]) {
                self.partnerId = partnerId
                self.name = name
                self.redirectUris = redirectUris
                self.scopes = scopes
            }
        }
    }

    /// `accounts.oauth.set-redirect-uris`: where a partner's authorization answers may go (the platform, for the partner).
    public struct SetRedirectURIs: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.oauth.set-redirect-uris"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var partnerId: String
            public var redirectUris: [String]
            public init(partnerId: String, redirectUris: [String]) {
                self.partnerId = partnerId
                self.redirectUris = redirectUris
            }
        }
        public struct Response: Codable, Sendable, Equatable {
            public var redirectUris: [String]
            public init(redirectUris: [String]) { self.redirectUris = redirectUris }
        }
    }

    /// `accounts.oauth.authorize`: the signed-in person grants a partner `scopes`; a one-use code
    /// bound to the redirect URI and the PKCE challenge.
    public struct Authorize: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.oauth.authorize"
        public struct Request: Codable, Sendable, Equatable {
            public var partnerId: String
            public var redirectUri: String
            public var scopes: [String]
            public var codeChallenge: String
            public init(partnerId: String, redirectUri: String, scopes: [String], codeChallenge: String) {
                self.partnerId = partnerId
                self.redirectUri = redirectUri
                self.scopes = scopes
                self.codeChallenge = codeChallenge
            }
        }
        public struct Response: Codable, Sendable, Equatable {
            public var code: String
            public init(code: String) { self.code = code }
        }
    }

    /// `accounts.oauth.token`: a code or a refresh token for tokens; the client authenticates with
    /// one of its API keys (anyone may call: the key is the credential).
    public struct Token: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.oauth.token"
        public struct Request: Codable, Sendable, Equatable {
            public var partnerId: String
            public var clientSecret: String
            /// `authorization_code` or `refresh_token`.
            public var grantType: String
            public var code: String?
            public var redirectUri: String?
            public var codeVerifier: String?
            public var refreshToken: String?
            public init(
                partnerId: String, clientSecret: String, grantType: String, code: String? = nil, redirectUri: String? = nil,
                codeVerifier: String? = nil, refreshToken: String? = nil
            ) {
                self.partnerId = partnerId
                self.clientSecret = clientSecret
                self.grantType = grantType
                self.code = code
                self.redirectUri = redirectUri
                self.codeVerifier = codeVerifier
                self.refreshToken = refreshToken
            }
        }
        public struct Response: Codable, Sendable, Equatable {
            public var accessToken: String
            public var refreshToken: String
            public var expiresIn: Int
            public var scope: String
            public init(accessToken: String, refreshToken: String, expiresIn: Int, scope: String) {
                self.accessToken = accessToken
                self.refreshToken = refreshToken
                self.expiresIn = expiresIn
                self.scope = scope
            }
        }
    }

    /// `accounts.oauth.revoke`: the client revokes a token it holds (RFC 7009: an unknown token is not an error).
    public struct RevokeToken: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.oauth.revoke"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var partnerId: String
            public var clientSecret: String
            public var token: String
            public init(partnerId: String, clientSecret: String, token: String) {
                self.partnerId = partnerId
                self.clientSecret = clientSecret
                self.token = token
            }
        }
        public typealias Response = Empty
    }

    /// `accounts.oauth.user`: who an access token acts for, as its partner may see them; each call
    /// is recorded in the person's access log (the platform only, for the partner API).
    public struct OAuthUser: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.oauth.user"
        public struct Request: Codable, Sendable, Equatable {
            public var accessToken: String
            public init(accessToken: String) { self.accessToken = accessToken }
        }
        public struct Response: Codable, Sendable, Equatable {
            public var partnerId: String
            /// The grant the token is of (what the partner API's rate is counted by).
            public var grantId: UUID
            /// The person's id for this partner alone (another partner sees another).
            public var subject: String
            public var displayName: String
            public var scopes: [String]
            public init(partnerId: String, grantId: UUID, subject: String, displayName: String, scopes: [String]) {
                self.partnerId = partnerId
                self.grantId = grantId
                self.subject = subject
                self.displayName = displayName
                self.scopes = scopes
            }
        }
    }

    /// A partner a person granted access to.
    public struct Grant: Codable, Sendable, Equatable {
        public var partnerId: String
        public var partnerName: String
        public var scopes: [String]
        public var grantedAt: Date
        public init(partnerId: String, partnerName: String, scopes: [String], grantedAt: Date) {
            self.partnerId = partnerId
            self.partnerName = partnerName
            self.scopes = scopes
            self.grantedAt = grantedAt
        }
    }

    /// `accounts.oauth.grants`: the caller's live grants.
    public struct Grants: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.oauth.grants"
        public static let isIdempotent = true
        public typealias Request = Empty
        public struct Response: Codable, Sendable, Equatable {
            public var items: [Grant]
            public init(items: [Grant]) { self.items = items }
        }
    }

    /// `accounts.oauth.withdraw`: the caller withdraws a partner's grant: consent off, every token dead at once.
    public struct WithdrawGrant: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.oauth.withdraw"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var partnerId: String
            public init(partnerId: String) { self.partnerId = partnerId }
        }
        public typealias Response = Empty
    }
}

/// A person's grant to a partner ended (withdrawn, or the account erased): the partner is told
/// (`grant.revoked` webhook) by the id it knows the person by.
extension Accounts {
    public struct GrantRevoked: DomainEvent, Equatable {
        public static let type = "accounts.grant-revoked.v1"
        public var partnerId: String
        public var subject: String
        public var at: Date
        public init(partnerId: String, subject: String, at: Date) {
            self.partnerId = partnerId
            self.subject = subject
            self.at = at
        }
    }
}

extension ServiceError.Code {
    /// OAuth's `invalid_grant`: the code or refresh token is not valid for this client (400).
    public static let invalidGrant = ServiceError.Code(rawValue: "invalid_grant")
    /// OAuth's `invalid_client`: the client could not be authenticated (401).
    public static let invalidClient = ServiceError.Code(rawValue: "invalid_client")
    /// OAuth's `unsupported_grant_type` (400).
    public static let unsupportedGrantType = ServiceError.Code(rawValue: "unsupported_grant_type")
}
