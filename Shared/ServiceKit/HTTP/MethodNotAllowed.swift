public import Foundation
import HTTPTypes
public import Hummingbird

/// Answers 405 with `Allow` where a path is served but not with the request's method (RFC 9110
/// §15.5.6), instead of the router's 404, so a client learns it has the method wrong, not the path.
///
/// The methods come from openapi.json, which a test holds equal to the router's routes. Only a
/// request the router did not match pays for the lookup.
public struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The documented paths split into segments (`{id}` matches any one), with their methods.
    let paths: [(segments: [Substring], allow: String)]

    public init(openAPIDocument: Data) {
        let document = (try? JSONSerialization.jsonObject(with: openAPIDocument)) as? [String: Any]
        let methods: Set<String> = ["get", "put", "post", "delete", "patch", "head", "options"]
        let documented = document?["paths"] as? [String: [String: Any]] ?? [:]
        paths = documented.map { path, item in
            let allowed = item.keys.filter(methods.contains).map { $0.uppercased() }.sorted()
            return (path.split(separator: "/"), allowed.joined(separator: ", "))
        }
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            guard let allow = allowedMethods(for: request.uri.path) else { throw error }
            throw HTTPError(.methodNotAllowed, headers: [.allow: allow])
        }
    }

    /// The `Allow` value of the documented path `path` matches, or nil if none does; where several
    /// match, the most literal one, as the router chooses (`/v1/advisors/me` over `/v1/advisors/{id}`).
    func allowedMethods(for path: String) -> String? {
        let segments = path.split(separator: "/")
        return paths.filter { template in
            template.segments.count == segments.count
                && zip(template.segments, segments).allSatisfy { pattern, segment in
                    pattern.hasPrefix("{") || pattern == segment
                }
        }.min { Self.parameters(in: $0.segments) < Self.parameters(in: $1.segments) }?.allow
    }

    private static func parameters(in segments: [Substring]) -> Int {
        segments.filter { $0.hasPrefix("{") }.count
    }
}
