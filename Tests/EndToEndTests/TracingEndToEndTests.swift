import Foundation
import Models
import Testing
import TestSupport

/// An operator follows one request through every process by one id (docs/operations.md).
@Suite(.serialized, .timeLimit(.minutes(3)))
struct TracingEndToEndTests {
    @Test("one trace id finds an erasure's lines in the gateway's, accounts' and every other service's log")
    func oneIdFindsARequestEverywhere() async throws {
        try await AccountsPlatform.with { platform in
            let adminEmail = AccountsPlatform.email("tracing-admin")
            try await platform.createAdmin(email: adminEmail, password: AccountsPlatform.password)
            let admin = try await platform.signIn(email: adminEmail)
            let email = AccountsPlatform.email("traced")
            try await platform.register(email: email)
            let token = try await platform.signIn(email: email)

            let traceId = "4bf92f3577b34da6a3ce929d0e0e4736"
            let erased = try await platform.request(
                "DELETE", "/v1/me", token: token, json: ["password": AccountsPlatform.password],
                headers: ["traceparent": "00-\(traceId)-00f067aa0ba902b7-01"])
            #expect(erased.status == 202, "\(erased.text)")
            #expect(erased.headers["trace-id"] == traceId)
            #expect(erased.headers["request-id"] == traceId)
            let erasureId = try #require(erased.object["erasureId"] as? String)
            do {
                try await Eventually.wait(timeout: .seconds(60), "every service confirmed the erasure", every: .milliseconds(250)) {
                    let status = try await platform.request("GET", "/v1/staff/erasures/\(erasureId)", token: admin)
                    return status.object["completedAt"] is String
                }
            } catch {
                // Which services confirmed, and what the processes logged, for whoever reads the failure.
                let status = try await platform.request("GET", "/v1/staff/erasures/\(erasureId)", token: admin)
                Issue.record("\(error); erasure: \(status.text)\n\(platform.harness.logs().suffix(20_000))")
                return
            }

            // The gateway's request line, accounts' own line about the erasure and its applying of
            // every confirmation, and each service's applying of the erasure: all under the one id.
            let marker = "trace.id=\(traceId)"
            // Accounts logs applying the last confirmation once the transaction that completed the erasure is committed.
            try? await Eventually.wait(timeout: .seconds(10), "accounts logged applying every confirmation") {
                let accounts = platform.harness.logs(of: "accounts")
                return ServiceName.all.filter { $0 != .accounts }.allSatisfy { service in
                    accounts.contains("event.type=\(Privacy.ErasureCompleted.type(for: service))")
                }
            }
            let gateway = platform.harness.logs(of: "gateway")
            #expect(gateway.split(separator: "\n").contains { $0.contains(marker) && $0.contains("http.path=/v1/me") }, "\(gateway.suffix(3000))")
            let accounts = platform.harness.logs(of: "accounts")
            #expect(accounts.split(separator: "\n").contains { $0.contains(marker) && $0.contains("erasure requested") }, "\(accounts.suffix(3000))")
            for service in ServiceName.all where service != .accounts {
                let log = platform.harness.logs(of: service.rawValue)
                #expect(
                    log.split(separator: "\n").contains {
                        $0.contains(marker) && $0.contains("event.type=\(Privacy.ErasureRequested.type)")
                    }, "\(service): \(log.suffix(3000))")
                #expect(
                    accounts.split(separator: "\n").contains {
                        $0.contains(marker) && $0.contains("event.type=\(Privacy.ErasureCompleted.type(for: service))")
                    }, "accounts applying \(service)'s confirmation")
            }
        }
    }
}
