import Foundation
import Models
import Testing
import TestSupport

/// The public API against its own document, by someone else's code: schemathesis (PyPI) reads
/// the gateway's live /openapi.json and sends every operation generated requests, valid and
/// invalid, as a signed-in member, advisor and admin, with every check it has (server errors,
/// status codes, content types, response headers and schemas, negative data rejection, positive
/// data acceptance, undeclared methods, ignored authentication, object-level authorization
/// between the member and the advisor). The run must end with zero failures.
///
/// `SCHEMATHESIS` names the `st` executable; Deploy/local/test installs it (pinned) and sets it.
@Suite("Contract end to end", .serialized)
struct ContractEndToEndTests {
    @Test("schemathesis finds no failure in any operation of openapi.json")
    func schemathesisRun() async throws {
        let st = try #require(
            ProcessInfo.processInfo.environment["SCHEMATHESIS"],
            "set SCHEMATHESIS to schemathesis's `st` (Deploy/local/test installs it and sets it)")
        try await AccountsPlatform.with(payments: true, mail: true) { platform in
            let member = AccountsPlatform.email("contract-member")
            let advisor = AccountsPlatform.email("contract-advisor")
            let admin = AccountsPlatform.email("contract-admin")
            try await platform.register(email: member, role: "member")
            try await platform.register(email: advisor, role: "advisor")
            try await platform.createAdmin(email: admin, password: AccountsPlatform.password)
            // The one account offboarding is run against: an admin may disable any account, and
            // one learned from GET /v1/me would leave the run without its member.
            let adminToken = try await platform.signIn(email: admin)
            let target = try await platform.request(
                "POST", "/v1/staff/accounts", token: adminToken,
                json: [
                    "email": AccountsPlatform.email("contract-target"), "password": AccountsPlatform.password,
                    "displayName": "Offboarding target", "roles": ["support", "moderator"],
                ])
            #expect(target.status == 201, "\(target.text)")
            let targetId = try #require(target.object["id"] as? String)

            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("contract-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: folder) }
            let users = [("member", member), ("advisor", advisor), ("admin", admin)]
            try Self.authDocument(users: users).write(to: folder.appendingPathComponent("auth.json"))
            try Self.configuration(offboardingTarget: targetId)
                .write(to: folder.appendingPathComponent("schemathesis.toml"), atomically: true, encoding: .utf8)

            // One worker: with two, hypothesis once failed inside CPython 3.11's `ast.parse` run from
            // two threads ("AST constructor recursion depth mismatch", a runtime error, not a finding),
            // and one takes no longer here.
            let arguments = [
                "run", platform.gateway + "/openapi.json", "--url", platform.gateway, "--checks", "all",
                "--max-examples", ProcessInfo.processInfo.environment["SCHEMATHESIS_MAX_EXAMPLES"] ?? "40",
                "--seed", ProcessInfo.processInfo.environment["SCHEMATHESIS_SEED"] ?? "20261202",
                "--workers", "1", "--no-color",
            ]
            let log = try await Self.run(st, arguments, in: folder, platform: platform)
            #expect(!log.contains("Errored:") && !log.contains("Skipped:"), "\(log.suffix(3000))")
        }
    }

    @Test("schemathesis finds no failure in any operation of the partner API's openapi.json, on the integration port")
    func partnerSchemathesisRun() async throws {
        let st = try #require(
            ProcessInfo.processInfo.environment["SCHEMATHESIS"],
            "set SCHEMATHESIS to schemathesis's `st` (Deploy/local/test installs it and sets it)")
        try await AccountsPlatform.with(payments: true) { platform in
            let admin = try await PartnersEndToEndTests.partner(platform)
            let key = try await PartnersEndToEndTests.makeKey(
                platform, admin: admin, scopes: Accounts.PartnerScope.allCases.map(\.rawValue))
            let integration = try #require(platform.payments).integration
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("partner-contract-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: folder) }
            // A report's `to` before its `from`, or more than 92 days after it: 422 to schema-valid dates;
            // a code another partner holds: 409. Schemathesis sends one Idempotency-Key value with
            // several bodies, rightly 422 `idempotency_key_reused`; a replay naming both a message
            // and a time is 422 too; an endpoint deleted by an earlier step is 404.
            try """
                [[operations]]
                include-operation-id = [
                    "referralReport", "createReferralCode", "createWebhookEndpoint", "rotateWebhookSecret", "testWebhookEndpoint",
                    "replayWebhooks",
                ]
                checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422", "429"]
                """.write(to: folder.appendingPathComponent("schemathesis.toml"), atomically: true, encoding: .utf8)
            let arguments = [
                "run", integration + "/openapi.json", "--url", integration, "--checks", "all",
                "--header", "Authorization: Bearer \(key.secret)",
                "--max-examples", ProcessInfo.processInfo.environment["SCHEMATHESIS_MAX_EXAMPLES"] ?? "40",
                "--seed", ProcessInfo.processInfo.environment["SCHEMATHESIS_SEED"] ?? "20261202",
                "--workers", "1", "--no-color",
            ]
            _ = try await Self.run(st, arguments, in: folder, platform: platform)
        }
    }

