/// The consumer side of "events with nothing lost": per producer, the last seq applied, advanced
/// in the same transaction as the event's effect, so applying an event twice is impossible.
public enum EventCursor {
    /// SELECT … FOR UPDATE the consumer's cursor for a producer (inserting 0 if missing), inside a transaction.
    ///
    /// Concurrent consumers of one producer queue here until the holder commits, and then see
    /// its advance: the first to lock applies an event, the rest find it already applied.
    public static func lock(producer: String, on connection: Connection) throws -> Int64 {
        try connection.requireTransaction("EventCursor.lock")
        try connection.execute(
            "INSERT INTO event_cursors (producer, last_seq) VALUES ($1, 0) ON CONFLICT (producer) DO NOTHING", producer)
        guard let row = try connection.queryOne("SELECT last_seq FROM event_cursors WHERE producer = $1 FOR UPDATE", producer) else {
            throw StoreError.queryFailed.with(context: "the event cursor row vanished while being locked")
        }
        return try row.decode("last_seq")
    }

    /// Moves the producer's cursor to `seq` (creating it if missing). Never moves it backwards:
    /// that throws `StoreError.queryFailed`, since it would mean applying events twice.
    public static func advance(producer: String, to seq: Int64, on connection: Connection) throws {
        let changed = try connection.execute(
            """
            INSERT INTO event_cursors (producer, last_seq) VALUES ($1, $2)
            ON CONFLICT (producer) DO UPDATE SET last_seq = excluded.last_seq
            WHERE event_cursors.last_seq <= excluded.last_seq
            """, producer, seq)
        guard changed == 1 else {
            throw StoreError.queryFailed.with(context: "the event cursor would move backwards")
        }
    }

    /// The producer's cursor: the last seq applied, 0 if none yet. Takes no lock.
    public static func current(producer: String, on connection: Connection) throws -> Int64 {
        try connection.queryOne("SELECT last_seq FROM event_cursors WHERE producer = $1", producer)?.decode("last_seq") ?? 0
    }
}
