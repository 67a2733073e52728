import Foundation
import Security

/// How a transcript is sealed at rest: each chat has its own random key, which messages are sealed
/// under (AES-256-GCM, bound to chat, number and sender); that key is stored only sealed for each
/// participant, under a key derived from `CHAT_DATA_KEY` and the person's id. A database dump
/// alone reveals no text; erasing a person deletes their copy of the key and their messages.
struct TranscriptSealing: Sendable {
    let dataKey: Data

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
