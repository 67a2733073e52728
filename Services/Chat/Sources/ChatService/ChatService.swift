import Foundation
public import ServiceKit
import Models

/// The chat service: its schema, its bus handlers and the events it applies.
public enum ChatService {
    /// Everything the service runner needs to serve chat.
    public static var definition: WorkerServiceDefinition {
        WorkerServiceDefinition(
            name: .chat,
            migrations: Bundle.module.url(forResource: "Migrations", withExtension: nil)
        ) { _, _ in }
    }
}
