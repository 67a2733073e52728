import Foundation
import HTTPTypes
public import Hummingbird
import Logging
import Models

/// A request context that carries the request's id, so answers and logs can name it.
public protocol IdentifiedRequestContext: RequestContext {
    var requestId: String { get set }
}

/// The most a public HTTP request body may hold (docs/api.md): larger ones get 413.
public enum HTTPLimits {
    public static let maxBodyBytes = 1 << 20
}

/// Turns every error into `application/problem+json` naming the request's id, refuses bodies over
/// the limit before reading them, and logs each request without its body or credentials. It runs
/// inside `RequestTraceMiddleware`, which gives the request its id and trace.
public struct ProblemMiddleware<Context: IdentifiedRequestContext>: RouterMiddleware {
    public init() {}

    public func handle(
        _ request: Request, context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var response: Response
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > HTTPLimits.maxBodyBytes {
            response = Self.response(for: HTTPError(.contentTooLarge), requestId: context.requestId)
        } else {
            do {
                response = try await next(request, context)
            } catch {
                let problem = ProblemMapping.problem(for: error)
                if problem.status >= 500 {
                    context.logger.error("request failed", metadata: ["error": "\(error)"])
                }
                response = Self.response(for: error, requestId: context.requestId)
            }
        }
        context.logger.info(
            "request",
            metadata: [
                "http.method": "\(request.method)", "http.path": "\(request.uri.path)",
                "http.status": "\(response.status.code)",
            ])
        return response
    }

    static func response(for error: any Error, requestId: String) -> Response {
        var problem = ProblemMapping.problem(for: error)
        problem.requestId = requestId
        let body = (try? JSONEncoder().encode(problem)) ?? Data()
        // An HTTP error's own headers stay (`Allow` on a 405).
        var headers = (error as? HTTPError)?.headers ?? [:]
        headers[.contentType] = "application/problem+json"
        // 429 and 503 say when to come back, when the service said.
        if let seconds = (error as? ServiceError)?.retryAfterSeconds,
            [HTTPResponse.Status.tooManyRequests.code, HTTPResponse.Status.serviceUnavailable.code].contains(problem.status)
        {
            headers[.retryAfter] = "\(max(1, seconds))"
        }
        return Response(status: .init(code: problem.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
