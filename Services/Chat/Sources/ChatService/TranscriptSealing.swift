import Foundation
import PlatformSecurity
import Store
import Synchronization

/// How a transcript is sealed at rest: each chat has its own random key, which messages are sealed
/// under (AES-256-GCM, bound to chat, number and sender); that key is stored only sealed for each
/// participant, under a key derived from `CHAT_DATA_KEY` and the person's id. A database dump
/// alone reveals no text; erasing a person deletes their copy of the key and their messages.
struct TranscriptSealing: Sendable {
    let dataKey: Data
    /// Chat keys already opened, per chat and participant: a message costs no key query and no
    /// unsealing after the first. They are derivable from `dataKey`, which this process holds
    /// anyway; an erased person's entry is never used again (nothing names them in the chat).
    let openedKeys = OpenedChatKeys()

    init(dataKey: Data) {
        self.dataKey = dataKey
    }

    /// A participant's key: one HMAC of their id under the master key.
    private func participantKey(_ accountId: UUID) throws -> KeyRing {
        let material = HMAC.sha256(key: dataKey, message: Data("chat.participant|\(accountId.uuidString.lowercased())".utf8))
        return try KeyRing(current: SealingKey(id: "participant", material: material))
    }

    private static func binding(_ parts: String...) -> Data { Data(parts.joined(separator: "|").utf8) }

    func newChatKey() -> Data { SecureRandom.bytes(32) }

    func sealChatKey(_ chatKey: Data, chatId: UUID, for accountId: UUID) throws -> Data {
        try participantKey(accountId).seal(chatKey, associatedData: Self.binding("chat-key", chatId.uuidString, accountId.uuidString))
    }

    func openChatKey(_ sealed: Data, chatId: UUID, for accountId: UUID) throws -> Data {
        try participantKey(accountId).open(sealed, associatedData: Self.binding("chat-key", chatId.uuidString, accountId.uuidString))
    }

    /// The chat's key, opened with `accountId`'s own copy (404 when they have none).
    func chatKey(_ chatId: UUID, for accountId: UUID, on connection: Connection) throws -> Data {
        if let key = openedKeys.key(chatId, accountId) { return key }
        guard
            let row = try connection.queryOne(
                "SELECT sealed_key FROM chat_keys WHERE chat_id = $1 AND account_id = $2", chatId, accountId)
        else { throw ChatHandlers.noSuchChat }
        let key = try openChatKey(try row.decode("sealed_key"), chatId: chatId, for: accountId)
        openedKeys.remember(key, chatId, accountId)
        return key
    }

    func sealText(_ text: String, chatKey: Data, chatId: UUID, seq: Int64, senderId: UUID) throws -> Data {
        try KeyRing(current: SealingKey(id: "chat", material: chatKey))
            .seal(Data(text.utf8), associatedData: Self.binding("message", chatId.uuidString, "\(seq)", senderId.uuidString))
    }

    func openText(_ sealed: Data, chatKey: Data, chatId: UUID, seq: Int64, senderId: UUID) throws -> String {
        let data = try KeyRing(current: SealingKey(id: "chat", material: chatKey))
            .open(sealed, associatedData: Self.binding("message", chatId.uuidString, "\(seq)", senderId.uuidString))
        return String(decoding: data, as: UTF8.self)
    }
}

/// The opened chat keys of one process, up to `capacity` (then forgotten all at once: a chat's
/// next message opens its key again).
final class OpenedChatKeys: Sendable {
    private struct Entry: Hashable {
        let chatId: UUID
        let accountId: UUID
    }

    private let keys = Mutex<[Entry: Data]>([:])
    private let capacity = 50_000

    func key(_ chatId: UUID, _ accountId: UUID) -> Data? {
        keys.withLock { $0[Entry(chatId: chatId, accountId: accountId)] }
    }

    func remember(_ key: Data, _ chatId: UUID, _ accountId: UUID) {
        keys.withLock { table in
            if table.count >= capacity { table.removeAll(keepingCapacity: true) }
            table[Entry(chatId: chatId, accountId: accountId)] = key
        }
    }
}
