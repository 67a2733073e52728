import Bus
import Foundation
import HTTPTypes
import Hummingbird
import Models
import ServiceKit

/// The routes of docs/api.md "Billing" built so far, each one bus call to billing.
struct BillingRoutes {
    let bus: BusClient

    /// `POST /v1/me/payment-methods` body.
    struct PaymentMethodBody: JSONRequestBody {
        var processorToken: String
        enum CodingKeys: String, CodingKey, CaseIterable { case processorToken }
    }

    /// `PUT /v1/me/wallet/auto-reload` body.
    struct AutoReloadBody: JSONRequestBody {
        var enabled: Bool
        var thresholdCents: Int
        var amountCents: Int
        var paymentMethodId: UUID
        enum CodingKeys: String, CodingKey, CaseIterable { case enabled, thresholdCents, amountCents, paymentMethodId }
    }

    /// `POST /v1/me/top-ups` body.
    struct TopUpBody: JSONRequestBody {
        var amountCents: Int
        var paymentMethodId: UUID
        enum CodingKeys: String, CodingKey, CaseIterable { case amountCents, paymentMethodId }
    }

    /// `POST /v1/chats/{id}/refund-requests` body.
    struct RefundBody: JSONRequestBody {
        var reason: String
        enum CodingKeys: String, CodingKey, CaseIterable { case reason }
    }

    /// `POST /v1/staff/refunds` body.
    struct OverrideBody: JSONRequestBody {
        var chatId: UUID
        var amountCents: Int
        var reason: String
        enum CodingKeys: String, CodingKey, CaseIterable { case chatId, amountCents, reason }
    }

    /// `POST /v1/advisors/me/payouts` body.
    struct PayoutBody: JSONRequestBody {
        var amountCents: Int
        enum CodingKeys: String, CodingKey, CaseIterable { case amountCents }
    }

    /// `PUT /v1/advisors/me/tax-info` body.
    struct TaxInfoBody: JSONRequestBody {
        var fields: Billing.TaxInfoFields
        var taxId: String
        var certified: Bool
        enum CodingKeys: String, CodingKey, CaseIterable { case fields, taxId, certified }
    }

    /// A POST that moves money needs its `Idempotency-Key` (400 without), 1 to 255 visible characters.
    static func idempotencyKey(of request: Request) throws -> String {
        guard let key = request.headers[HTTPField.Name("Idempotency-Key")!], (1...255).contains(key.utf8.count),
            key.unicodeScalars.allSatisfy({ (0x21...0x7E).contains($0.value) })
        else {
            throw ServiceError(.badRequest, "send an Idempotency-Key header (1 to 255 visible ASCII characters), new for each attempt")
        }
        return key
    }

