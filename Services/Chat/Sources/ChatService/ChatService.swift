public import Foundation
public import ServiceKit
import Bus
import Models

/// The chat service: its schema, its bus handlers and the events it applies.
public enum ChatService {
    /// Everything the service runner needs to serve chat with `settings`.
    public static func definition(settings: ChatSettings) -> WorkerServiceDefinition {
        let sealing = TranscriptSealing(dataKey: settings.dataKey)
        return WorkerServiceDefinition(
            name: .chat,
            migrations: Bundle.module.url(forResource: "Migrations", withExtension: nil),
            consumes: { resources in [ChatClock.billingSubscription(streams: resources.streams)] },
            maintenance: { resources in
                [
                    ChatExpiry.task(bus: resources.bus, streams: resources.streams, logger: resources.logger),
                    ChatRelease.task(bus: resources.bus, streams: resources.streams, logger: resources.logger),
                    ChatClock.task(
                        silenceSeconds: settings.silenceSeconds, pauseSeconds: settings.pauseSeconds, bus: resources.bus,
                        streams: resources.streams, logger: resources.logger),
                ]
            },
            privacy: ChatPrivacy.hooks(sealing: sealing)
        ) { worker, resources in
            let handlers = ChatHandlers(
                database: resources.database, bus: resources.bus, streams: resources.streams, settings: settings,
                logger: resources.logger)
            worker.handle(Chat.RequestChat.self) { try await handlers.request($0, caller: $1.caller) }
            worker.handle(Chat.Accept.self) { try await handlers.accept($0, caller: $1.caller) }
            worker.handle(Chat.Decline.self) { try await handlers.decline($0, caller: $1.caller) }
            worker.handle(Chat.End.self) { try await handlers.end($0, caller: $1.caller) }
            worker.handle(Chat.Get.self) { try await handlers.get($0, caller: $1.caller) }
            worker.handle(Chat.History.self) { try await handlers.history($0, caller: $1.caller) }
            worker.handle(Chat.Send.self) { try await handlers.send($0, caller: $1.caller) }
            worker.handle(Chat.Messages.self) { try await handlers.messages($0, caller: $1.caller) }
            worker.handle(Chat.Typing.self) { try await handlers.typing($0, caller: $1.caller) }
            worker.handle(Chat.MarkRead.self) { try await handlers.markRead($0, caller: $1.caller) }
            worker.handle(Chat.StaffTranscript.self) { try await handlers.staffTranscript($0, caller: $1.caller) }
        }
    }
}
