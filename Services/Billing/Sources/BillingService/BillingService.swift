import Bus
import Foundation
public import ServiceKit
import Models
import Store

/// The billing service: its schema, its bus handlers and the events it applies.
public enum BillingService {
    /// Everything the service runner needs to serve billing with `settings`.
    public static func definition(settings: BillingSettings) -> WorkerServiceDefinition {
        WorkerServiceDefinition(
            name: .billing,
            migrations: Bundle.module.url(forResource: "Migrations", withExtension: nil),
            consumes: { _ in [ChatCharging.subscription(settings: settings)] },
            maintenance: { resources in
                let topUps = TopUpHandlers(
                    database: resources.database, bus: resources.bus, sealing: PaymentSealing(dataKey: settings.dataKey),
                    settings: settings, logger: resources.logger)
                let payouts = PayoutHandlers(database: resources.database, bus: resources.bus, settings: settings, logger: resources.logger)
                return [
                    MaintenanceTask(name: "billing.reconcile-top-ups", interval: .seconds(1)) { _ in try await topUps.reconcile() },
                    MaintenanceTask(name: "billing.expire-idempotency-keys", interval: .seconds(600)) { database in
                        try await database.withConnection { try TopUpHandlers.expireKeys(on: $0) }
                    },
                    MaintenanceTask(name: "billing.void-expired-holds", interval: .seconds(5)) { database in
                        try await database.retryingTransaction(.readCommitted) { try Ledger.voidExpiredHolds(on: $0) }
                    },
                    MaintenanceTask(name: "billing.send-payouts", interval: .seconds(2)) { _ in try await payouts.send() },
                    MaintenanceTask(name: "billing.scheduled-payouts", interval: settings.payoutRunInterval) { _ in
                        try await payouts.scheduledRun()
                    },
                ]
            },
            privacy: BillingPrivacy.hooks
        ) { worker, resources in
            let handlers = BillingHandlers(database: resources.database, settings: settings)
            let sealing = PaymentSealing(dataKey: settings.dataKey)
            let methods = PaymentMethodHandlers(database: resources.database, bus: resources.bus, sealing: sealing)
            let topUps = TopUpHandlers(
                database: resources.database, bus: resources.bus, sealing: sealing, settings: settings, logger: resources.logger)
            worker.handle(Billing.PaymentMethods.self) { _, context in try await methods.list(caller: context.caller) }
            worker.handle(Billing.AddPaymentMethod.self) { try await methods.add($0, caller: $1.caller) }
            worker.handle(Billing.RemovePaymentMethod.self) { try await methods.remove($0, caller: $1.caller) }
            worker.handle(Billing.CreateTopUp.self) { try await topUps.create($0, context: $1) }
            worker.handle(Billing.GetTopUp.self) { try await topUps.get($0, caller: $1.caller) }
            worker.handle(Billing.PaymentUpdate.self) { try await topUps.apply($0, caller: $1.caller) }
            let refunds = RefundHandlers(database: resources.database, bus: resources.bus, settings: settings)
            worker.handle(Billing.RequestRefund.self) { try await refunds.request($0, caller: $1.caller) }
            worker.handle(Billing.OverrideRefund.self) { try await refunds.override($0, caller: $1.caller) }
            let payouts = PayoutHandlers(database: resources.database, bus: resources.bus, settings: settings, logger: resources.logger)
            let tax = TaxHandlers(database: resources.database, sealing: sealing)
            let autoReload = AutoReloadHandlers(database: resources.database, settings: settings)
            worker.handle(Billing.SetAutoReload.self) { try await autoReload.set($0, caller: $1.caller) }
            worker.handle(Billing.RequestPayout.self) { try await payouts.request($0, context: $1) }
            worker.handle(Billing.Payouts.self) { try await payouts.list($0, caller: $1.caller) }
            worker.handle(Billing.PutTaxInfo.self) { try await tax.put($0, caller: $1.caller) }
            worker.handle(Billing.GetTaxInfo.self) { _, context in try await tax.get(caller: context.caller) }
            worker.handle(Billing.TaxSummary.self) { try await tax.summary($0, caller: $1.caller) }
            worker.handle(Billing.Wallet.self) { _, context in try await handlers.wallet(caller: context.caller) }
            worker.handle(Billing.Statement.self) { try await handlers.statement($0, caller: $1.caller) }
            worker.handle(Billing.Earnings.self) { _, context in try await handlers.earnings(caller: context.caller) }
            worker.handle(Billing.LedgerCheck.self) { _, context in try await handlers.ledgerCheck(caller: context.caller) }
            worker.handle(Billing.AuthorizeChat.self) { try await handlers.authorizeChat($0, caller: $1.caller) }
        }
    }
}
