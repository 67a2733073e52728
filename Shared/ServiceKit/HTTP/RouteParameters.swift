public import Foundation
public import Hummingbird
public import Models

/// Reading route parameters: the page of a list route, the id in a path.
public enum RouteParameters {
    /// The query parameter `name` as text: 400 `invalid_text` if it holds NUL (`%00`), as in a body.
    public static func query(_ name: String, in request: Request) throws -> String? {
        guard let value = request.uri.queryParameters[Substring(name)] else { return nil }
        guard !value.contains("\0") else {
            throw ServiceError(.invalidText, "The query parameter \(name) must not contain NUL characters.")
        }
        return String(value)
    }

    /// 422 for a query parameter that is present but not of its kind (a number, a status, …).
    public static func invalidQuery(_ field: String) -> ServiceError {
        ServiceError(
            .validationFailed, "the query parameter \(field) is not valid", fieldErrors: [FieldError(field: field, code: "invalid")])
    }

    /// `?limit&cursor`: limit 1…100, default 20; a cursor is base64, as it was given; anything else is 422.
    public static func page(from request: Request) throws -> PageRequest {
        var page = PageRequest()
        if let raw = try query("limit", in: request) {
            guard let limit = Int(raw), (1...PageRequest.maxLimit).contains(limit) else {
                throw ServiceError(
                    .validationFailed, "limit must be a whole number from 1 to \(PageRequest.maxLimit).",
                    fieldErrors: [FieldError(field: "limit", code: "out_of_range")])
            }
            page.limit = limit
        }
        if let cursor = try query("cursor", in: request), !cursor.isEmpty {
            guard cursor.count <= 200, cursor.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "+/=".contains($0)) })
            else {
                throw ServiceError(
                    .validationFailed, "the cursor is not valid", fieldErrors: [FieldError(field: "cursor", code: "invalid")])
            }
            page.cursor = cursor
        }
        return page
    }

    /// A UUID path parameter; anything that is not one names nothing (404).
    public static func id(_ name: String, in parameters: Parameters) throws -> UUID {
        guard let raw = parameters.get(name), let id = UUID(uuidString: raw) else {
            throw ServiceError(.notFound, "There is nothing with this id.")
        }
        return id
    }

    /// A directory search's parameters (the gateway's `GET /v1/advisors`, the partner API's
    /// `GET /partner/v1/advisors`); the directory checks their values, this their syntax.
    public static func directorySearch(from request: Request) throws -> Directory.Search.Request {
        let paging = try page(from: request)
        var search = Directory.Search.Request(limit: paging.limit, cursor: paging.cursor)
        search.q = try query("q", in: request)
        search.category = try query("category", in: request)
        if let status = try query("status", in: request) {
            guard let value = Directory.Status(rawValue: status) else { throw invalidQuery("status") }
            search.status = value
        }
        if let price = try query("maxPriceCents", in: request) {
            guard let value = Int(price) else { throw invalidQuery("maxPriceCents") }
            search.maxPriceCents = value
        }
        if let rating = try query("minRating", in: request) {
            guard let value = Double(rating), value.isFinite else { throw invalidQuery("minRating") }
            search.minRating = value
        }
        search.language = try query("language", in: request)
        search.sort = try query("sort", in: request)
        if let facets = try query("facets", in: request) {
            search.facets = ConfigReader.items(of: facets)
            guard !search.facets.isEmpty else { throw invalidQuery("facets") }
        }
        return search
    }
}
