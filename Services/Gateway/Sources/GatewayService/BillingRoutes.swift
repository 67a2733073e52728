import Bus
import Foundation
import Hummingbird
import Models
import ServiceKit

/// The routes of docs/api.md "Billing" built so far, each one bus call to billing.
struct BillingRoutes {
    let bus: BusClient

    func register(on router: Router<GatewayRequestContext>) {
        let signedIn = router.group(context: AuthenticatedContext.self)
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
