public import Foundation
public import ServiceKit
import Bus
import Logging
import Models

/// The boards service: its schema, its bus handlers and the events it applies.
public enum BoardsService {
    /// Everything the service runner needs to serve boards with `settings`.
    public static func definition(settings: BoardsSettings) -> WorkerServiceDefinition {
        WorkerServiceDefinition(
            name: .boards,
            migrations: Bundle.module.url(forResource: "Migrations", withExtension: nil),
            prepare: { database, logger in
                guard settings.demoData else { return }
                let seeded = try await DemoThreads.seedIfEmpty(database)
                if seeded > 0 { logger.notice("demo threads added to empty boards", metadata: ["boards.demo": "\(seeded)"]) }
            },
            privacy: BoardsPrivacy.hooks
        ) { worker, resources in
            let handlers = BoardsHandlers(
                database: resources.database, bus: resources.bus, rules: PostingRules(settings: settings), names: PublicNameCache(),
                logger: resources.logger)
            worker.handle(Boards.ListBoards.self) { _, _ in try await handlers.boards() }
            worker.handle(Boards.ListThreads.self) { request, _ in try await handlers.threads(request) }
            worker.handle(Boards.GetThread.self) { request, _ in try await handlers.thread(request) }
            worker.handle(Boards.ListPosts.self) { try await handlers.posts($0, caller: $1.caller) }
            worker.handle(Boards.Search.self) { request, _ in try await handlers.search(request) }
            worker.handle(Boards.CreateThread.self) { try await handlers.createThread($0, caller: $1.caller) }
            worker.handle(Boards.Reply.self) { try await handlers.reply($0, caller: $1.caller) }
            worker.handle(Boards.EditPost.self) { try await handlers.edit($0, caller: $1.caller) }
            worker.handle(Boards.DeletePost.self) { try await handlers.delete($0, caller: $1.caller) }
            let moderation = BoardsModeration(
                database: resources.database, bus: resources.bus, handlers: handlers, settings: settings, logger: resources.logger)
            worker.handle(Boards.FlagPost.self) { try await moderation.flag($0, caller: $1.caller) }
            worker.handle(Boards.ModerationQueue.self) { try await moderation.queue($0, caller: $1.caller) }
            worker.handle(Boards.Decide.self) { try await moderation.decide($0, caller: $1.caller) }
            worker.handle(Boards.PostEdits.self) { try await moderation.edits($0, caller: $1.caller) }
            worker.handle(Boards.SetTier.self) { try await moderation.setTier($0, caller: $1.caller) }
            worker.handle(Boards.AssignModerator.self) { try await moderation.assign($0, caller: $1.caller) }
            let admin = BoardsAdmin(database: resources.database, logger: resources.logger)
            worker.handle(Boards.CreateBoard.self) { try await admin.create($0, caller: $1.caller) }
            worker.handle(Boards.UpdateBoard.self) { try await admin.update($0, caller: $1.caller) }
        }
    }
}
