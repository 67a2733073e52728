import Foundation
import PlatformSecurity

/// The sandbox payment processor's state and rules, in memory: card tokens, saved cards, payment
/// intents with their idempotency keys, and the faults a test asked for. The HTTP side
/// (`ProcessorRoutes`) speaks the protocol; this actor decides.
actor Processor {
    /// A card as the processor keeps it (the sandbox may hold numbers: it is the processor).
    struct Card: Codable, Sendable {
        var brand: String
        var last4: String
        var expMonth: Int
        var expYear: Int
        var fingerprint: String
        /// What charging it does: the test cards of docs/api.md.
        var behaviour: Behaviour
    }

    enum Behaviour: String, Codable, Sendable {
        case succeed, decline, insufficientFunds, disputeLater
    }

    /// A payment intent, in the processor's own JSON shape (snake_case on the wire).
    struct Intent: Codable, Sendable {
        var id: String
        var object = "payment_intent"
        var amount: Int
        var currency: String
        var status: String
        var paymentMethod: String
        var metadata: [String: String]
        var lastPaymentError: PaymentError?
        var created: Int
    }

    struct PaymentError: Codable, Sendable {
        var type = "card_error"
        var code: String
        var declineCode: String?
        var message: String
    }

    /// A declined confirmation's error body, which names the intent.
    struct CardError: Codable, Sendable {
        var type = "card_error"
        var code: String
        var declineCode: String?
        var message: String
        var paymentIntent: Intent
    }

    /// An answer of the HTTP side: status and JSON body, kept whole for idempotent replays.
    struct Answer: Sendable {
        var status: Int
        var body: Data
    }

    /// An event to deliver as a signed webhook.
    struct Event: Encodable, Sendable {
        var id: String
        var object = "event"
        var type: String
        var created: Int
        var data: EventData
    }

    struct EventData: Encodable, Sendable {
        var object: EventObject
    }

    /// A webhook's object: an intent, a dispute or a refund of one, or a payout.
    enum EventObject: Encodable, Sendable {
        case intent(Intent)
        case dispute(Dispute)
        case refund(Refund)
        case payout(Payout)
        func encode(to encoder: any Encoder) throws {
            switch self {
            case .intent(let intent): try intent.encode(to: encoder)
            case .dispute(let dispute): try dispute.encode(to: encoder)
            case .refund(let refund): try refund.encode(to: encoder)
            case .payout(let payout): try payout.encode(to: encoder)
            }
        }
    }

    /// Money given back to the card of a succeeded payment intent.
    struct Refund: Codable, Sendable {
        var id: String
        var object = "refund"
        var amount: Int
        var currency: String
        var paymentIntent: String
        var status: String
        var created: Int
    }

    struct Dispute: Codable, Sendable {
        var id: String
        var object = "dispute"
        var amount: Int
        var currency: String
        var paymentIntent: String
        var reason: String
        var status: String
        var created: Int
    }

    struct Payout: Codable, Sendable {
        var id: String
        var object = "payout"
        var amount: Int
        var currency: String
        var destination: String
        var status: String
        var metadata: [String: String]
        var created: Int
    }

    /// Faults a test asks for (`POST /sandbox/faults`).
    struct Faults: Codable, Sendable {
        /// The next this many payment-intent answers come only after `answerDelaySeconds`
        /// (the intent is made and its webhook sent at once: the caller just stops waiting).
        var delayedAnswers: Int = 0
        var answerDelaySeconds: Double = 0
        /// Every webhook is delivered twice.
        var duplicateWebhooks: Bool = false
        /// Webhooks wait this long before their first delivery (late webhooks).
        var webhookDelaySeconds: Double = 0
        /// Payouts fail (the destination refuses them).
        var failPayouts: Bool = false

        init() {}

        /// Any field left out is no fault; `{}` clears them all.
        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            delayedAnswers = try container.decodeIfPresent(Int.self, forKey: .delayedAnswers) ?? 0
            answerDelaySeconds = try container.decodeIfPresent(Double.self, forKey: .answerDelaySeconds) ?? 0
            duplicateWebhooks = try container.decodeIfPresent(Bool.self, forKey: .duplicateWebhooks) ?? false
            webhookDelaySeconds = try container.decodeIfPresent(Double.self, forKey: .webhookDelaySeconds) ?? 0
            failPayouts = try container.decodeIfPresent(Bool.self, forKey: .failPayouts) ?? false
        }
    }

    private var tokens: [String: (card: Card, used: Bool)] = [:]
    private var cards: [String: Card] = [:]
    private var intents: [String: Intent] = [:]
    /// How much of each payment intent was refunded so far.
    private var refunded: [String: Int] = [:]
    private var idempotent: [String: (request: String, answer: Answer)] = [:]
    private(set) var faults = Faults()
    private(set) var sent: [Event] = []
    private let fingerprintKey: Data

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    init(secretKey: String) {
        fingerprintKey = HMAC.sha256(key: Data(secretKey.utf8), message: Data("sandbox.fingerprint".utf8))
    }

    static func newId(_ prefix: String) -> String { prefix + "_" + Hex.encode(SecureRandom.bytes(12)) }

    static func now() -> Int { Int(Date().timeIntervalSince1970) }

    static func error(_ status: Int, type: String = "invalid_request_error", code: String, _ message: String) -> Answer {
        let body = try? encoder.encode(["error": ["type": type, "code": code, "message": message]])
        return Answer(status: status, body: body ?? Data())
    }

    static func json(_ value: some Encodable, status: Int = 200) -> Answer {
        Answer(status: status, body: (try? encoder.encode(value)) ?? Data())
    }

    // MARK: Tokens and saved cards

    /// `POST /v1/tokens`: what a processor's browser library does with a card form.
    func tokenize(number rawNumber: String, expMonth: Int, expYear: Int, cvc: String) -> Answer {
        let number = rawNumber.filter { $0 != " " && $0 != "-" }
        guard (12...19).contains(number.count), number.allSatisfy(\.isASCII), number.allSatisfy(\.isNumber), Self.luhn(number)
        else { return Self.error(402, type: "card_error", code: "invalid_number", "Your card number is invalid.") }
        let year = Calendar(identifier: .gregorian).component(.year, from: Date())
        let month = Calendar(identifier: .gregorian).component(.month, from: Date())
        guard (1...12).contains(expMonth), expYear >= year, expYear <= year + 30, expYear > year || expMonth >= month else {
            return Self.error(402, type: "card_error", code: "invalid_expiry", "Your card's expiration date is invalid.")
        }
        guard (3...4).contains(cvc.count), cvc.allSatisfy(\.isASCII), cvc.allSatisfy(\.isNumber) else {
            return Self.error(402, type: "card_error", code: "invalid_cvc", "Your card's security code is invalid.")
        }
        let card = Card(
            brand: Self.brand(of: number), last4: String(number.suffix(4)), expMonth: expMonth, expYear: expYear,
            fingerprint: String(Hex.encode(HMAC.sha256(key: fingerprintKey, message: Data(number.utf8))).prefix(16)),
            behaviour: Self.behaviour(of: number))
        let id = Self.newId("tok")
        tokens[id] = (card, false)
        struct Token: Encodable {
            var id: String
            var object = "token"
            var card: [String: String]
        }
        return Self.json(Token(id: id, card: ["brand": card.brand, "last4": card.last4]))
    }

    /// `POST /v1/payment_methods` with `card[token]`: a reusable card from a one-use token.
    func savedCard(fromToken token: String) -> Answer {
        guard let entry = tokens[token] else {
            return Self.error(400, code: "resource_missing", "No such token: '\(token.prefix(40))'")
        }
        guard !entry.used else { return Self.error(400, code: "token_already_used", "This token was used already.") }
        tokens[token]?.used = true
        let id = Self.newId("pm")
        cards[id] = entry.card
        return Self.json(Self.paymentMethod(id: id, entry.card))
    }

    static func paymentMethod(id: String, _ card: Card) -> some Encodable {
        struct PaymentMethod: Encodable {
            struct CardFields: Encodable {
                var brand: String
                var last4: String
                var expMonth: Int
                var expYear: Int
                var fingerprint: String
            }
            var id: String
            var object = "payment_method"
            var type = "card"
            var card: CardFields
        }
        return PaymentMethod(
            id: id,
            card: .init(brand: card.brand, last4: card.last4, expMonth: card.expMonth, expYear: card.expYear, fingerprint: card.fingerprint))
    }

    // MARK: Payment intents

    /// What a `POST /v1/payment_intents` asked for, and how long to wait before answering.
    struct IntentOutcome: Sendable {
        var answer: Answer
        var events: [Event]
        var answerDelay: Double
        /// A dispute to open later (the dispute test card).
        var disputeLater: Event?
    }

    /// What an idempotency key is bound to: the operation and its parameters.
    private static func signature(_ operation: String, _ form: [String: String]) -> String {
        operation + "|" + form.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "&")
    }

    /// For a key used before: its first answer again, or an error when the request differs; nil
    /// for a new key (or none).
    private func earlierAnswer(for idempotencyKey: String?, request signature: String) -> Answer? {
        guard let idempotencyKey, let earlier = idempotent[idempotencyKey] else { return nil }
        guard earlier.request == signature else {
            return Self.error(
                400, type: "idempotency_error", code: "idempotency_key_in_use",
                "Keys for idempotent requests can only be used with the same parameters they were first used with.")
        }
        return earlier.answer
    }

    /// `POST /v1/payment_intents` with `confirm=true`: charges the card at once. The same
    /// idempotency key answers the first answer again; with other parameters it is an error.
    func createIntent(idempotencyKey: String?, form: [String: String]) -> IntentOutcome {
        var delay = 0.0
        if faults.delayedAnswers > 0 {
            faults.delayedAnswers -= 1
            delay = faults.answerDelaySeconds
        }
        let signature = Self.signature("intent", form)
        if let earlier = earlierAnswer(for: idempotencyKey, request: signature) {
            return IntentOutcome(answer: earlier, events: [], answerDelay: delay)
        }
        let outcome = charge(form)
        if let idempotencyKey { idempotent[idempotencyKey] = (signature, outcome.answer) }
        return IntentOutcome(answer: outcome.answer, events: outcome.events, answerDelay: delay, disputeLater: outcome.disputeLater)
    }

    private func charge(_ form: [String: String]) -> (answer: Answer, events: [Event], disputeLater: Event?) {
        guard let amount = form["amount"].flatMap(Int.init), amount >= 50, amount <= 99_999_999 else {
            return (Self.error(400, code: "parameter_invalid_integer", "amount must be a whole number of cents, at least 50"), [], nil)
        }
        guard form["currency"] == "usd" else { return (Self.error(400, code: "parameter_invalid", "currency must be usd"), [], nil) }
        guard let method = form["payment_method"], let card = cards[method] else {
            return (Self.error(400, code: "resource_missing", "No such PaymentMethod"), [], nil)
        }
        guard form["confirm"] == "true" else {
            return (Self.error(400, code: "parameter_missing", "the sandbox confirms at once: send confirm=true"), [], nil)
        }
        var metadata: [String: String] = [:]
        for (key, value) in form where key.hasPrefix("metadata[") && key.hasSuffix("]") {
            metadata[String(key.dropFirst(9).dropLast())] = value
        }
        var intent = Intent(
            id: Self.newId("pi"), amount: amount, currency: "usd", status: "succeeded", paymentMethod: method, metadata: metadata,
            lastPaymentError: nil, created: Self.now())
        let declineCode: String? =
            switch card.behaviour {
            case .decline: "generic_decline"
            case .insufficientFunds: "insufficient_funds"
            case .succeed, .disputeLater: nil
            }
        if let declineCode {
            intent.status = "requires_payment_method"
            intent.lastPaymentError = PaymentError(code: "card_declined", declineCode: declineCode, message: "Your card was declined.")
            intents[intent.id] = intent
            let error = CardError(code: "card_declined", declineCode: declineCode, message: "Your card was declined.", paymentIntent: intent)
            let failed = Event(id: Self.newId("evt"), type: "payment_intent.payment_failed", created: Self.now(), data: .init(object: .intent(intent)))
            return (Self.json(["error": error], status: 402), [failed], nil)
        }
        intents[intent.id] = intent
        let succeeded = Event(id: Self.newId("evt"), type: "payment_intent.succeeded", created: Self.now(), data: .init(object: .intent(intent)))
        var dispute: Event?
        if card.behaviour == .disputeLater {
            let opened = Dispute(
                id: Self.newId("dp"), amount: amount, currency: "usd", paymentIntent: intent.id, reason: "fraudulent",
                status: "needs_response", created: Self.now())
            dispute = Event(id: Self.newId("evt"), type: "charge.dispute.created", created: Self.now(), data: .init(object: .dispute(opened)))
        }
        return (Self.json(intent), [succeeded], dispute)
    }

    /// `POST /v1/payouts`: accepted at once (`pending`), once per idempotency key; its outcome
    /// (`payout.paid`, or `payout.failed` when a test asked) comes later by webhook.
    func createPayout(idempotencyKey: String?, form: [String: String]) -> (answer: Answer, outcome: Event?) {
        let signature = Self.signature("payout", form)
        if let earlier = earlierAnswer(for: idempotencyKey, request: signature) { return (earlier, nil) }
        guard let amount = form["amount"].flatMap(Int.init), amount > 0, form["currency"] == "usd",
            let destination = form["destination"], !destination.isEmpty
        else { return (Self.error(400, code: "parameter_invalid", "send amount, currency=usd and destination"), nil) }
        var metadata: [String: String] = [:]
        for (key, value) in form where key.hasPrefix("metadata[") && key.hasSuffix("]") {
            metadata[String(key.dropFirst(9).dropLast())] = value
        }
        var payout = Payout(
            id: Self.newId("po"), amount: amount, currency: "usd", destination: destination, status: "pending", metadata: metadata,
            created: Self.now())
        let answer = Self.json(payout)
        if let idempotencyKey { idempotent[idempotencyKey] = (signature, answer) }
        payout.status = faults.failPayouts ? "failed" : "paid"
        let outcome = Event(
            id: Self.newId("evt"), type: faults.failPayouts ? "payout.failed" : "payout.paid", created: Self.now(),
            data: .init(object: .payout(payout)))
        return (answer, outcome)
    }

    /// `POST /v1/refunds`: gives back `amount` (the rest of the payment when left out) of a
    /// succeeded payment intent, once per idempotency key; `refund.created` follows by webhook.
    /// What the platform never asks for (its refunds are wallet credits), but a processor's own
    /// dashboard does: tests refund through here as finance would there.
    func createRefund(idempotencyKey: String?, form: [String: String]) -> (answer: Answer, created: Event?) {
        let signature = Self.signature("refund", form)
        if let earlier = earlierAnswer(for: idempotencyKey, request: signature) { return (earlier, nil) }
        guard let intentId = form["payment_intent"], let intent = intents[intentId] else {
            return (Self.error(404, code: "resource_missing", "No such payment_intent"), nil)
        }
        guard intent.status == "succeeded" else {
            return (Self.error(400, code: "charge_not_refundable", "Only a succeeded payment can be refunded."), nil)
        }
        let refundable = intent.amount - refunded[intentId, default: 0]
        let amount = form["amount"].map { Int($0) ?? 0 } ?? refundable
        guard amount > 0, amount <= refundable else {
            return (Self.error(400, code: "amount_too_large", "Refund amount (\(amount)) is greater than the unrefunded amount (\(refundable))."), nil)
        }
        refunded[intentId, default: 0] += amount
        let refund = Refund(
            id: Self.newId("re"), amount: amount, currency: intent.currency, paymentIntent: intentId, status: "succeeded", created: Self.now())
        let answer = Self.json(refund)
        if let idempotencyKey { idempotent[idempotencyKey] = (signature, answer) }
        return (answer, Event(id: Self.newId("evt"), type: "refund.created", created: Self.now(), data: .init(object: .refund(refund))))
    }

    /// `GET /v1/payment_intents/{id}`.
    func intent(_ id: String) -> Answer {
        guard let intent = intents[id] else { return Self.error(404, code: "resource_missing", "No such payment_intent") }
        return Self.json(intent)
    }

    // MARK: Faults and the record of webhooks

    func setFaults(_ faults: Faults) { self.faults = faults }

    func record(_ event: Event) { sent.append(event) }

    func event(_ id: String) -> Event? { sent.first { $0.id == id } }

    // MARK: Cards

    static func luhn(_ digits: String) -> Bool {
        var sum = 0
        for (index, character) in digits.reversed().enumerated() {
            guard var digit = character.wholeNumberValue else { return false }
            if index % 2 == 1 {
                digit *= 2
                if digit > 9 { digit -= 9 }
            }
            sum += digit
        }
        return sum % 10 == 0
    }

    static func brand(of number: String) -> String {
        if number.hasPrefix("4") { return "visa" }
        if let two = Int(number.prefix(2)), (51...55).contains(two) { return "mastercard" }
        if number.hasPrefix("34") || number.hasPrefix("37") { return "amex" }
        if number.hasPrefix("6011") || number.hasPrefix("65") { return "discover" }
        return "unknown"
    }

    /// The test cards of docs/api.md; any other valid number succeeds.
    static func behaviour(of number: String) -> Behaviour {
        switch number {
        case "4000000000000002": .decline
        case "4000000000009995": .insufficientFunds
        case "4000000000000259": .disputeLater
        default: .succeed
        }
    }
}
