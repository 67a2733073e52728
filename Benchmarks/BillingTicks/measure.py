"""Drives chat minute ticks into billing through the real path (the chat service's outbox, its
relay, the broker, billing's event consumer) and measures what billing applies: the capacity
(ticks per second while a backlog drains) and, at a paced rate, the latency from a tick written
to the outbox to billing's commit of its charge (seen as billing's event cursor passing it).

Ticks are `chat.minute-started.v1` events of CHATS open chats, written straight into the chat
service's outbox (the chat service relays them as it relays its own); billing knows each chat
and each member's wallet is funded, so every tick is a real two-phase charge: a wallet, the
advisor's earnings and the platform's revenue, entries and balances, in billing's schema.
"""
import argparse
import json
import threading
import time
import uuid

import psycopg


def setup(conn, chats):
    """Open chats billing knows, and funded wallets (one balanced transfer from clearing)."""
    rows = [(uuid.uuid4(), uuid.uuid4(), uuid.uuid4()) for _ in range(chats)]
    funds = 100_000_000
    with conn.cursor() as cur:
        cur.execute("SET search_path TO billing")
        cur.executemany("INSERT INTO chats (id, member_id, advisor_id, price_cents) VALUES (%s, %s, %s, 100)", rows)
        cur.executemany(
            "INSERT INTO ledger_accounts (id, kind, owner_id, balance_cents) VALUES (%s, 'wallet', %s, %s)",
            [(uuid.uuid4(), member, funds) for _, member, _ in rows])
        cur.execute("INSERT INTO transfers (id, kind) VALUES ('bench-funds', 'top-up')")
        cur.execute(
            """INSERT INTO entries (transfer_id, account_id, amount_cents, balance_after_cents)
               SELECT 'bench-funds', id, balance_cents, balance_cents FROM ledger_accounts WHERE kind = 'wallet'""")
        cur.execute(
            """UPDATE ledger_accounts SET balance_cents = balance_cents - %s
               WHERE id = '00000000-0000-0000-0000-00000000000c' RETURNING balance_cents""", (funds * chats,))
        clearing = cur.fetchone()[0]
        cur.execute(
            """INSERT INTO entries (transfer_id, account_id, amount_cents, balance_after_cents)
               VALUES ('bench-funds', '00000000-0000-0000-0000-00000000000c', %s, %s)""", (-funds * chats, clearing))
    conn.commit()
    return rows


INSERT = """
INSERT INTO chat.outbox (type, payload)
SELECT 'chat.minute-started.v1', json_build_object(
    'chatId', c, 'memberId', m, 'advisorId', a, 'minute', %s::int, 'pricePerMinuteCents', 100, 'free', false,
    'at', to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))::jsonb
FROM unnest(%s::uuid[], %s::uuid[], %s::uuid[]) AS t(c, m, a)
"""


class Ticks:
    """Writes ticks in order; remembers when tick number n (1-based, = its outbox seq) was written."""

    def __init__(self, conn, rows):
        self.conn = conn
        self.rows = rows
        self.written = 0
        self.minute = 1
        self.offset = 0
        self.marks = []  # (last tick number of a write, time)

    def write(self, count):
        while count > 0:
            take = min(count, len(self.rows) - self.offset)
            part = self.rows[self.offset:self.offset + take]
            with self.conn.cursor() as cur:
                cur.execute(INSERT, (self.minute, [r[0] for r in part], [r[1] for r in part], [r[2] for r in part]))
                cur.execute("SELECT pg_notify('outbox.chat', '')")
            self.written += take
            self.marks.append((self.written, time.monotonic()))
            self.offset += take
            count -= take
            if self.offset == len(self.rows):
                self.offset = 0
                self.minute += 1


class Cursor(threading.Thread):
    """Polls billing's position in the chat service's events every 2 ms: (time, last applied)."""

    def __init__(self, dsn):
        super().__init__(daemon=True)
        self.conn = psycopg.connect(dsn, autocommit=True)
        self.seen = []
        self.running = True

    def run(self):
        with self.conn.cursor() as cur:
            while self.running:
                cur.execute("SELECT coalesce((SELECT last_seq FROM billing.event_cursors WHERE producer = 'chat'), 0)")
                self.seen.append((time.monotonic(), cur.fetchone()[0]))
                time.sleep(0.002)

    def position(self):
        return self.seen[-1][1] if self.seen else 0

    def wait_for(self, total, timeout):
        deadline = time.monotonic() + timeout
        while self.position() < total and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.position() >= total


def latencies(marks, seen, first, last):
    """Per tick in (first, last]: the first poll that saw it applied, minus when it was written."""
    result = []
    j = 0
    previous = 0
    for number_end, written_at in marks:
        start = previous
        previous = number_end
        if number_end <= first or start >= last:
            continue
        while j < len(seen) and seen[j][1] < number_end:
            j += 1
        if j == len(seen):
            break
        applied_at = seen[j][0]
        result.extend([applied_at - written_at] * (min(number_end, last) - max(start, first)))
    return sorted(result)


def percentile(values, p):
    return values[min(len(values) - 1, int(len(values) * p))] if values else float("nan")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--label", required=True)
    parser.add_argument("--chats", type=int, default=1000)
    parser.add_argument("--backlog", type=int, default=20000)
    parser.add_argument("--rate", type=int, default=2000)
    parser.add_argument("--seconds", type=int, default=20)
    args = parser.parse_args()

    conn = psycopg.connect(args.dsn, autocommit=False)
    rows = setup(conn, args.chats)
    conn.autocommit = True
    ticks = Ticks(conn, rows)
    cursor = Cursor(args.dsn)
    cursor.start()

    # Capacity: a backlog written at once, drained as fast as billing can.
    started = time.monotonic()
    ticks.write(args.backlog)
    if not cursor.wait_for(ticks.written, 600):
        raise SystemExit(f"{args.label}: billing applied {cursor.position()} of {ticks.written} ticks in 10 minutes")
    drained = cursor.seen[-1][0] - started
    capacity = args.backlog / drained

    # Paced: the target rate for a while, written every 10 ms.
    first = ticks.written
    begin = time.monotonic()
    while time.monotonic() - begin < args.seconds:
        due = int((time.monotonic() - begin) * args.rate) - (ticks.written - first)
        if due > 0:
            ticks.write(due)
        time.sleep(0.01)
    paced_seconds = time.monotonic() - begin
    cursor.wait_for(ticks.written, 120)
    cursor.running = False
    cursor.join()
    waits = latencies(ticks.marks, cursor.seen, first, ticks.written)
    applied_rate = (ticks.written - first) / paced_seconds
    print(json.dumps({
        "label": args.label, "chats": args.chats, "backlog": args.backlog, "capacity_ticks_per_s": round(capacity),
        "paced_target_per_s": args.rate, "paced_written_per_s": round(applied_rate),
        "p50_ms": round(percentile(waits, 0.50) * 1000, 1), "p99_ms": round(percentile(waits, 0.99) * 1000, 1),
        "max_ms": round(waits[-1] * 1000, 1) if waits else None, "ticks": ticks.written,
    }))


if __name__ == "__main__":
    main()
