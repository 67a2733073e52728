import Foundation

extension ServiceName {
    /// The payment processor, as the integration service fronts it: no other process speaks the
    /// processor's protocol (DESIGN: outside providers sit behind integration).
    public static let payments = ServiceName("payments")
}

/// The payment processor's operations on the bus (`payments.*`, answered by the integration
/// service, asked by billing as the platform).
public enum Payments {
    /// A card as the processor describes it: never a number or a CVC.
    public struct Card: Codable, Sendable, Equatable {
        /// The processor's reusable reference to the card (`pm_…`): billing keeps it sealed.
        public var processorId: String
        public var brand: String
        public var last4: String
        public var expMonth: Int
        public var expYear: Int
        /// The processor's fingerprint of the card number: the same card on two accounts has one.
        public var fingerprint: String
        public init(processorId: String, brand: String, last4: String, expMonth: Int, expYear: Int, fingerprint: String) {
            self.processorId = processorId
            self.brand = brand
            self.last4 = last4
            self.expMonth = expMonth
            self.expYear = expYear
            self.fingerprint = fingerprint
        }
    }

    /// `payments.save-card`: turns a one-use token a front end got from the processor into a
    /// reusable card (404 `card_token_not_found`, 409 `card_token_used`).
    public struct SaveCard: BusOperation {
        public static let service = ServiceName.payments
        public static let name = "payments.save-card"
        public static let timeout = Duration.seconds(15)
        public struct Request: Codable, Sendable, Equatable {
            public var token: String
            public init(token: String) { self.token = token }
        }
        public typealias Response = Card
    }

    /// What became of a charge as far as the platform knows.
    public enum ChargeStatus: String, Codable, Sendable {
        case succeeded, declined
        /// The processor did not answer in time, or could not be reached: it may or may not have
        /// charged. Its webhook or a later `payments.charge` with the same key tells.
        case unknown
    }

    /// `payments.charge`: charges a saved card once per `idempotencyKey` (the processor keeps the
    /// key, so asking again with it answers the first outcome and charges nothing more).
    public struct Charge: BusOperation {
        public static let service = ServiceName.payments
        public static let name = "payments.charge"
        public static let isIdempotent = true
        public static let timeout = Duration.seconds(15)
        public struct Request: Codable, Sendable, Equatable {
            public var idempotencyKey: String
            public var amountCents: Int
            public var card: String
            /// Billing's own reference (the top-up id), echoed by the processor's webhooks.
            public var reference: String
            public init(idempotencyKey: String, amountCents: Int, card: String, reference: String) {
                self.idempotencyKey = idempotencyKey
                self.amountCents = amountCents
                self.card = card
                self.reference = reference
            }
        }
        public struct Response: Codable, Sendable, Equatable {
            public var status: ChargeStatus
            /// The processor's payment (`pi_…`), when it answered.
            public var paymentId: String?
            /// Why a declined charge was declined: `insufficient_funds`, `generic_decline`, …
            public var declineCode: String?
            public init(status: ChargeStatus, paymentId: String? = nil, declineCode: String? = nil) {
                self.status = status
                self.paymentId = paymentId
                self.declineCode = declineCode
            }
        }
    }
}

extension ServiceError.Code {
    /// The processor does not know the card token (404).
    public static let cardTokenNotFound = ServiceError.Code(rawValue: "card_token_not_found")
    /// The card token was used already: tokens are for one use (409).
    public static let cardTokenUsed = ServiceError.Code(rawValue: "card_token_used")
}

extension Payments {
    public static let errorCodes: [DeclaredErrorCode] = [.init(.cardTokenNotFound, status: 404), .init(.cardTokenUsed, status: 409)]
}
