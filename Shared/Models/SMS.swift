import Foundation

extension ServiceName {
    /// The SMS provider, as the integration service fronts it (DESIGN: outside providers sit
    /// behind integration).
    public static let sms = ServiceName("sms")
}

/// Text messages on the bus: `sms.send`, answered by the integration service; the provider's
/// inbound messages and delivery reports, handed by integration to notifications.
public enum SMS {
    /// A phone number as the platform keeps it: E.164, `+` and 8 to 15 digits, the first not 0.
    public static func isE164(_ number: String) -> Bool {
        let digits = number.utf8.dropFirst()
        return number.utf8.first == UInt8(ascii: "+") && (8...15).contains(digits.count)
            && digits.first != UInt8(ascii: "0") && digits.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }

    /// GSM 03.38's basic characters, one septet each; its extension table's cost two.
    private static let gsmBasic = Set(
        "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
    private static let gsmExtension = Set("^{}\\[~]|€\u{0C}")

    /// How many segments carriers split `body` into: GSM-7 holds 160 septets in one, 153 in each
    /// of several; any other character makes it UCS-2, 70 in one, 67 in each of several.
    public static func segments(of body: String) -> Int {
        var septets = 0
        var units = 0
        var gsm = true
        for character in body {
            units += character.utf16.count
            if character == "\r\n" {
                // One Character in Swift, two in GSM-7.
                septets += 2
            } else if gsmBasic.contains(character) {
                septets += 1
            } else if gsmExtension.contains(character) {
                septets += 2
            } else {
                gsm = false
            }
        }
        if gsm { return septets <= 160 ? 1 : (septets + 152) / 153 }
        return units <= 70 ? 1 : (units + 66) / 67
    }

    /// `sms.send`: one text to one number. Answers the provider's id for the message; a number
    /// the provider will never reach (invalid, or it texted STOP) is `sms_refused` (422, do not
    /// try again); the provider out of reach or failing is `unavailable` (try again later).
    public struct Send: BusOperation {
        public static let service = ServiceName.sms
        public static let name = "sms.send"
        public static let timeout = Duration.seconds(15)
        public struct Request: Codable, Sendable, Equatable {
            /// E.164.
            public var to: String
            public var body: String
            public init(to: String, body: String) {
                self.to = to
                self.body = body
            }
        }
        public struct Response: Codable, Sendable, Equatable {
            /// The provider's id of the message (`SM…`), which its delivery reports name.
            public var providerId: String
            public init(providerId: String) { self.providerId = providerId }
        }
    }

    /// `notifications.sms-inbound`: a person texted the platform's number. Answers the reply
    /// to text back, if any (keywords: STOP and its synonyms, START, HELP).
    public struct Inbound: BusOperation {
        public static let service = ServiceName.notifications
        public static let name = "notifications.sms-inbound"
        public struct Request: Codable, Sendable, Equatable {
            /// E.164, as the provider gives it.
            public var from: String
            public var body: String
            /// The provider's id of the inbound message: the same message told twice is applied once.
            public var providerId: String
            public init(from: String, body: String, providerId: String) {
                self.from = from
                self.body = body
                self.providerId = providerId
            }
        }
        public struct Response: Codable, Sendable, Equatable {
            public var reply: String?
            public init(reply: String?) { self.reply = reply }
        }
    }

    /// `notifications.sms-status`: the provider's report on a message it accepted.
    public struct Status: BusOperation {
        public static let service = ServiceName.notifications
        public static let name = "notifications.sms-status"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var providerId: String
            /// The provider's word: `queued`, `sent`, `delivered`, `undelivered`, `failed`.
            public var status: String
            public var errorCode: String?
            public init(providerId: String, status: String, errorCode: String? = nil) {
                self.providerId = providerId
                self.status = status
                self.errorCode = errorCode
            }
        }
        public typealias Response = Empty
    }
}

extension ServiceError.Code {
    /// The SMS provider will never deliver to this number (invalid, or it asked to stop).
    public static let smsRefused = ServiceError.Code(rawValue: "sms_refused")
}

extension SMS {
    public static let errorCodes: [DeclaredErrorCode] = [.init(.smsRefused, status: 422)]
}

extension Accounts {
    /// `accounts.verify-phone`: the caller confirms the number they gave with the code texted to
    /// it; it becomes their phone. 422 `invalid_code` (five wrong tries end the code),
    /// `code_expired`; 409 `no_pending_phone`.
    public struct VerifyPhone: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.verify-phone"
        public struct Request: Codable, Sendable, Equatable {
            public var code: String
            public init(code: String) { self.code = code }
        }
        public typealias Response = Account
    }

    /// `accounts.sms-opt-out`: a number texted STOP (`optOut`) or START. STOP: nothing more is
    /// texted to it, and every account whose verified phone it is has its SMS marketing consent
    /// withdrawn (source `sms_stop`). START: texts may go to it again; marketing consent stays
    /// as it is. Callers: the platform only.
    public struct SMSOptOut: BusOperation {
        public static let service = ServiceName.accounts
        public static let name = "accounts.sms-opt-out"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var phone: String
            public var optOut: Bool
            public init(phone: String, optOut: Bool) {
                self.phone = phone
                self.optOut = optOut
            }
        }
        public struct Response: Codable, Sendable, Equatable {
            /// How many accounts have this number as their verified phone.
            public var accounts: Int
            public init(accounts: Int) { self.accounts = accounts }
        }
    }
}