    /// Runs schemathesis with `arguments` in `folder`; expects it to pass with every operation
    /// tested (none filtered out); its log.
    static func run(_ st: String, _ arguments: [String], in folder: URL, platform: AccountsPlatform) async throws -> String {
        let output = folder.appendingPathComponent("schemathesis.log")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let handle = try FileHandle(forWritingTo: output)
        let run = try ChildProcess(
            URL(fileURLWithPath: st), arguments: arguments, directory: folder, standardOutput: handle.fileDescriptor,
            standardError: handle.fileDescriptor)
        let status = await run.exitStatus()
        try handle.close()
        let log = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        #expect(status == 0, "schemathesis failed:\n\(log.suffix(20_000))\n\(platform.harness.logs())")
        // Every operation was run: none filtered out.
        let selected = log.firstMatch(of: /Selected: (\d+)\/(\d+)/)
        let tested = log.firstMatch(of: /Tested: (\d+)/)
        #expect(selected != nil && selected?.1 == selected?.2 && tested?.1 == selected?.1, "\(log.suffix(3000))")
        return log
    }

    /// A Web Fuzzing Commons auth document: each user signs in through POST /v1/sessions, and
    /// schemathesis signs in again when a session ends (sign-out is one of the operations).
    static func authDocument(users: [(name: String, email: String)]) throws -> Data {
        let entries: [[String: Any]] = users.map { user in
            [
                "name": user.name,
                "loginEndpointAuth": [
                    "endpoint": "/v1/sessions", "verb": "POST", "contentType": "application/json",
                    "payloadUserPwd": [
                        "username": user.email, "usernameField": "email",
                        "password": AccountsPlatform.password, "passwordField": "password",
                    ],
                    "token": [
                        "extractFrom": "body", "extractSelector": "/token", "sendIn": "header",
                        "sendName": "Authorization", "sendTemplate": "Bearer {token}",
                    ],
                ],
            ]
        }
        return try JSONSerialization.data(withJSONObject: ["auth": entries], options: [.prettyPrinted])
    }

    static func configuration(offboardingTarget: String) -> String {
        """
        [auth]
        auto-signup = false

        [auth.wfc]
        path = "auth.json"
        # The member and the advisor must never see each other's objects.
        peers = ["member", "advisor"]

        # Rules no JSON Schema can state (the caller's current password, a cursor this server
        # issued, the policy version in force, a registered partner, a common password, text that
        # is only spaces, an offboarding that changes nothing, a price within the platform's bounds, an expiry date
        # not yet past, a first board post without the public notice acknowledged, more links than a
        # new person may post) answer 422 to schema-valid requests; a new person's posts past the
        # day's limit answer 429.
        [[operations]]
        include-operation-id = [
            "register", "updateProfile", "eraseMe", "signIns", "accessLog", "consentHistory", "acceptPolicy",
            "setConsents", "createStaff", "staffViewAccount", "registerPartner",
            "searchAdvisors", "advisorReviews", "favorites", "updateAdvisorProfile", "submitCredential", "pendingCredentials",
            "decideCredential", "reviewReports", "replyToReview", "chatHistory", "sendChatMessage",
            "staffChatTranscript", "statement",
            "searchBoards", "listBoardThreads", "listBoardPosts", "startBoardThread", "replyInThread", "editBoardPost",
            "flagBoardPost", "moderationQueue", "decideBoardPost", "createBoard", "changeBoard", "setBoardTier", "clearBoardTier",
            "boardPostEdits", "replaceNotificationSettings", "markNotificationsRead",
            "createCampaign", "unsubscribePage", "unsubscribe", "verifyPhone", "createPartnerKey", "listPartnerKeys", "revokePartnerKey",
        ]
        checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422", "429"]

        # Offboarding acts on one account made for it, never on the run's own users; legal exports
        # are made of that account too, so that they find it.
        [[operations]]
        include-operation-id = ["offboardStaff", "legalExport"]
        parameters = { id = "\(offboardingTarget)" }
        checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422", "429"]

        # The stream is a WebSocket: a plain GET that passes every check is told to upgrade (426).
        [[operations]]
        include-operation-id = "openStream"
        checks.positive_data_acceptance.expected-statuses = ["401", "403", "422", "426"]

        # Each sign-out ends the session the next request signs in again for, and sign-ins are
        # limited to 10 per address and account in 15 minutes.
        [[operations]]
        include-operation-id = "signOut"
        generation.max-examples = 3
        """
    }
}
