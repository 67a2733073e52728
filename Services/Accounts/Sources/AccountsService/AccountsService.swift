public import Foundation
public import ServiceKit
import Bus
import Models

/// The accounts service: its schema, its bus handlers and the events it applies.
public enum AccountsService {
    /// The folder of the service's migrations.
    public static var migrations: URL? { Bundle.module.url(forResource: "Migrations", withExtension: nil) }

    /// Everything the service runner needs to serve accounts with `settings`.
    public static func definition(settings: AccountsSettings) -> WorkerServiceDefinition {
        WorkerServiceDefinition(
            name: .accounts, migrations: migrations,
            migrate: { database in try await AccountsCommands.migrateSchema(database, settings: settings) },
            consumes: { _ in
                AccountsHandlers.erasureConfirmations(audit: settings.audit)
                    + AccountsHandlers.referralActivity(records: AccountRecords(settings: settings))
            },
            maintenance: { _ in AccountsRetention.tasks },
            privacy: PrivacyExport.hooks(records: AccountRecords(settings: settings)),
            // Accounts starts erasures and collects the confirmations; it does not follow its own event.
            followsErasures: false
        ) { worker, resources in
            register(
                on: worker, handlers: AccountsHandlers(database: resources.database, settings: settings, logger: resources.logger, bus: resources.bus))
        }
    }

    static func register(on worker: ServiceWorker, handlers: AccountsHandlers) {
        // Every operation that derives a password hash shares most of the slots; the rest are
        // always free for session checks, which every signed-in request needs.
        let hashing = worker.share("password-hashing", reserving: max(1, worker.slots / 4))
        worker.handle(Accounts.Register.self, within: hashing) {
            try await handlers.register($0, caller: $1.caller, deadline: $1.deadline)
        }
        worker.handle(Accounts.SignIn.self, within: hashing) { try await handlers.signIn($0, deadline: $1.deadline) }
        worker.handle(Accounts.SignOut.self) { request, _ in try await handlers.signOut(request) }
        worker.handle(Accounts.SocialSignIn.self) { try await handlers.socialSignIn($0, deadline: $1.deadline) }
        worker.handle(Accounts.SocialLink.self, within: hashing) { try await handlers.socialLink($0, deadline: $1.deadline) }
        worker.handle(Accounts.SocialRegister.self, within: hashing) {
            try await handlers.socialRegister($0, caller: $1.caller, deadline: $1.deadline)
        }
        worker.handle(Accounts.SocialIdentities.self) { _, context in try await handlers.socialIdentities(caller: context.caller) }
        worker.handle(Accounts.SocialUnlink.self) { try await handlers.socialUnlink($0, caller: $1.caller) }
        worker.handle(Accounts.Authenticate.self) { request, _ in try await handlers.authenticate(request) }
        worker.handle(Accounts.Me.self) { _, context in try await handlers.me(caller: context.caller) }
        worker.handle(Accounts.UpdateProfile.self, within: hashing) {
            try await handlers.updateProfile($0, caller: $1.caller, deadline: $1.deadline)
        }
        worker.handle(Accounts.GetConsents.self) { try await handlers.consents($0, caller: $1.caller) }
        worker.handle(Accounts.SetConsents.self) { try await handlers.setConsents($0, caller: $1.caller) }
        worker.handle(Accounts.ListPartners.self) { _, _ in try await handlers.partners() }
        worker.handle(Accounts.RegisterPartner.self) { try await handlers.registerPartner($0, caller: $1.caller) }
        worker.handle(Accounts.SetPartnerContact.self) { try await handlers.setPartnerContact($0, caller: $1.caller) }
        worker.handle(Accounts.PartnerContacts.self) { try await handlers.partnerContacts($0, caller: $1.caller) }
        worker.handle(Accounts.ConsentHistory.self) { try await handlers.consentHistory($0, caller: $1.caller) }
        worker.handle(Accounts.CurrentPolicy.self) { _, _ in try await handlers.currentPolicy() }
        worker.handle(Accounts.AcceptPolicy.self) { try await handlers.acceptPolicy($0, caller: $1.caller) }
        worker.handle(Accounts.PublishPolicy.self) { try await handlers.publishPolicy($0, caller: $1.caller) }
        worker.handle(Accounts.SignInHistory.self) { try await handlers.signIns($0, caller: $1.caller) }
        worker.handle(Accounts.AccessLog.self) { try await handlers.accessLog($0, caller: $1.caller) }
        worker.handle(Accounts.CreateStaff.self, within: hashing) {
            try await handlers.createStaff($0, caller: $1.caller, deadline: $1.deadline)
        }
        worker.handle(Accounts.StaffOffboard.self) { try await handlers.staffOffboard($0, caller: $1.caller) }
        worker.handle(Accounts.StaffViewAccount.self) { try await handlers.staffViewAccount($0, caller: $1.caller) }
        worker.handle(Accounts.RequestErasure.self, within: hashing) {
            try await handlers.requestErasure($0, caller: $1.caller, deadline: $1.deadline)
        }
        worker.handle(Accounts.ErasureStatus.self) { try await handlers.erasureStatus($0, caller: $1.caller) }
        worker.handle(Accounts.PublicNames.self) { try await handlers.publicNames($0, caller: $1.caller) }
        worker.handle(Accounts.Contacts.self) { try await handlers.contacts($0, caller: $1.caller) }
        worker.handle(Accounts.VerifyPhone.self) { try await handlers.verifyPhone($0, caller: $1.caller) }
        worker.handle(Accounts.SMSOptOut.self) { try await handlers.smsOptOut($0, caller: $1.caller) }
        worker.handle(Accounts.CreatePartnerKey.self) { try await handlers.createPartnerKey($0, caller: $1.caller) }
        worker.handle(Accounts.ListPartnerKeys.self) { try await handlers.partnerKeys($0, caller: $1.caller) }
        worker.handle(Accounts.RevokePartnerKey.self) { try await handlers.revokePartnerKey($0, caller: $1.caller) }
        worker.handle(Accounts.AuthenticatePartnerKey.self) { try await handlers.authenticatePartnerKey($0, caller: $1.caller) }
        worker.handle(Accounts.CreateReferralCode.self) { try await handlers.createReferralCode($0, context: $1) }
        worker.handle(Accounts.ListReferralCodes.self) { try await handlers.referralCodes($0, caller: $1.caller) }
        worker.handle(Accounts.ReferralReport.self) { try await handlers.referralReport($0, caller: $1.caller) }
        worker.handle(Accounts.OAuthClient.self) { request, _ in try await handlers.oauthClient(request) }
        worker.handle(Accounts.SetRedirectURIs.self) { try await handlers.setRedirectURIs($0, caller: $1.caller) }
        worker.handle(Accounts.Authorize.self) { try await handlers.authorize($0, caller: $1.caller) }
        worker.handle(Accounts.Token.self) { request, _ in try await handlers.oauthToken(request) }
        worker.handle(Accounts.RevokeToken.self) { request, _ in try await handlers.revokeOAuthToken(request) }
        worker.handle(Accounts.OAuthUser.self) { try await handlers.oauthUser($0, caller: $1.caller) }
        worker.handle(Accounts.Grants.self) { _, context in try await handlers.oauthGrants(caller: context.caller) }
        worker.handle(Accounts.WithdrawGrant.self) { try await handlers.withdrawGrant($0, caller: $1.caller) }
        worker.handle(Accounts.MarketingAudience.self) { try await handlers.marketingAudience($0, caller: $1.caller) }
        worker.handle(Accounts.RecordStaffAccess.self) { try await handlers.recordStaffAccess($0, caller: $1.caller) }
    }
}
