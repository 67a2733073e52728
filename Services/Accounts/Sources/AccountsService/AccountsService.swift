import Foundation
public import ServiceKit
import Models

/// The accounts service: its schema, its bus handlers and the events it applies.
public enum AccountsService {
    /// Everything the service runner needs to serve accounts.
    public static var definition: WorkerServiceDefinition {
        WorkerServiceDefinition(
            name: .accounts,
            migrations: Bundle.module.url(forResource: "Migrations", withExtension: nil)
        ) { _, _ in }
    }
}
