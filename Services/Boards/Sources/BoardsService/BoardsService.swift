import Foundation
public import ServiceKit
import Models

/// The boards service: its schema, its bus handlers and the events it applies.
public enum BoardsService {
    /// Everything the service runner needs to serve boards.
    public static var definition: WorkerServiceDefinition {
        WorkerServiceDefinition(
            name: .boards,
            migrations: Bundle.module.url(forResource: "Migrations", withExtension: nil)
        ) { _, _ in }
    }
}
