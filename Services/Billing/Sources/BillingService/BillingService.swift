import Bus
import Foundation
public import ServiceKit
import Models

/// The billing service: its schema, its bus handlers and the events it applies.
public enum BillingService {
    /// Everything the service runner needs to serve billing with `settings`.
    public static func definition(settings: BillingSettings) -> WorkerServiceDefinition {
        WorkerServiceDefinition(
            name: .billing,
            migrations: Bundle.module.url(forResource: "Migrations", withExtension: nil),
            consumes: { _ in [ChatCharging.subscription(settings: settings)] },
            privacy: BillingPrivacy.hooks
        ) { worker, resources in
            let handlers = BillingHandlers(database: resources.database, settings: settings)
            worker.handle(Billing.Wallet.self) { _, context in try await handlers.wallet(caller: context.caller) }
            worker.handle(Billing.Statement.self) { try await handlers.statement($0, caller: $1.caller) }
            worker.handle(Billing.Earnings.self) { _, context in try await handlers.earnings(caller: context.caller) }
            worker.handle(Billing.LedgerCheck.self) { _, context in try await handlers.ledgerCheck(caller: context.caller) }
            worker.handle(Billing.AuthorizeChat.self) { try await handlers.authorizeChat($0, caller: $1.caller) }
        }
    }
}
