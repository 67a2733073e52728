public import Foundation

/// Reads a process's settings from its environment (and an optional `.env` file), collecting every
/// problem so that start-up names all of them at once instead of failing on the first.
public struct ConfigReader {
    private let values: [String: String]
    private(set) var problems: [String] = []

    /// Reads from `environment`, with lines of the `.env` file at `dotEnvPath` (when it exists) as
    /// defaults that the real environment overrides.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment, dotEnvPath: String? = ".env") {
        var merged = dotEnvPath.flatMap(Self.readDotEnv(at:)) ?? [:]
        merged.merge(environment) { _, real in real }
        self.values = merged
    }

    /// The raw value, nil when unset or empty.
    public func raw(_ name: String) -> String? {
        guard let value = values[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        return value
    }

    /// A comma-separated list, each item trimmed, empty items dropped; empty when unset.
    public func list(_ name: String) -> [String] {
        Self.items(of: raw(name) ?? "")
    }

    /// The items of a comma-separated value, each trimmed, empty ones dropped.
    public static func items(of text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// A required string; records a problem when missing.
    public mutating func required(_ name: String) -> String {
        guard let value = raw(name) else {
            problems.append("\(name) is required")
            return ""
        }
        return value
    }

    /// A string with a default.
    public func string(_ name: String, default fallback: String) -> String {
        raw(name) ?? fallback
    }

    /// An integer within `range`, or the default when unset.
    public mutating func int(_ name: String, default fallback: Int, in range: ClosedRange<Int>) -> Int {
        guard let text = raw(name) else { return fallback }
        guard let value = Int(text), range.contains(value) else {
            problems.append("\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound), not '\(text)'")
            return fallback
        }
        return value
    }

    /// One of a fixed set of words, or the default when unset.
    public mutating func choice(_ name: String, default fallback: String, from allowed: [String]) -> String {
        guard let text = raw(name)?.lowercased() else { return fallback }
        guard allowed.contains(text) else {
            problems.append("\(name) must be one of \(allowed.joined(separator: ", ")), not '\(text)'")
            return fallback
        }
        return text
    }

    /// A ZeroMQ endpoint (`tcp://host:port`, `ipc://path` or `inproc://name`).
    public mutating func endpoint(_ name: String, default fallback: String) -> String {
        let value = string(name, default: fallback)
        let schemes = ["tcp://", "ipc://", "inproc://"]
        if !schemes.contains(where: value.hasPrefix) || value.count < 8 {
            problems.append("\(name) must be a ZeroMQ endpoint such as tcp://127.0.0.1:5555, not '\(value)'")
        }
        return value
    }

    /// An http(s) URL with a host (an outside provider's API, a public address), without a
    /// trailing slash; records a problem for anything else.
    public mutating func httpURL(_ name: String, default fallback: String) -> String {
        var value = string(name, default: fallback)
        if URL(string: value)?.host == nil || !(value.hasPrefix("http://") || value.hasPrefix("https://")) {
            problems.append("\(name) must be an http(s) URL, got \"\(value)\"")
        }
        if value.hasSuffix("/") { value.removeLast() }
        return value
    }

    /// Records a problem found by the caller's own checks.
    public mutating func problem(_ message: String) {
        problems.append(message)
    }

    /// Throws every recorded problem at once.
    public func validate() throws(ConfigurationError) {
        if !problems.isEmpty { throw ConfigurationError(problems: problems) }
    }

    private static func readDotEnv(at path: String) -> [String: String]? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        var result: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty, !trimmed.hasPrefix("#"), let equals = trimmed.firstIndex(of: "=") else { continue }
            let key = trimmed[..<equals].trimmingCharacters(in: .whitespaces)
            var value = trimmed[trimmed.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, let first = value.first, first == "\"" || first == "'", value.last == first {
                value = String(value.dropFirst().dropLast())
            }
            result[key] = value
        }
        return result
    }
}

/// Every setting that was missing or malformed at start-up.
public struct ConfigurationError: Error, CustomStringConvertible {
    public let problems: [String]
    public var description: String {
        "invalid configuration:\n" + problems.map { "  - \($0)" }.joined(separator: "\n")
    }
}
