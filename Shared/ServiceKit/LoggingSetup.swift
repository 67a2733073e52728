public import Logging
import Foundation
import Instrumentation
import Models

/// How a process writes its log: human-readable lines or one JSON object per line.
public enum LogFormat: String, Sendable {
    case text, json
}

/// Bootstraps swift-log once per process.
public enum LoggingSetup {
    /// Installs the process-wide log handler; call once, first thing in `main`.
    ///
    /// Every line written while a request is served carries its `request.id` and `trace.id`,
    /// whichever logger wrote it (`requestMetadata`).
    public static func bootstrap(format: LogFormat, level: Logger.Level) {
        LoggingSystem.bootstrap(
            { label, provider in
                var handler: any LogHandler
                switch format {
                case .text: handler = StreamLogHandler.standardError(label: label, metadataProvider: provider)
                case .json: handler = JSONLogHandler(label: label, metadataProvider: provider)
                }
                handler.logLevel = level
                return handler
            }, metadataProvider: requestMetadata)
    }

    /// The request id and trace id of the work the current task does (`ServiceContext.current`).
    public static let requestMetadata = Logger.MetadataProvider {
        guard let context = ServiceContext.current else { return [:] }
        var metadata: Logger.Metadata = [:]
        if let id = context.requestId { metadata["request.id"] = "\(id)" }
        if let trace = context.traceContext { metadata["trace.id"] = "\(trace.traceId)" }
        return metadata
    }
}

/// Writes one JSON object per line to standard error: `time`, `level`, `label`, `message` and the
/// metadata keys, so log pipelines can index them without parsing text.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level = .info
    private let label: String

    public init(label: String, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields: [String: String] = [
            "time": Date().formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true)),
            "level": event.level.rawValue,
            "label": label,
            "message": "\(event.message)",
        ]
        let merged = metadata.merging(metadataProvider?.get() ?? [:]) { _, new in new }
            .merging(event.metadata ?? [:]) { _, new in new }
        for (key, value) in merged where fields[key] == nil {
            fields[key] = "\(value)"
        }
        guard var line = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]) else { return }
        line.append(0x0A)
        FileHandle.standardError.write(line)
    }
}
