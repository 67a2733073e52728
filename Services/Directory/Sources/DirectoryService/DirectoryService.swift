import Foundation
public import ServiceKit
import Models

/// The directory service: its schema, its bus handlers and the events it applies.
public enum DirectoryService {
    /// Everything the service runner needs to serve directory.
    public static var definition: WorkerServiceDefinition {
        WorkerServiceDefinition(
            name: .directory,
            migrations: Bundle.module.url(forResource: "Migrations", withExtension: nil)
        ) { _, _ in }
    }
}
