import Foundation
public import ServiceKit
import Models

/// The billing service: its schema, its bus handlers and the events it applies.
public enum BillingService {
    /// Everything the service runner needs to serve billing.
    public static var definition: WorkerServiceDefinition {
        WorkerServiceDefinition(
            name: .billing,
            migrations: Bundle.module.url(forResource: "Migrations", withExtension: nil)
        ) { _, _ in }
    }
}
