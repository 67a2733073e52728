import Foundation
import Instrumentation
public import Models

/// The producer side of "events with nothing lost": events are written in the same transaction
/// as the change they announce, and numbered only when the relay publishes them.
public enum Outbox {
    /// The channel `append` notifies for the outbox of `schema`: one per schema, so that a relay
    /// wakes for its own service's events only, though every service shares the database.
    public static func notificationChannel(schema: String) -> String {
        channelPrefix + schema
    }

    private static let channelPrefix = "outbox."

    /// On a relay's connection: `LISTEN` on the channel of its outbox (the connection's schema);
    /// returns the channel's name, as notifications will carry it.
    @discardableResult
    public static func listen(on connection: Connection) throws -> String {
        let channel = notificationChannel(schema: try currentSchema(of: connection))
        try connection.executeScript("LISTEN \(quoteIdentifier(channel))")
        return channel
    }

    /// Inside the caller's transaction: insert the event (payload = JSON text) and notify the
    /// channel of this schema's outbox, so its relay wakes.
    ///
    /// The notification is delivered on commit, and not at all on rollback, like the row. The
    /// event carries the trace of the request being served (`ServiceContext.current`), if any.
    public static func append(type: String, payload: String, on connection: Connection) throws {
        try connection.execute(
            "INSERT INTO outbox (type, payload, traceparent) VALUES ($1, $2::jsonb, $3)", type, payload,
            ServiceContext.current?.traceContext?.traceparent)
        try connection.execute("SELECT pg_notify($1 || current_schema(), '')", channelPrefix)
    }

    /// Appends every one of `events` (one type) in one statement and one notification, however
    /// many there are: for a change that tells thousands at once (a favorite advisor coming online).
    public static func append<Event: DomainEvent>(_ events: [Event], on connection: Connection) throws {
        guard !events.isEmpty else { return }
        let encoder = WireCoding.encoder()
        let payloads = try events.map { String(decoding: try encoder.encode($0), as: UTF8.self) }
        try connection.execute(
            "INSERT INTO outbox (type, payload, traceparent) SELECT $1, p::jsonb, $3 FROM unnest($2::text[]) WITH ORDINALITY AS e(p, n) ORDER BY n",
            Event.type, payloads, ServiceContext.current?.traceContext?.traceparent)
        try connection.execute("SELECT pg_notify($1 || current_schema(), '')", channelPrefix)
    }

    /// Appends `event` under its type, encoded as every bus participant encodes it.
    public static func append<Event: DomainEvent>(_ event: Event, on connection: Connection) throws {
        try append(type: Event.type, payload: String(decoding: try WireCoding.encoder().encode(event), as: UTF8.self), on: connection)
    }

    private static func currentSchema(of connection: Connection) throws -> String {
        try connection.queryOne("SELECT current_schema() AS schema")?.decode("schema", as: String?.self) ?? "public"
    }

    /// Relay (leader only): in ONE transaction, stamp every unstamped row in id order with seq = max(seq)+1, +2, … (dense); return them as (seq, type, payload, occurredAt) in seq order. Limit per call (e.g. 1000).
    ///
    /// Call it inside `database.transaction { }` (read committed, the default) and publish the
    /// returned events after the commit. Only committed rows are seen, so an insert whose
    /// transaction commits late is stamped later, after the rows stamped meanwhile: seq order
    /// is publish order. A transaction-scoped advisory lock serializes stampers, so even two
    /// relays that both believe they lead cannot hand out one seq twice. Throws if no
    /// transaction is open.
    public static func stampPending(on connection: Connection, producer: String, limit: Int = 1000) throws -> [Events.StoredEvent] {
        try connection.requireTransaction("Outbox.stampPending")
        let schema = try currentSchema(of: connection)
        try connection.execute("SELECT pg_advisory_xact_lock($1)", advisoryLockKey("outbox", schema))
        // A fresh statement after the lock, so max(seq) includes what the previous holder stamped.
        let rows = try connection.query(
            """
            WITH pending AS (
                SELECT id FROM outbox WHERE seq IS NULL ORDER BY id LIMIT $1 FOR UPDATE
            ), numbered AS (
                SELECT id, row_number() OVER (ORDER BY id) AS position FROM pending
            ), top AS (
                SELECT coalesce(max(seq), 0) AS seq FROM outbox
            )
            UPDATE outbox SET seq = top.seq + numbered.position
            FROM numbered, top
            WHERE outbox.id = numbered.id
            RETURNING outbox.seq, outbox.type, outbox.payload::text AS payload, outbox.occurred_at, outbox.traceparent
            """, limit)
        return try rows.map { try storedEvent($0, producer: producer) }.sorted { $0.metadata.seq < $1.metadata.seq }
    }

    /// Stamped events with seq > after, ascending, up to limit; and the last stamped seq (0 if none).
    ///
    /// `lastSeq` is read after the events, so it is never below the last event returned; a
    /// consumer that got fewer events than `lastSeq - after` asks again from its new position.
    public static func events(after: Int64, limit: Int, producer: String, on connection: Connection) throws -> (events: [Events.StoredEvent], lastSeq: Int64) {
        let events = try connection.query(
            """
            SELECT seq, type, payload::text AS payload, occurred_at, traceparent FROM outbox
            WHERE seq > $1 ORDER BY seq LIMIT $2
            """, after, limit
        ).map { try storedEvent($0, producer: producer) }
        return (events, try lastSeq(on: connection))
    }

    // MARK: Pruning

    /// Records that `consumer` has applied every event up to `seq`; never moves its mark back.
    public static func acknowledge(consumer: String, seq: Int64, on connection: Connection) throws {
        try connection.execute(
            """
            INSERT INTO event_consumers (consumer, last_seq) VALUES ($1, $2)
            ON CONFLICT (consumer) DO UPDATE
            SET last_seq = greatest(event_consumers.last_seq, excluded.last_seq), acknowledged_at = now()
            """, consumer, seq)
    }

    /// Deletes up to `limit` published events that every known consumer has acknowledged and that
    /// are older than `retention`; returns how many. Unpublished events stay, and so does the
    /// newest published one: the relay numbers on from it, and a replay answers it.
    ///
    /// A consumer that has never acknowledged is unknown and does not hold events back, which is
    /// why `retention` exists: it is how long a new consuming service may take to start and still
    /// find every event from the beginning (later it starts at the oldest event kept).
    public static func prune(olderThan retention: Duration, limit: Int, on connection: Connection) throws -> Int {
        try connection.execute(
            """
            DELETE FROM outbox WHERE id IN (
                SELECT id FROM outbox
                WHERE seq IS NOT NULL
                  AND seq < (SELECT max(seq) FROM outbox)
                  AND seq <= coalesce((SELECT min(last_seq) FROM event_consumers), 9223372036854775807)
                  AND occurred_at < now() - make_interval(secs => $1)
                ORDER BY seq LIMIT $2)
            """, Double(retention.components.seconds), limit)
    }

    /// The highest sequence stamped so far (0 if none): what the relay's heartbeat announces.
    public static func lastSeq(on connection: Connection) throws -> Int64 {
        try connection.queryOne("SELECT coalesce(max(seq), 0) AS last_seq FROM outbox")?.decode("last_seq") ?? 0
    }

    private static func storedEvent(_ row: Row, producer: String) throws -> Events.StoredEvent {
        Events.StoredEvent(
            metadata: EventMetadata(
                producer: producer, seq: try row.decode("seq"), type: try row.decode("type"),
                occurredAt: try row.decode("occurred_at"), traceparent: try row.decode("traceparent")),
            payload: try row.decode("payload"))
    }
}