    func register(on router: Router<GatewayRequestContext>) {
        let signedIn = router.group(context: AuthenticatedContext.self)
        signedIn.put("v1/me/wallet/auto-reload") { request, context in
            let body = try await JSONBody.decode(AutoReloadBody.self, from: request)
            let order = Billing.SetAutoReload.Request(
                enabled: body.enabled, thresholdCents: body.thresholdCents, amountCents: body.amountCents,
                paymentMethodId: body.paymentMethodId)
            return JSONBody.relay(try await bus.callReturningJSON(Billing.SetAutoReload.self, order, as: context.caller))
        }
        signedIn.get("v1/me/payment-methods") { _, context in
            JSONBody.relay(try await bus.callReturningJSON(Billing.PaymentMethods.self, Empty(), as: context.caller))
        }
        signedIn.post("v1/me/payment-methods") { request, context in
            let body = try await JSONBody.decode(PaymentMethodBody.self, from: request)
            return JSONBody.relay(
                try await bus.callReturningJSON(
                    Billing.AddPaymentMethod.self, .init(processorToken: body.processorToken), as: context.caller),
                status: .created)
        }
        signedIn.delete("v1/me/payment-methods/{id}") { _, context in
            let id = try RouteParameters.id("id", in: context.parameters)
            _ = try await bus.call(Billing.RemovePaymentMethod.self, .init(id: id), as: context.caller)
            return Response(status: .noContent)
        }
        signedIn.post("v1/me/top-ups") { request, context in
            let key = try Self.idempotencyKey(of: request)
            let body = try await JSONBody.decode(TopUpBody.self, from: request)
            return JSONBody.relay(
                try await bus.callReturningJSON(
                    Billing.CreateTopUp.self, .init(amountCents: body.amountCents, paymentMethodId: body.paymentMethodId),
                    as: context.caller, idempotencyKey: key),
                status: .created)
        }
        signedIn.post("v1/chats/{id}/refund-requests") { request, context in
            let id = try RouteParameters.id("id", in: context.parameters)
            let body = try await JSONBody.decode(RefundBody.self, from: request)
            return JSONBody.relay(
                try await bus.callReturningJSON(Billing.RequestRefund.self, .init(chatId: id, reason: body.reason), as: context.caller),
                status: .created)
        }
        signedIn.post("v1/staff/refunds") { request, context in
            let body = try await JSONBody.decode(OverrideBody.self, from: request)
            return JSONBody.relay(
                try await bus.callReturningJSON(
                    Billing.OverrideRefund.self, .init(chatId: body.chatId, amountCents: body.amountCents, reason: body.reason),
                    as: context.caller),
                status: .created)
        }
        signedIn.post("v1/advisors/me/payouts") { request, context in
            let key = try Self.idempotencyKey(of: request)
            let body = try await JSONBody.decode(PayoutBody.self, from: request)
            return JSONBody.relay(
                try await bus.callReturningJSON(
                    Billing.RequestPayout.self, .init(amountCents: body.amountCents), as: context.caller, idempotencyKey: key),
                status: .created)
        }
        signedIn.get("v1/advisors/me/payouts") { request, context in
            let page = try RouteParameters.page(from: request)
            return JSONBody.relay(try await bus.callReturningJSON(Billing.Payouts.self, page, as: context.caller))
        }
        signedIn.get("v1/advisors/me/tax-info") { _, context in
            JSONBody.relay(try await bus.callReturningJSON(Billing.GetTaxInfo.self, Empty(), as: context.caller))
        }
        signedIn.put("v1/advisors/me/tax-info") { request, context in
            let body = try await JSONBody.decode(TaxInfoBody.self, from: request)
            return JSONBody.relay(
                try await bus.callReturningJSON(
                    Billing.PutTaxInfo.self, .init(fields: body.fields, taxId: body.taxId, certified: body.certified), as: context.caller))
        }
        signedIn.get("v1/advisors/me/tax-summary") { request, context in
            guard let text = try RouteParameters.query("year", in: request), let year = Int(text) else {
                throw RouteParameters.invalidQuery("year")
            }
            return JSONBody.relay(try await bus.callReturningJSON(Billing.TaxSummary.self, .init(year: year), as: context.caller))
        }
        signedIn.get("v1/me/top-ups/{id}") { _, context in
            let id = try RouteParameters.id("id", in: context.parameters)
            return JSONBody.relay(try await bus.callReturningJSON(Billing.GetTopUp.self, .init(id: id), as: context.caller))
        }
        signedIn.get("v1/me/wallet") { _, context in
            JSONBody.relay(try await bus.callReturningJSON(Billing.Wallet.self, Empty(), as: context.caller))
        }
        signedIn.get("v1/me/statement") { request, context in
            let page = try RouteParameters.page(from: request)
            return JSONBody.relay(try await bus.callReturningJSON(Billing.Statement.self, page, as: context.caller))
        }
        signedIn.get("v1/advisors/me/earnings") { _, context in
            JSONBody.relay(try await bus.callReturningJSON(Billing.Earnings.self, Empty(), as: context.caller))
        }
        signedIn.get("v1/staff/ledger/check") { _, context in
            JSONBody.relay(try await bus.callReturningJSON(Billing.LedgerCheck.self, Empty(), as: context.caller))
        }
    }
}
