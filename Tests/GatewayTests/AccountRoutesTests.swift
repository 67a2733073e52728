import Bus
import GatewayService
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Models
import ServiceKit
import Testing
import TestSupport

/// The account and privacy routes' own behaviour: bodies, lists, the error table and the export.
@Suite(.timeLimit(.minutes(1)))
struct AccountRoutesTests {
    static let signedIn: HTTPFields = [.authorization: "Bearer \(GatewayFixture.goodToken)", .contentType: "application/json"]

    @Test("JSON that is not JSON is 400 malformed_json; JSON of the wrong shape is 422 naming the field")
    func malformedBodies() async throws {
        let fixture = try await GatewayFixture()
        try await fixture.startAccounts()
        try await fixture.test { client in
            for text in [#"{"email": "ada@example.com", "password": "#, "", "not json"] {
                try await client.execute(uri: "/v1/sessions", method: .post, headers: Body.jsonType, body: Body.json(text)) { response in
                    #expect(response.status == .badRequest)
                    #expect(response.headers[.contentType] == "application/problem+json")
                    #expect(Body.problem(response)?.code == "malformed_json")
                }
            }
            try await client.execute(uri: "/v1/sessions", method: .post, headers: Body.jsonType, body: Body.json(#"{"email": 7, "password": "x"}"#)) {
                response in
                #expect(response.status == .unprocessableContent)
                #expect(Body.problem(response)?.errors == [FieldError(field: "email", code: "invalid")])
            }
            try await client.execute(uri: "/v1/sessions", method: .post, headers: Body.jsonType, body: Body.json(#"{"email": "a@b.c"}"#)) { response in
                #expect(response.status == .unprocessableContent)
                #expect(Body.problem(response)?.errors == [FieldError(field: "password", code: "required")])
            }
        }
        #expect(fixture.accounts.signIns.isEmpty, "nothing malformed reached accounts")
    }

    @Test("a body that does not say it is JSON is 415, whatever it holds; application/json with parameters, or a +json type, is read")
    func bodiesSayTheyAreJSON() async throws {
        let fixture = try await GatewayFixture()
        try await fixture.startAccounts()
        let signIn = #"{"email": "ada@example.com", "password": "correct horse"}"#
        try await fixture.test { client in
            for contentType in [nil, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx"] {
                var headers: HTTPFields = [:]
                if let contentType { headers[.contentType] = contentType }
                try await client.execute(uri: "/v1/sessions", method: .post, headers: headers, body: Body.json(signIn)) { response in
                    #expect(response.status == .unsupportedMediaType, "\(contentType ?? "none")")
                    #expect(Body.problem(response)?.code == "unsupported_media_type")
                }
            }
            #expect(fixture.accounts.signIns.isEmpty, "nothing refused reached accounts")
            for contentType in ["application/json; charset=utf-8", "Application/JSON", "application/vnd.advisor+json"] {
                try await client.execute(
                    uri: "/v1/sessions", method: .post, headers: [.contentType: contentType], body: Body.json(signIn)
                ) { response in
                    #expect(response.status == .created, "\(contentType)")
                }
            }
        }
    }

    @Test("list limits are 1…100, default 20; anything else is 422")
    func listLimits() async throws {
        let fixture = try await GatewayFixture()
        try await fixture.startAccounts()
        let operation = Accounts.ConsentHistory.name
        try await fixture.test { client in
            for limit in ["0", "101", "-3", "ten", "2.5"] {
                try await client.execute(uri: "/v1/me/consents/history?limit=\(limit)", method: .get, headers: Self.signedIn) {
                    response in
                    #expect(response.status == .unprocessableContent, "limit=\(limit)")
                    #expect(Body.problem(response)?.errors?.first?.field == "limit")
                }
            }
            try await client.execute(uri: "/v1/me/consents/history", method: .get, headers: Self.signedIn) { response in
                #expect(response.status == .ok)
            }
            #expect(fixture.accounts.page(of: operation) == PageRequest(limit: 20, cursor: nil))
            try await client.execute(
                uri: "/v1/me/consents/history?limit=100&cursor=abc", method: .get, headers: Self.signedIn
            ) { response in
                #expect(response.status == .ok)
                let page = try Body.decode(Page<Accounts.ConsentChange>.self, response)
                #expect(page.items.isEmpty)
            }
            #expect(fixture.accounts.page(of: operation) == PageRequest(limit: 100, cursor: "abc"))
        }
    }

    @Test("a rate-limited sign-in is 429 with Retry-After; a wrong password is 401 invalid_credentials")
    func signInRefusals() async throws {
        let fixture = try await GatewayFixture()
        try await fixture.startAccounts()
        try await fixture.test { client in
            try await client.execute(
                uri: "/v1/sessions", method: .post, headers: Body.jsonType, body: Body.json(#"{"email": "a@b.c", "password": "too-many-tries"}"#)
            ) { response in
                #expect(response.status == .tooManyRequests)
                #expect(response.headers[.retryAfter] == "30")
                #expect(Body.problem(response)?.code == "rate_limited")
            }
            try await client.execute(
                uri: "/v1/sessions", method: .post, headers: Body.jsonType, body: Body.json(#"{"email": "a@b.c", "password": "wrong"}"#)
            ) { response in
                #expect(response.status == .unauthorized)
                #expect(Body.problem(response)?.code == "invalid_credentials")
                #expect(response.headers[.setCookie] == nil)
            }
        }
    }

    @Test("the client address is the socket peer, unless that peer is a trusted proxy: then the nearest untrusted hop it names")
    func clientAddressThroughTrustedProxies() async throws {
        let networks = ["127.0.0.1", "10.0.0.0/8"].compactMap(IPNetwork.init)
        let proxies = TrustedProxies(networks)
        let rfcProxies = TrustedProxies(networks, header: .forwarded)
        let signIn = Body.json(#"{"email": "a@b.c", "password": "right"}"#)
        let cases: [(TrustedProxies, HTTPFields, String)] = [
            (.none, [.init("X-Forwarded-For")!: "203.0.113.5"], "127.0.0.1"),
            (proxies, [:], "127.0.0.1"),
            (proxies, [.init("X-Forwarded-For")!: "198.51.100.1, 203.0.113.5, 10.0.0.9"], "203.0.113.5"),
            (rfcProxies, [.init("Forwarded")!: #"for=198.51.100.1, for="[2001:db8::7]:4711";proto=https"#], "2001:db8::7"),
            (proxies, [.init("X-Forwarded-For")!: "unknown, 10.2.3.4"], "10.2.3.4"),
            // The header the proxies do not write is the client's own: never read.
            (proxies, [.init("Forwarded")!: "for=198.51.100.66", .init("X-Forwarded-For")!: "203.0.113.5"], "203.0.113.5"),
            (rfcProxies, [.init("X-Forwarded-For")!: "198.51.100.66"], "127.0.0.1"),
        ]
        for (trusted, headers, expected) in cases {
            let fixture = try await GatewayFixture()
            try await fixture.startAccounts()
            try await fixture.test(trustedProxies: trusted, mode: .live) { client in
                var sent = headers
                sent[.contentType] = "application/json"
                try await client.execute(uri: "/v1/sessions", method: .post, headers: sent, body: signIn) { _ in }
            }
            #expect(fixture.accounts.signIns.last?.ipAddress == expected, "\(headers)")
        }
    }

    @Test("a NUL in any string of a body is 400 invalid_text and reaches no service")
    func nulInBody() async throws {
        let fixture = try await GatewayFixture()
        try await fixture.startAccounts()
        try await fixture.test { client in
            try await client.execute(
                uri: "/v1/sessions", method: .post, headers: Body.jsonType, body: Body.json(#"{"email": "a\u0000@b.c", "password": "x"}"#)
            ) { response in
                #expect(response.status == .badRequest)
                #expect(Body.problem(response)?.code == "invalid_text")
            }
        }
        #expect(fixture.accounts.signIns.isEmpty)
    }

    @Test("a body field the operation does not take, or a field sent as null, is 422 and reaches no service")
    func strayFields() async throws {
        let fixture = try await GatewayFixture()
        try await fixture.startAccounts()
        try await fixture.test { client in
            let misspelt = #"{"email": "a@b.c", "password": "x", "pasword": "y"}"#
            try await client.execute(uri: "/v1/sessions", method: .post, headers: Body.jsonType, body: Body.json(misspelt)) { response in
                #expect(response.status == .unprocessableContent)
                #expect(Body.problem(response)?.errors == [FieldError(field: "pasword", code: "unknown_field")])
            }
            try await client.execute(
                uri: "/v1/me/consents", method: .put, headers: Self.signedIn, body: Body.json(#"{"marketingEmail": null}"#)
            ) { response in
                #expect(response.status == .unprocessableContent)
                #expect(Body.problem(response)?.errors == [FieldError(field: "marketingEmail", code: "invalid")])
            }
        }
        #expect(fixture.accounts.signIns.isEmpty)
    }

    @Test("a date that is not a real RFC 3339 instant (minute 99, 31 February) is 422, not another instant")
    func strictDates() async throws {
        let fixture = try await GatewayFixture()
        try await fixture.startAccounts()
        try await fixture.test { client in
            for date in ["2024-01-01T12:99:00Z", "2025-02-31T00:00:00Z", "2024-01-01 12:00:00Z", "2024-01-01T12:00:00"] {
                let body = #"{"version": "v9", "effectiveDate": "\#(date)"}"#
                try await client.execute(uri: "/v1/staff/policy-versions", method: .post, headers: Self.signedIn, body: Body.json(body)) {
                    response in
                    #expect(response.status == .unprocessableContent, "\(date)")
                    #expect(Body.problem(response)?.errors == [FieldError(field: "effectiveDate", code: "invalid")], "\(date)")
                }
            }
        }
        #expect(RFC3339.date(from: "2024-02-29T23:59:59.5+01:00") == Date(timeIntervalSince1970: 1_709_247_599.5))
        #expect(RFC3339.date(from: "1970-01-01T00:00:00Z") == Date(timeIntervalSince1970: 0))
        #expect(RFC3339.date(from: "2023-02-29T00:00:00Z") == nil)
    }

    @Test("a NUL in a query parameter is 400 invalid_text; a cursor that is not base64 is 422")
    func queryText() async throws {
        let fixture = try await GatewayFixture()
        try await fixture.startAccounts()
        try await fixture.test { client in
            try await client.execute(uri: "/v1/me/sign-ins?cursor=a%00b", method: .get, headers: Self.signedIn) { response in
                #expect(response.status == .badRequest)
                #expect(Body.problem(response)?.code == "invalid_text")
            }
            try await client.execute(uri: "/v1/me/sign-ins?cursor=%C3%9F", method: .get, headers: Self.signedIn) { response in
                #expect(response.status == .unprocessableContent)
                #expect(Body.problem(response)?.errors == [FieldError(field: "cursor", code: "invalid")])
            }
            try await client.execute(uri: "/v1/staff/accounts/\(UUID())?reason=a%00", method: .get, headers: Self.signedIn) {
                #expect($0.status == .badRequest)
            }
        }
    }

    @Test("PATCH /v1/me forwards the caller's own token as the session to keep; a body naming one is refused")
    func profileKeepsCurrentSession() async throws {
        let fixture = try await GatewayFixture()
        try await fixture.startAccounts()
        try await fixture.test { client in
            try await client.execute(
                uri: "/v1/me", method: .patch, headers: Self.signedIn,
                body: Body.json(#"{"displayName": "Eve", "currentToken": "someone-else"}"#)
            ) { response in
                #expect(response.status == .unprocessableContent)
                #expect(Body.problem(response)?.errors == [FieldError(field: "currentToken", code: "unknown_field")])
            }
            #expect(fixture.accounts.profileChanges.isEmpty)
            try await client.execute(
                uri: "/v1/me", method: .patch, headers: Self.signedIn,
                body: Body.json(#"{"displayName": "Ada'; DROP TABLE x;--"}"#)
            ) { response in
                #expect(response.status == .ok)
            }
        }
        let change = try #require(fixture.accounts.profileChanges.last)
        #expect(change.currentToken == GatewayFixture.goodToken)
        #expect(change.displayName == "Ada'; DROP TABLE x;--")
    }

    @Test("the export is 503 export_unavailable, naming the silent services, when any service does not answer")
    func exportFailsWhole() async throws {
        let fixture = try await GatewayFixture()
        try await fixture.startAccounts()
        try await fixture.test(exportDeadline: .seconds(1)) { client in
            try await client.execute(uri: "/v1/me/export", method: .get, headers: Self.signedIn) { response in
                #expect(response.status == .serviceUnavailable)
                let problem = try #require(Body.problem(response))
                #expect(problem.code == "export_unavailable")
                for service in ServiceName.all where service != .accounts {
                    #expect(problem.detail.contains(service.rawValue))
                }
                #expect(!problem.detail.contains("accounts"))
            }
        }
    }

    @Test("the export gathers a section from every service, as an attachment, asked as the caller")
    func exportWhole() async throws {
        let fixture = try await GatewayFixture()
        try await fixture.startAccounts()
        for service in ServiceName.all where service != .accounts {
            try await fixture.startWorker(service) { worker in
                worker.handle(operation: Privacy.Export.name(for: service), requestType: Privacy.Export.Request.self) {
                    request, context in
                    guard context.caller.accountId == request.accountId else {
                        throw ServiceError(.forbidden, "only the account itself")
                    }
                    return Privacy.Export.Response(section: .object([:]))
                }
            }
        }
        try await fixture.test { client in
            try await client.execute(uri: "/v1/me/export", method: .get, headers: Self.signedIn) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentDisposition]?.hasPrefix("attachment") == true)
                let document = try #require(
                    try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
                #expect(document["accountId"] as? String == GatewayFixture.member.uuidString)
                #expect(document["services"] as? [String] == ServiceName.all.map(\.rawValue))
                let sections = try #require(document["sections"] as? [String: Any])
                #expect(Set(sections.keys) == Set(ServiceName.all.map(\.rawValue)))
                #expect(document["generatedAt"] is String)
            }
        }
    }

    @Test("a staff route with an id that is not a UUID is 404; without a reason it is 422")
    func staffParameters() async throws {
        let fixture = try await GatewayFixture()
        try await fixture.startAccounts()
        try await fixture.test { client in
            try await client.execute(uri: "/v1/staff/accounts/not-a-uuid?reason=x", method: .get, headers: Self.signedIn) {
                #expect($0.status == .notFound)
            }
            try await client.execute(uri: "/v1/staff/accounts/\(UUID())", method: .get, headers: Self.signedIn) {
                #expect($0.status == .unprocessableContent)
            }
            try await client.execute(uri: "/v1/staff/erasures/\(UUID())", method: .get) {
                #expect($0.status == .unauthorized)
            }
        }
    }

    @Test("the error table is the declared codes: each answers its status, an undeclared one is a 500 that hides its text")
    func problemTable() throws {
        let table: [(ServiceError.Code, Int)] = [
            (.emailTaken, 409), (.invalidCredentials, 401), (.rateLimited, 429), (.exportUnavailable, 503),
            (.malformedJSON, 400), (.invalidText, 400), (.forbidden, 403), (.notFound, 404), (.unauthenticated, 401),
            (.busy, 503), (.partnerExists, 409), (.validationFailed, 422), (.reviewNotAllowed, 403), (.advisorBusy, 409),
            (.profileIncomplete, 409), (.alreadyReplied, 409), (.alreadyReviewed, 409),
        ]
        for (code, status) in table {
            #expect(ProblemMapping.status(for: code).code == status, "\(code.rawValue)")
        }
        // A code nobody declared (a service's new code before its declaration) is our fault.
        let undeclared = ProblemMapping.problem(for: ServiceError(.init(rawValue: "payout_on_hold"), "secret detail"))
        #expect(undeclared.status == 500 && undeclared.code == "internal_error")
        #expect(!undeclared.detail.contains("secret"))
        #expect(Set(ErrorCatalog.all.map(\.code.rawValue)).count == ErrorCatalog.all.count, "a code is declared twice")
    }

    @Test("every error code the sources name is declared with a status")
    func everyCodeDeclared() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        var named: Set<String> = []
        for folder in ["Shared", "Services"] {
            let files = try #require(FileManager.default.enumerator(at: root.appendingPathComponent(folder), includingPropertiesForKeys: nil))
            for case let file as URL in files where file.pathExtension == "swift" {
                let text = try String(contentsOf: file, encoding: .utf8)
                for match in text.matches(of: /(?:Code|ServiceError\(\s*\.init)\(rawValue: "([a-z_]+)"\)/) {
                    named.insert(String(match.1))
                }
            }
        }
        #expect(named.count >= 15)
        #expect(named.subtracting(ErrorCatalog.statuses.keys).isEmpty, "undeclared: \(named.subtracting(ErrorCatalog.statuses.keys).sorted())")
    }
}
