public import Foundation
public import ServiceKit

/// What the chat service needs beyond the settings every worker service has.
public struct ChatSettings: Sendable {
    /// The master key each chat's key is sealed under, per participant (`CHAT_DATA_KEY`, base64 of
    /// 32 random bytes; the database never holds it).
    public var dataKey: Data
    /// How long an advisor has to accept a chat asked of them (`CHAT_ACCEPT_SECONDS`).
    public var acceptSeconds: Int
    /// The longest message, in characters (`CHAT_MESSAGE_MAX_CHARACTERS`).
    public var maxMessageCharacters: Int
    /// How long both sides may stay silent before an active chat ends (`CHAT_SILENCE_SECONDS`).
    public var silenceSeconds: Int
    /// How long a chat may stay paused while the member adds funds before it ends
    /// (`CHAT_PAUSE_SECONDS`).
    public var pauseSeconds: Int

    public init(
        dataKey: Data, acceptSeconds: Int = 60, maxMessageCharacters: Int = 4000, silenceSeconds: Int = 300, pauseSeconds: Int = 180
    ) {
        self.dataKey = dataKey
        self.acceptSeconds = acceptSeconds
        self.maxMessageCharacters = maxMessageCharacters
        self.silenceSeconds = silenceSeconds
        self.pauseSeconds = pauseSeconds
    }

    /// Reads the `CHAT_*` variables; nil, with the problems named, when the key is missing or malformed.
    public static func read(_ reader: inout ConfigReader) -> ChatSettings? {
        let encoded = reader.required("CHAT_DATA_KEY")
        let accept = reader.int("CHAT_ACCEPT_SECONDS", default: 60, in: 1...600)
        let longest = reader.int("CHAT_MESSAGE_MAX_CHARACTERS", default: 4000, in: 1...20_000)
        let silence = reader.int("CHAT_SILENCE_SECONDS", default: 300, in: 5...86_400)
        let pause = reader.int("CHAT_PAUSE_SECONDS", default: 180, in: 5...3600)
        guard !encoded.isEmpty else { return nil }
        guard let key = Data(base64Encoded: encoded), key.count == 32 else {
            reader.problem("CHAT_DATA_KEY must be 32 random bytes in base64")
            return nil
        }
        return ChatSettings(
            dataKey: key, acceptSeconds: accept, maxMessageCharacters: longest, silenceSeconds: silence, pauseSeconds: pause)
    }
}
