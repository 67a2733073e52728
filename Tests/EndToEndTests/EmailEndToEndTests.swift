import Foundation
import Logging
import Models
import PlatformSecurity
import Store
import Testing
import TestSupport

/// Email from the notifications service through a real SMTP server (the sandbox's), read back
/// from the sandbox's inbox: the welcome message, retries while the relay refuses for a while,
/// a hard bounce.
// One at a time: each starts a whole platform with a mail server, and eight at once beside the
// rest of the end-to-end round overloaded the two cores.
@Suite(.serialized, .timeLimit(.minutes(3)))
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
            // The relay has the message a moment before the sender records it as sent.
            var attempts: Int?
            try await eventually("the delivery is recorded as sent") {
                attempts = try await notifications.withConnection { connection in
                    try connection.queryOne("SELECT attempts FROM deliveries WHERE status = 'sent'")?.decode("attempts", as: Int.self)
                }
                return attempts != nil
            }
            #expect(attempts == 3, "two refusals, then the send")

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

    @Test("security notices: a sign-in from a new device, a new password, a new address (told at the old one too), by email and in the app")
    func securityNotices() async throws {
        try await AccountsPlatform.with(mail: true) { platform in
            let email = AccountsPlatform.email("careful")
            _ = try await platform.register(email: email, displayName: "Careful")
            let subject = "Security notice about your Advisor Platform account"
            func notices(_ address: String) async throws -> [[String: Any]] {
                try await Self.inbox(platform, address).filter { $0["subject"] as? String == subject }
            }
            let token = try await platform.signIn(email: email)
            _ = try await platform.signIn(email: email)
            // The first sign-in and the same device again say nothing; a new device does.
            _ = try await platform.signIn(email: email, userAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0")
            try await eventually("the new sign-in is told by email") { try await notices(email).count == 1 }
            #expect((try await notices(email).first?["text"] as? String)?.contains("from a device or network it had not been used from before") == true)
            let inbox = try await platform.request("GET", "/v1/me/notifications", token: token)
            #expect(inbox.items.first?["kind"] as? String == "security_notice", "\(inbox.text)")

            let newPassword = "a much longer passphrase 2026"
            let changed = try await platform.request(
                "PATCH", "/v1/me", token: token, json: ["password": newPassword, "currentPassword": AccountsPlatform.password])
            #expect(changed.status == 200, "\(changed.text)")
            try await eventually("the new password is told") { try await notices(email).count == 2 }
            #expect((try await notices(email).last?["text"] as? String)?.contains("password of your Advisor Platform account was changed") == true)

            let newEmail = AccountsPlatform.email("moved")
            let moved = try await platform.request("PATCH", "/v1/me", token: token, json: ["email": newEmail, "currentPassword": newPassword])
            #expect(moved.status == 200, "\(moved.text)")
            try await eventually("both addresses are told of the change") {
                let toNew = try await notices(newEmail).count
                let toOld = try await notices(email).count
                return toNew == 1 && toOld == 3
            }
            #expect((try await notices(email).last?["text"] as? String)?.contains("email address of your Advisor Platform account was changed") == true)
        }
    }

    @Test("favorite advisors coming online become one digest email after a short wait; quiet hours hold it until they end")
    func favoriteOnlineDigest() async throws {
        let environment: [ServiceName: [String: String]] = [.notifications: ["NOTIFICATIONS_DIGEST_SECONDS": "6"]]
        try await AccountsPlatform.with(serviceEnvironment: environment, mail: true) { platform in
            let followerEmail = AccountsPlatform.email("follower")
            _ = try await platform.register(email: followerEmail, displayName: "Follower")
            let follower = try await platform.signIn(email: followerEmail)
            let sleeperEmail = AccountsPlatform.email("sleeper")
            let sleeperId = try await platform.register(email: sleeperEmail, displayName: "Sleeper")
            let sleeper = try await platform.signIn(email: sleeperEmail)
            // Quiet hours around now, in UTC: from an hour ago to two hours ahead.
            let hour = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: Date()).hour ?? 0
            func clock(_ hours: Int) -> String { String(format: "%02d:00", (hours + 24) % 24) }
            let quiet: [String: Any] = ["kinds": [], "quietHours": ["start": clock(hour - 1), "end": clock(hour + 2), "timeZone": "UTC"]]
            #expect(try await platform.request("PUT", "/v1/me/notification-settings", token: sleeper, json: quiet).status == 200)

            let zora = try await ChatEndToEndTests.onlineAdvisor(platform, name: "Madame Zora")
            let lune = try await ChatEndToEndTests.onlineAdvisor(platform, name: "Lune Claire")
            for advisor in [zora, lune] {
                for token in [follower, sleeper] {
                    let favorite = try await platform.request("PUT", "/v1/me/favorites/\(advisor.id)", token: token, json: ["notifyWhenOnline": true])
                    #expect(favorite.status == 200, "\(favorite.text)")
                }
                #expect(try await platform.request("PUT", "/v1/advisors/me/status", token: advisor.token, json: ["status": "offline"]).status == 200)
                #expect(try await platform.request("PUT", "/v1/advisors/me/status", token: advisor.token, json: ["status": "online"]).status == 200)
            }
            let subject = "Advisors you follow are online"
            try await eventually("one digest names both advisors") {
                try await Self.inbox(platform, followerEmail).contains { $0["subject"] as? String == subject }
            }
            let digests = try await Self.inbox(platform, followerEmail).filter { $0["subject"] as? String == subject }
            #expect(digests.count == 1)
            let text = digests.first?["text"] as? String ?? ""
            #expect(text.contains("- Madame Zora") && text.contains("- Lune Claire"), "\(text)")

            let notifications = Database(platform.harness.database.config(schema: "notifications"), logger: Logger(label: "test"))
            defer { Task { await notifications.close() } }
            let held = try await notifications.withConnection { connection in
                try connection.queryOne(
                    """
                    SELECT count(*)::int AS n, bool_and(due_at > now() + interval '50 minutes') AS later FROM deliveries
                    WHERE account_id = $1 AND kind = 'favorite_online' AND status = 'due'
                    """, try #require(UUID(uuidString: sleeperId)))
            }
            #expect(try held?.decode("n", as: Int.self) == 1 && held?.decode("later", as: Bool?.self) == true, "one digest, held past quiet hours")
            #expect(try await Self.inbox(platform, sleeperEmail).allSatisfy { $0["subject"] as? String != subject })
        }
    }

    @Test("two instances share due email and send none twice; killed -9 with email due, a restarted instance sends each once")
    func instancesAndCrashes() async throws {
        let environment: [ServiceName: [String: String]] = [
            .notifications: ["NOTIFICATIONS_RETRY_SECONDS": "1", "NOTIFICATIONS_LEASE_SECONDS": "3"]
        ]
        try await AccountsPlatform.with(serviceEnvironment: environment, mail: true) { platform in
            let mail = try #require(platform.mail)
            var people: [(id: String, email: String)] = []
            for n in 1...5 {
                let email = AccountsPlatform.email("crowd\(n)")
                people.append((try await platform.register(email: email), email))
            }
            func received() async throws -> [Int] {
                var counts: [Int] = []
                for person in people { counts.append(try await Self.inbox(platform, person.email).count) }
                return counts
            }
            try await eventually("the welcomes arrive") { try await received() == [1, 1, 1, 1, 1] }
            let notifications = Database(platform.harness.database.config(schema: "notifications"), logger: Logger(label: "test"))
            defer { Task { await notifications.close() } }
            let ids = try people.map { try #require(UUID(uuidString: $0.id)) }
            func planMany(_ each: Int) async throws {
                try await notifications.withConnection { connection in
                    _ = try connection.execute(
                        """
                        INSERT INTO deliveries (id, account_id, kind, channel, params)
                        SELECT gen_random_uuid(), person, 'welcome', 'email', '{"role":"member"}' FROM unnest($1::uuid[]) AS person, generate_series(1, $2)
                        """, ids, each)
                }
            }

            // Two instances, 200 deliveries due at once.
            let notificationsEnvironment = platform.servicesEnvironment[.notifications] ?? [:]
            try await platform.harness.startService("notifications", schema: "notifications", environment: notificationsEnvironment)
            try await planMany(40)
            try await eventually("every delivery is sent", timeout: .seconds(60)) {
                try await notifications.withConnection { connection in
                    try connection.queryOne("SELECT count(*)::int AS n FROM deliveries WHERE status = 'sent'")?.decode("n", as: Int.self) == 205
                }
            }
            #expect(try await received() == [41, 41, 41, 41, 41], "each once")

            // The relay refuses for now; the service dies with 40 deliveries due; it comes back.
            let refuse = await HTTP.request(
                "POST", "\(mail.sandbox)/v1/sandbox/mail/failures", headers: ["Content-Type": "application/json"],
                body: Data(#"{"count": 1000, "code": 451}"#.utf8))
            #expect(refuse?.status == 204)
            try await planMany(8)
            try await eventually("each was tried and refused") {
                try await notifications.withConnection { connection in
                    try connection.queryOne("SELECT count(*)::int AS n FROM deliveries WHERE status = 'due' AND attempts >= 1")?.decode("n", as: Int.self) == 40
                }
            }
            for process in platform.harness.processes(of: "notifications") {
                process.signal(SIGKILL)
                _ = try await process.waitForExit()
            }
            let recover = await HTTP.request(
                "POST", "\(mail.sandbox)/v1/sandbox/mail/failures", headers: ["Content-Type": "application/json"],
                body: Data(#"{"count": 0, "code": 451}"#.utf8))
            #expect(recover?.status == 204)
            try await platform.harness.startService("notifications", schema: "notifications", environment: notificationsEnvironment)
            try await eventually("every delivery is sent after the restart", timeout: .seconds(60)) {
                try await notifications.withConnection { connection in
                    try connection.queryOne("SELECT count(*)::int AS n FROM deliveries WHERE status = 'sent'")?.decode("n", as: Int.self) == 245
                }
            }
            #expect(try await received() == [49, 49, 49, 49, 49], "each once")
        }
    }

    /// Runs a Python script with `python` and `arguments`; the process, to stop when done.
    static func python(_ python: String, _ script: String, _ arguments: [String], log: URL) throws -> ChildProcess {
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        defer { try? handle.close() }
        return try ChildProcess(
            URL(fileURLWithPath: python), arguments: ["-c", script] + arguments, standardOutput: handle.fileDescriptor,
            standardError: handle.fileDescriptor)
    }

    @Test("the sandbox's mail server takes a message from Python's smtplib (someone else's client), with AUTH, and its inbox decodes it")
    func sandboxServesSmtplib() async throws {
        try await AccountsPlatform.with(mail: true, sandboxEnvironment: ["SANDBOX_SMTP_USER": "relay", "SANDBOX_SMTP_PASSWORD": "s3cret"]) { platform in
            let mail = try #require(platform.mail)
            let script = """
                import smtplib, sys
                from email.message import EmailMessage
                m = EmailMessage(); m['Subject'] = 'Héllo from smtplib'; m['From'] = 'a@example.org'; m['To'] = 'reader@example.com'
                m.set_content('plain ✨\\n.a line with a leading dot\\n'); m.add_alternative('<p>html ✨</p>', subtype='html')
                s = smtplib.SMTP('127.0.0.1', int(sys.argv[1])); s.login('relay', 's3cret'); s.send_message(m); s.quit()
                """
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("smtplib-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let log = folder.appendingPathComponent("smtplib.log")
            let run = try Self.python("/usr/bin/python3", script, ["\(mail.smtpPort)"], log: log)
            #expect(await run.exitStatus() == 0, "\((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
            let message = try #require(try await Self.inbox(platform, "reader@example.com").first)
            #expect(message["subject"] as? String == "Héllo from smtplib")
            #expect(message["text"] as? String == "plain ✨\n.a line with a leading dot\n", "\(message)")
            #expect(message["html"] as? String == "<p>html ✨</p>\n")
        }
    }

    @Test("notifications' SMTP client sends through aiosmtpd (someone else's server) that requires STARTTLS, with AUTH, without PIPELINING")
    func clientServesAiosmtpd() async throws {
        let python = try #require(
            ProcessInfo.processInfo.environment["PYTHON_TOOLS"],
            "set PYTHON_TOOLS to a python with aiosmtpd (Deploy/local/test installs it and sets it)")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("aiosmtpd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let port = try FreePort.next()
        // A certificate for 127.0.0.1, which the client is told to trust.
        let certificate = folder.appendingPathComponent("relay.pem")
        let key = folder.appendingPathComponent("relay.key")
        let made = try ChildProcess(
            URL(fileURLWithPath: "/usr/bin/openssl"),
            arguments: [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key.path, "-out", certificate.path, "-days", "1",
                "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            ])
        #expect(await made.exitStatus() == 0)
        let script = """
            import ssl, sys, time
            from aiosmtpd.controller import Controller
            from aiosmtpd.handlers import Mailbox
            from aiosmtpd.smtp import AuthResult
            def check(server, session, envelope, mechanism, data):
                return AuthResult(success=data.login == b'relay' and data.password == b'p@ss word')
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(sys.argv[3], sys.argv[4])
            controller = Controller(Mailbox(sys.argv[2]), hostname='127.0.0.1', port=int(sys.argv[1]),
                                    authenticator=check, tls_context=context, require_starttls=True, auth_require_tls=True)
            controller.start()
            print('listening', flush=True)
            time.sleep(600)
            """
        let log = folder.appendingPathComponent("aiosmtpd.log")
        let server = try Self.python(
            python, script, ["\(port)", folder.appendingPathComponent("maildir").path, certificate.path, key.path], log: log)
        defer { server.signal(SIGTERM) }
        try await eventually("aiosmtpd listens") { ((try? String(contentsOf: log, encoding: .utf8)) ?? "").contains("listening") }
        let environment: [ServiceName: [String: String]] = [
            .notifications: [
                "SMTP_URL": "smtp://relay:p%40ss%20word@127.0.0.1:\(port)", "NOTIFICATIONS_RETRY_SECONDS": "1",
                "NOTIFICATIONS_SMTP_CA_FILE": certificate.path,
                "NOTIFICATIONS_LINK_KEY": Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString(),
            ]
        ]
        try await AccountsPlatform.with(serviceEnvironment: environment) { platform in
            let email = AccountsPlatform.email("aiosmtpd")
            _ = try await platform.register(email: email, displayName: "Ada")
            let arrived = folder.appendingPathComponent("maildir/new")
            try await eventually("aiosmtpd keeps the welcome email") {
                ((try? FileManager.default.contentsOfDirectory(atPath: arrived.path)) ?? []).count == 1
            }
            let name = try #require(try FileManager.default.contentsOfDirectory(atPath: arrived.path).first)
            let raw = try String(contentsOf: arrived.appendingPathComponent(name), encoding: .utf8)
            #expect(raw.contains("Subject: Welcome to Advisor Platform") && raw.contains("To: \"Ada\" <\(email)>"), "\(raw.prefix(2000))")
        }
    }

    /// A fresh 2048-bit RSA key in `folder` (made by the openssl tool), and its public key for DNS.
    static func dkimKey(in folder: URL) async throws -> (file: URL, publicKey: String) {
        let keyFile = folder.appendingPathComponent("dkim.pem")
        let keygen = try ChildProcess(
            URL(fileURLWithPath: "/usr/bin/openssl"), arguments: ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", keyFile.path])
        #expect(await keygen.exitStatus() == 0)
        return (keyFile, try RSASigner(pem: try String(contentsOf: keyFile, encoding: .utf8)).publicKeyBase64)
    }

    /// What dkimpy says of `raw`'s signature, with `publicKey` published for `selector` at advisor.test.
    static func dkimVerdict(_ raw: String, publicKey: String, selector: String, in folder: URL) async throws -> String {
        let python = try #require(
            ProcessInfo.processInfo.environment["PYTHON_TOOLS"],
            "set PYTHON_TOOLS to a python with dkimpy (Deploy/local/test installs it and sets it)")
        let verify = """
            import sys, dkim
            record = b'v=DKIM1; k=rsa; p=' + sys.argv[2].encode()
            def dns(name, timeout=5):
                return record if name == sys.argv[3].encode() + b'._domainkey.advisor.test.' else None
            message = open(sys.argv[1], 'rb').read()
            print('valid' if dkim.verify(message, dnsfunc=dns) else 'invalid')
            """
        let name = UUID().uuidString
        let file = folder.appendingPathComponent("\(name).eml")
        try Data(raw.utf8).write(to: file)
        let log = folder.appendingPathComponent("\(name).log")
        let run = try Self.python(python, verify, [file.path, publicKey, selector], log: log)
        #expect(await run.exitStatus() == 0)
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        return output.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").last.map(String.init) ?? output
    }

    @Test("with a DKIM key every email is signed, and dkimpy (someone else's verifier) finds the signature valid; a changed body fails it")
    func dkimSigned() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dkim-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let key = try await Self.dkimKey(in: folder)
        let environment: [ServiceName: [String: String]] = [
            .notifications: ["NOTIFICATIONS_DKIM_KEY_FILE": key.file.path, "NOTIFICATIONS_DKIM_SELECTOR": "mail2026"]
        ]
        try await AccountsPlatform.with(serviceEnvironment: environment, mail: true) { platform in
            let email = AccountsPlatform.email("signed")
            _ = try await platform.register(email: email, displayName: "Séverine O'Brien")
            try await eventually("the welcome email arrives") { try await Self.inbox(platform, email).count == 1 }
            let message = try #require(try await Self.inbox(platform, email).first)
            let signature = try #require(Self.header(message, "DKIM-Signature"))
            #expect(signature.contains("d=advisor.test;") && signature.contains("s=mail2026;") && signature.contains("a=rsa-sha256;"))
            let raw = try #require(message["raw"] as? String)
            #expect(try await Self.dkimVerdict(raw, publicKey: key.publicKey, selector: "mail2026", in: folder) == "valid")
            let tampered = raw.replacingOccurrences(of: "\r\n\r\n--", with: "\r\n\r\nX--")
            #expect(try await Self.dkimVerdict(tampered, publicKey: key.publicKey, selector: "mail2026", in: folder) == "invalid")
        }
    }
}
