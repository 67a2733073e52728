import Bus
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Models
import ServiceKit
import Testing
import TestSupport

/// One id follows a request from the client through the gateway into every bus call it makes
/// (docs/operations.md, "Following a request").
@Suite(.timeLimit(.minutes(1)))
struct RequestTraceTests {
    static let clientTrace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    @Test("a client's traceparent is continued into every bus call; Request-Id and Trace-Id name it")
    func continuesClientTrace() async throws {
        let fixture = try await GatewayFixture()
        try await fixture.startAccounts()
        try await fixture.test { client in
            let headers: HTTPFields = [.authorization: "Bearer \(GatewayFixture.goodToken)", .traceparent: Self.clientTrace]
            try await client.execute(uri: "/v1/me", method: .get, headers: headers) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.traceId] == "4bf92f3577b34da6a3ce929d0e0e4736")
                #expect(response.headers[.requestId] == "4bf92f3577b34da6a3ce929d0e0e4736")
            }
        }
        #expect(fixture.accounts.traceId(of: Accounts.Authenticate.name) == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(fixture.accounts.traceId(of: Accounts.Me.name) == "4bf92f3577b34da6a3ce929d0e0e4736")
    }

    @Test("without a valid traceparent the gateway starts a trace of its own and carries it on")
    func startsTrace() async throws {
        let fixture = try await GatewayFixture()
        try await fixture.startAccounts()
        try await fixture.test { client in
            for extra: HTTPFields in [[:], [.traceparent: "00-00000000000000000000000000000000-00f067aa0ba902b7-01"]] {
                var headers: HTTPFields = [.authorization: "Bearer \(GatewayFixture.goodToken)"]
                headers.append(contentsOf: extra)
                try await client.execute(uri: "/v1/me", method: .get, headers: headers) { response in
                    #expect(response.status == .ok)
                    let trace = try #require(response.headers[.traceId])
                    #expect(trace.count == 32 && trace != "00000000000000000000000000000000")
                    #expect(response.headers[.requestId] == trace)
                    #expect(fixture.accounts.traceId(of: Accounts.Me.name) == trace)
                }
            }
        }
    }

    @Test("a client's plain Request-Id is kept beside the trace; a strange one is replaced by the trace id")
    func clientRequestIds() async throws {
        let fixture = try await GatewayFixture()
        try await fixture.test { client in
            try await client.execute(uri: "/healthz", method: .get, headers: [.requestId: "abc-123"]) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.requestId] == "abc-123")
                #expect(response.headers[.traceId]?.count == 32)
            }
            try await client.execute(uri: "/v1/nothing-here", method: .get, headers: [.requestId: "x\" injected"]) { response in
                #expect(response.status == .notFound)
                let trace = try #require(response.headers[.traceId])
                #expect(response.headers[.requestId] == trace)
                #expect(Body.problem(response)?.requestId == trace)
            }
        }
    }
}
