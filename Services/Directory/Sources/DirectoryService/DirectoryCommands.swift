public import Foundation
import Logging
import Models
import ServiceKit
import Store

/// The operator commands of the `directory` executable: `explain-search QUERY` prints the plans
/// PostgreSQL runs a search with (the query string of `GET /v1/advisors`, e.g.
/// `q=tarot&category=love-relationships&facets=category,status`), executed once, with timings.
public enum DirectoryCommands {
    /// Runs the command named by `arguments[1]`, if there is one, and returns the exit status;
    /// nil when the arguments name no command (the process then serves).
    public static func run(_ arguments: [String], environment: [String: String] = ProcessInfo.processInfo.environment)
        async -> Int32?
    {
        guard arguments.count > 1 else { return nil }
        guard arguments[1] == "explain-search", arguments.count == 3 else {
            FileHandle.standardError.write(Data("usage: directory explain-search 'q=…&category=…&facets=…'\n".utf8))
            return 2
        }
        var reader = ConfigReader(environment: environment)
        let url = reader.required("DATABASE_URL")
        let schema = reader.string("DATABASE_SCHEMA", default: ServiceName.directory.rawValue)
        let settings = DirectorySettings.read(&reader)
        do {
            try reader.validate()
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            return 2
        }
        let database = Database(
            DatabaseConfig(url: url, poolSize: 1, schema: schema, applicationName: "directory-command"),
            logger: Logger(label: "directory.command") { _ in SwiftLogNoOpLogHandler() })
        do {
            let request = try searchRequest(arguments[2])
            let search = AdvisorSearch(records: AdvisorRecords(graceSeconds: settings.presenceGraceSeconds))
            let plans = try await database.withConnection { connection in
                let known = Set(try connection.query("SELECT slug FROM categories").map { try $0.decode("slug", as: String.self) })
                return try search.plans(try AdvisorSearch.validate(request, categories: known), on: connection)
            }
            for (name, plan) in plans { print("-- \(name)\n\(plan)\n") }
            await database.close()
            return 0
        } catch {
            await database.close()
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            return 1
        }
    }

    /// The search a query string asks for, read as the gateway reads `GET /v1/advisors`.
    static func searchRequest(_ queryString: String) throws -> Directory.Search.Request {
        var request = Directory.Search.Request()
        for item in URLComponents(string: "?" + queryString)?.queryItems ?? [] {
            let value = item.value ?? ""
            switch item.name {
            case "q": request.q = value
            case "category": request.category = value
            case "status": request.status = Directory.Status(rawValue: value)
            case "maxPriceCents": request.maxPriceCents = Int(value)
            case "minRating": request.minRating = Double(value)
            case "language": request.language = value
            case "sort": request.sort = value
            case "facets": request.facets = ConfigReader.items(of: value)
            case "limit": request.limit = Int(value) ?? request.limit
            default: throw ServiceError(.validationFailed, "unknown parameter \(item.name)")
            }
        }
        return request
    }
}
