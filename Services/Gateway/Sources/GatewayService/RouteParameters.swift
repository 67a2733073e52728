import Foundation
import Hummingbird
import Models

/// Reading route parameters: the page of a list route, the id in a path.
enum RouteParameters {
    /// `?limit&cursor`: limit 1…100, default 20; anything else is 422.
    static func page(from request: Request) throws -> PageRequest {
        let query = request.uri.queryParameters
        var page = PageRequest()
        if let raw = query["limit"] {
            guard let limit = Int(raw), (1...PageRequest.maxLimit).contains(limit) else {
                throw ServiceError(
                    .validationFailed, "limit must be a whole number from 1 to \(PageRequest.maxLimit).",
                    fieldErrors: [FieldError(field: "limit", code: "out_of_range")])
            }
            page.limit = limit
        }
        if let cursor = query["cursor"], !cursor.isEmpty {
            page.cursor = String(cursor)
        }
        return page
    }

    /// A UUID path parameter; anything that is not one names nothing (404).
    static func id(_ name: String, in parameters: Parameters) throws -> UUID {
        guard let raw = parameters.get(name), let id = UUID(uuidString: raw) else {
            throw ServiceError(.notFound, "There is nothing with this id.")
        }
        return id
    }
}
