public import Foundation
public import ServiceKit
import Bus
import Logging
import Models

/// The directory service: its schema, its bus handlers and the events it applies.
public enum DirectoryService {
    /// Everything the service runner needs to serve directory with `settings`.
    public static func definition(settings: DirectorySettings) -> WorkerServiceDefinition {
        let records = AdvisorRecords(graceSeconds: settings.presenceGraceSeconds)
        return WorkerServiceDefinition(
            name: .directory,
            migrations: Bundle.module.url(forResource: "Migrations", withExtension: nil),
            prepare: { database, logger in
                guard settings.demoData else { return }
                let seeded = try await DemoData.seedIfEmpty(database)
                if seeded > 0 { logger.notice("demo advisors added to an empty directory", metadata: ["directory.demo": "\(seeded)"]) }
            },
            consumes: { _ in DirectoryEvents.subscriptions },
            maintenance: { resources in
                [Presence.expiry(graceSeconds: settings.presenceGraceSeconds), PublicNames.refresh(bus: resources.bus)]
                    + (settings.demoData ? [DemoData.presence()] : [])
            },
            privacy: DirectoryPrivacy.hooks(records: records)
        ) { worker, resources in
            let handlers = DirectoryHandlers(
                database: resources.database, bus: resources.bus, settings: settings, logger: resources.logger)
            worker.handle(Directory.Categories.self) { _, _ in try await handlers.categories() }
            worker.handle(Directory.Search.self) { request, _ in try await handlers.search(request) }
            worker.handle(Directory.GetAdvisor.self) { try await handlers.advisor($0, caller: $1.caller) }
            worker.handle(Directory.MyProfile.self) { _, context in try await handlers.myProfile(caller: context.caller) }
            worker.handle(Directory.UpdateProfile.self) { try await handlers.updateProfile($0, caller: $1.caller) }
            worker.handle(Directory.SetStatus.self) { try await handlers.setStatus($0, caller: $1.caller) }
            worker.handle(Directory.Engage.self) { try await handlers.engage($0, caller: $1.caller) }
            worker.handle(Directory.PostReview.self) { try await handlers.postReview($0, caller: $1.caller) }
            worker.handle(Directory.ListReviews.self) { request, _ in try await handlers.reviews(request) }
            worker.handle(Directory.ReplyToReview.self) { try await handlers.reply($0, caller: $1.caller) }
            worker.handle(Directory.ReportReview.self) { try await handlers.reportReview($0, caller: $1.caller) }
            worker.handle(Directory.ReviewReports.self) { try await handlers.reviewReports($0, caller: $1.caller) }
            worker.handle(Directory.DecideReview.self) { try await handlers.decideReview($0, caller: $1.caller) }
            worker.handle(Directory.SetFavorite.self) { try await handlers.setFavorite($0, caller: $1.caller) }
            worker.handle(Directory.RemoveFavorite.self) { try await handlers.removeFavorite($0, caller: $1.caller) }
            worker.handle(Directory.ListFavorites.self) { try await handlers.favorites($0, caller: $1.caller) }
            worker.handle(Directory.SubmitCredential.self) { try await handlers.submitCredential($0, caller: $1.caller) }
            worker.handle(Directory.MyCredentials.self) { _, context in try await handlers.myCredentials(caller: context.caller) }
            worker.handle(Directory.RemoveCredential.self) { try await handlers.removeCredential($0, caller: $1.caller) }
            worker.handle(Directory.PendingCredentials.self) { try await handlers.pendingCredentials($0, caller: $1.caller) }
            worker.handle(Directory.DecideCredential.self) { try await handlers.decideCredential($0, caller: $1.caller) }
            worker.handle(Directory.CredentialForVerification.self) { try await handlers.credentialForVerification($0, caller: $1.caller) }
            worker.handle(Directory.RecordVerification.self) { try await handlers.recordVerification($0, caller: $1.caller) }
        }
    }
}
