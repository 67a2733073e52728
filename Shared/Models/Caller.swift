public import Foundation

/// Who a bus call is made for: forwarded by the gateway, checked again by every service.
public struct Caller: Codable, Sendable, Equatable {
    /// The signed-in account, or nil for an anonymous request.
    public var accountId: UUID?
    public var roles: Set<Role>
    /// `DNT: 1` or `Sec-GPC: 1` was on the request: record no analytics, share nothing with partners.
    public var doNotTrack: Bool

    public init(accountId: UUID? = nil, roles: Set<Role> = [], doNotTrack: Bool = false) {
        self.accountId = accountId
        self.roles = roles
        self.doNotTrack = doNotTrack
    }

    /// A request with no signed-in person behind it.
    public static let anonymous = Caller()
    /// The platform itself (relays, fan-out jobs), never a person.
    public static let system = Caller(roles: [.system])

    public func has(_ role: Role) -> Bool { roles.contains(role) }
}

/// A role an account holds; staff roles are granted by an admin.
public struct Role: RawRepresentable, Codable, Sendable, Hashable {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let member = Role(rawValue: "member")
    public static let advisor = Role(rawValue: "advisor")
    public static let support = Role(rawValue: "support")
    public static let moderator = Role(rawValue: "moderator")
    public static let finance = Role(rawValue: "finance")
    public static let legal = Role(rawValue: "legal")
    public static let admin = Role(rawValue: "admin")
    /// The platform's own processes.
    public static let system = Role(rawValue: "system")
}
