import Foundation
import Logging
import Models
import Store
import Testing
import TestSupport

/// Email from the notifications service through a real SMTP server (the sandbox's), read back
/// from the sandbox's inbox: the welcome message, retries while the relay refuses for a while,
/// a hard bounce.
@Suite(.timeLimit(.minutes(3)))
struct EmailEndToEndTests {
    static let environment: [ServiceName: [String: String]] = [.notifications: ["NOTIFICATIONS_RETRY_SECONDS": "1"]]

    /// The messages the sandbox's mail server kept for `address`.
    static func inbox(_ platform: AccountsPlatform, _ address: String) async throws -> [[String: Any]] {
        let mail = try #require(platform.mail)
        let answer = try #require(
            await HTTP.get("\(mail.sandbox)/v1/sandbox/mail?to=\(address.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)"))
        return (try JSONSerialization.jsonObject(with: answer.body) as? [String: Any])?["messages"] as? [[String: Any]] ?? []
    }

    static func header(_ message: [String: Any], _ name: String) -> String? {
        (message["headers"] as? [[String: String]])?.first { $0["name"]?.lowercased() == name.lowercased() }?["value"]
    }

    @Test("a newcomer gets a welcome email with a text and an HTML part, their name, and a Message-ID; once")
    func welcome() async throws {
        try await AccountsPlatform.with(serviceEnvironment: Self.environment, mail: true) { platform in
            let email = AccountsPlatform.email("welcome")
            _ = try await platform.register(email: email, displayName: "Zoë Étoile", role: "advisor")
            try await eventually("the welcome email arrives") { try await Self.inbox(platform, email).count == 1 }
            let message = try #require(try await Self.inbox(platform, email).first)
            #expect(message["subject"] as? String == "Welcome to Advisor Platform")
            #expect((message["text"] as? String)?.contains("Hello Zoë Étoile,") == true, "\(message["text"] ?? "")")
            #expect((message["text"] as? String)?.contains("Your advisor account is ready") == true)
            #expect((message["html"] as? String)?.contains("<p>Hello Zoë Étoile,</p>") == true)
            #expect(Self.header(message, "From") == "\"Advisor Platform\" <no-reply@advisor.test>")
            #expect(Self.header(message, "Message-ID")?.hasSuffix("@advisor.test>") == true)
            #expect((Self.header(message, "Content-Type") ?? "").hasPrefix("multipart/alternative"))

            // Names with markup are escaped in the HTML part and kept as written in the text part.
            let marked = AccountsPlatform.email("markup")
            _ = try await platform.register(email: marked, displayName: "Ana <b>&</b> Co")
            try await eventually("the second welcome arrives") { try await Self.inbox(platform, marked).count == 1 }
            let second = try #require(try await Self.inbox(platform, marked).first)
            #expect((second["html"] as? String)?.contains("Hello Ana &lt;b&gt;&amp;&lt;/b&gt; Co,") == true, "\(second["html"] ?? "")")
            #expect((second["text"] as? String)?.contains("Hello Ana <b>&</b> Co,") == true)
            #expect(try await Self.inbox(platform, email).count == 1, "sent once")
        }
    }

    @Test("while the relay refuses for a while (4xx), the email waits and goes once it recovers; a refused recipient is a hard bounce")
    func retriesAndBounces() async throws {
        try await AccountsPlatform.with(serviceEnvironment: Self.environment, mail: true) { platform in
            let mail = try #require(platform.mail)
            let failures = await HTTP.request(
                "POST", "\(mail.sandbox)/v1/sandbox/mail/failures", headers: ["Content-Type": "application/json"],
                body: Data(#"{"count": 2, "code": 451}"#.utf8))
            #expect(failures?.status == 204)
            let email = AccountsPlatform.email("patient")
            _ = try await platform.register(email: email)
            try await eventually("the email arrives after the relay recovers", timeout: .seconds(30)) {
                try await Self.inbox(platform, email).count == 1
            }
            let notifications = Database(platform.harness.database.config(schema: "notifications"), logger: Logger(label: "test"))
            defer { Task { await notifications.close() } }
            let sent = try await notifications.withConnection { connection in
                try connection.queryOne("SELECT status, attempts FROM deliveries WHERE status = 'sent'")
            }
            #expect(try sent?.decode("attempts", as: Int.self) == 3, "two refusals, then the send")

            let bouncing = "bounce@example.com"
            _ = try await platform.register(email: bouncing)
            try await eventually("the bounce is recorded") {
                try await notifications.withConnection { connection in
                    try connection.queryOne(
                        "SELECT (SELECT count(*) FROM deliveries WHERE status = 'failed') + (SELECT count(*) FROM undeliverable_addresses) AS n"
                    )?.decode("n", as: Int.self) == 2
                }
            }
            #expect(try await Self.inbox(platform, bouncing).isEmpty)
        }
    }
}
