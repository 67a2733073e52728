import Foundation
public import ServiceKit
import Models

/// The notifications service: its schema, its bus handlers and the events it applies.
public enum NotificationsService {
    /// Everything the service runner needs to serve notifications.
    public static var definition: WorkerServiceDefinition {
        WorkerServiceDefinition(
            name: .notifications,
            migrations: Bundle.module.url(forResource: "Migrations", withExtension: nil)
        ) { _, _ in }
    }
}
