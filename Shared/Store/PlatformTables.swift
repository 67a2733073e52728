/// The tables every event-producing or event-consuming service holds in its own schema.
public enum PlatformTables {
    /// The table recording which of `migrations` were applied, apart from a service's own.
    public static let migrationTable = "platform_migrations"

    /// Migrations (versions 1…) creating, in the service's schema:
    ///   outbox(id bigserial primary key, type text not null, payload jsonb not null, occurred_at timestamptz not null default now(), seq bigint unique) with an index for unstamped rows (WHERE seq IS NULL) and on seq;
    ///   event_cursors(producer text primary key, last_seq bigint not null);
    ///   outbox.traceparent (the W3C trace of the work that wrote the event);
    ///   event_consumers(consumer text primary key, last_seq, acknowledged_at): how far each known
    ///   consumer has applied this service's events, so the outbox can be pruned behind them all
    /// applied with table "platform_migrations" so they never collide with a service's own numbering.
    ///
    /// Apply them with `database.migrate(PlatformTables.migrations, table: PlatformTables.migrationTable)`.
    public static let migrations: [Migration] = [
        Migration(
            version: 1, name: "create_outbox",
            sql: """
                CREATE TABLE outbox (
                    id bigserial PRIMARY KEY,
                    type text NOT NULL,
                    payload jsonb NOT NULL,
                    occurred_at timestamptz NOT NULL DEFAULT now(),
                    -- Stamped by the relay at publish time, dense from 1; the UNIQUE index also serves lookups by seq.
                    seq bigint UNIQUE
                );
                -- The relay's work list: small, because rows leave it as soon as they are stamped.
                CREATE INDEX outbox_unstamped ON outbox (id) WHERE seq IS NULL;
                """),
        Migration(
            version: 2, name: "create_event_cursors",
            sql: """
                CREATE TABLE event_cursors (
                    producer text PRIMARY KEY,
                    last_seq bigint NOT NULL CHECK (last_seq >= 0)
                );
                """),
        Migration(
            version: 3, name: "outbox_traceparent",
            sql: """
                -- The trace of the request that wrote the event, carried on to the events' consumers.
                ALTER TABLE outbox ADD COLUMN traceparent text;
                """),
        Migration(
            version: 4, name: "create_event_consumers",
            sql: """
                -- The producer's side of pruning: each service that applies this one's events, and
                -- the last sequence it has acknowledged applying.
                CREATE TABLE event_consumers (
                    consumer text PRIMARY KEY,
                    last_seq bigint NOT NULL CHECK (last_seq >= 0),
                    acknowledged_at timestamptz NOT NULL DEFAULT now()
                );
                """),
    ]
}
