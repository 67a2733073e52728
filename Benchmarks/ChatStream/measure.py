"""Drives Benchmarks/ChatStream/run: many chats over GET /v1/stream through two gateways.

Members connect to the first gateway and advisors to the second. Two phases over the same
connections, each at the same target rate: the stream's ping → pong (a bare WebSocket echo
through the gateway, no bus), then chat messages sent with `chat.send`, each timed from the moment
it is sent to the moment the other side receives it. Every acknowledged message must reach the
other side exactly once; the benchmark counts what did not, and what came twice.
"""
import argparse
import asyncio
import concurrent.futures
import json
import os
import random
import sys
import time

from websockets.asyncio.client import connect

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from benchlib import TICKS, call, cpu_ticks, processes  # noqa: E402

PASSWORD = "chat stream benchmark passphrase"
FILLER = "The cards speak of a journey and a letter. " * 2


def http(method, url, body=None, token=None, address=None):
    return call(method, url, body, token, address=address, retries=20)


def person(gateway, policy, index, role):
    """Registers and signs in one person (from an address of their own); an advisor also
    completes a profile and goes online."""
    address = "10.%d.%d.%d" % (index // 65536 % 256, index // 256 % 256, index % 256)
    email = "%s-%d-%d@bench.example" % (role, os.getpid(), index)
    body = {"email": email, "password": PASSWORD, "displayName": "%s %d" % (role.title(), index), "role": role,
            "acceptPolicyVersion": policy}
    account = http("POST", gateway + "/v1/accounts", body, address=address)
    token = http("POST", gateway + "/v1/sessions", {"email": email, "password": PASSWORD}, address=address)["token"]
    if role == "advisor":
        http("PUT", gateway + "/v1/advisors/me",
             {"headline": "Benchmark readings", "categories": ["tarot"], "pricePerMinuteCents": 199}, token)
        http("PUT", gateway + "/v1/advisors/me/status", {"status": "online"}, token)
    return account["id"], token


class Client:
    """One WebSocket on the stream, with what it received."""

    def __init__(self, name):
        self.name = name
        self.socket = None
        self.ready = asyncio.Event()
        self.pongs = asyncio.Queue()
        self.acks = {}
        self.seen = {}  # chatId -> set of seq
        self.duplicates = 0
        self.latencies = None  # shared list, set per phase

    async def open(self, url, token):
        self.socket = await connect(url.replace("http://", "ws://") + "/v1/stream", subprotocols=["advisor-stream.v1", "bearer." + token],
                                    max_size=1 << 20, ping_interval=None, open_timeout=60, max_queue=None)
        self.reader = asyncio.create_task(self.read())
        await self.ready.wait()

    async def read(self):
        async for text in self.socket:
            now = time.monotonic_ns()
            message = json.loads(text)
            kind = message.get("type")
            if kind == "chat.message":
                seqs = self.seen.setdefault(message["chatId"], set())
                if message["seq"] in seqs:
                    self.duplicates += 1
                seqs.add(message["seq"])
                if message["senderId"] != self.name and self.latencies is not None:
                    sent = int(message["text"].split(":", 2)[1])
                    self.latencies.append((now - sent) / 1e6)
            elif kind == "pong":
                self.pongs.put_nowait(now)
            elif kind == "chat.sent":
                self.acks[message["clientMessageId"]] = message["message"]["seq"]
            elif kind == "ready":
                self.ready.set()


def summary(latencies):
    if not latencies:
        return float("nan"), float("nan"), float("nan")
    ordered = sorted(latencies)
    return ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], ordered[-1]


async def paced(rate, seconds, send):
    """Calls send(i) `rate` times a second for `seconds`, in 10 ms slices."""
    start = time.monotonic()
    sent = 0
    total = rate * seconds
    while sent < total:
        due = min(total, int((time.monotonic() - start) * rate) + 1)
        while sent < due:
            await send(sent)
            sent += 1
        await asyncio.sleep(0.01)
    return time.monotonic() - start


def rss_kib(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gateways", nargs=2, required=True)
    parser.add_argument("--bin-dir", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--chats", type=int, default=1000)
    parser.add_argument("--rates", default="500 1000")
    parser.add_argument("--seconds", type=int, default=60)
    options = parser.parse_args()
    members_gateway, advisors_gateway = options.gateways
    chats = options.chats

    policy = http("GET", members_gateway + "/v1/privacy/policy")["version"]
    print("creating %d members and %d advisors (password hashing: a few minutes)…" % (chats, chats), flush=True)
    started = time.monotonic()
    loop = asyncio.get_running_loop()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        advisors = await asyncio.gather(*[loop.run_in_executor(pool, person, advisors_gateway, policy, i, "advisor") for i in range(chats)])
        members = await asyncio.gather(*[loop.run_in_executor(pool, person, members_gateway, policy, chats + i, "member") for i in range(chats)])
    print("  done in %.0f s" % (time.monotonic() - started), flush=True)

    groups = processes(options.bin_dir, options.data_dir)
    gateway_pids = sorted(pid for pid, name in groups.items() if name == "gateway")
    rss_before = {pid: rss_kib(pid) for pid in gateway_pids}
    member_clients = [Client(member_id) for member_id, _ in members]
    advisor_clients = [Client(advisor_id) for advisor_id, _ in advisors]
    print("connecting %d WebSocket clients…" % (2 * chats), flush=True)
    for start in range(0, chats, 100):
        await asyncio.gather(*[member_clients[i].open(members_gateway, members[i][1]) for i in range(start, min(chats, start + 100))],
                             *[advisor_clients[i].open(advisors_gateway, advisors[i][1]) for i in range(start, min(chats, start + 100))])
    rss_after = {pid: rss_kib(pid) for pid in gateway_pids}
    per_connection = [(rss_after[pid] - rss_before[pid]) / chats for pid in gateway_pids]

    print("starting %d chats…" % chats, flush=True)
    chat_ids = [None] * chats

    def begin(i):
        chat = http("POST", members_gateway + "/v1/chats", {"advisorId": advisors[i][0]}, members[i][1])
        http("POST", advisors_gateway + "/v1/chats/%s/accept" % chat["id"], None, advisors[i][1])
        chat_ids[i] = chat["id"]

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        await asyncio.gather(*[loop.run_in_executor(pool, begin, i) for i in range(chats)])

    everyone = member_clients + advisor_clients
    shown = ["gateway", "broker", "chat", "postgres"]
    print("\n%-30s %8s %8s %8s %8s %9s %6s %6s  %s" % (
        "", "target/s", "msgs/s", "p50 ms", "p99 ms", "max ms", "lost", "twice",
        "CPU µs per message: " + ", ".join(shown) + "; all"))
    counter = 0
    for rate in [int(value) for value in options.rates.split()]:
        # The echo: ping → pong over the same connections, at the same rate.
        echo = []

        async def ping(i):
            client = everyone[i % len(everyone)]
            sent = time.monotonic_ns()
            await client.socket.send('{"type":"ping"}')

            async def wait():
                echo.append((await client.pongs.get() - sent) / 1e6)
            asyncio.create_task(wait())

        before = cpu_ticks(groups)
        elapsed = await paced(rate, options.seconds, ping)
        await asyncio.sleep(1)
        after = cpu_ticks(groups)
        cpu = {name: (after.get(name, 0) - before.get(name, 0)) / TICKS * 1e6 / max(1, len(echo)) for name in after}
        p50, p99, worst = summary(echo)
        print("%-30s %8d %8.0f %8.1f %8.1f %9.1f %6d %6s  %s" % (
            "echo (ping → pong, no bus)", rate, len(echo) / elapsed, p50, p99, worst, rate * options.seconds - len(echo), "-",
            ", ".join("%.0f" % cpu.get(name, 0) for name in shown) + "; %.0f" % sum(cpu.values())), flush=True)

        # Chat messages: a random chat each time, member and advisor in turn.
        latencies = []
        for client in everyone:
            client.latencies = latencies
        expected = {}  # (sender, clientMessageId) -> chat index

        async def say(i):
            nonlocal counter
            counter += 1
            chat = random.randrange(chats)
            sender = member_clients[chat] if counter % 2 == 0 else advisor_clients[chat]
            client_message_id = "b%d" % counter
            expected[(sender, client_message_id)] = chat
            text = "%d:%d:%s" % (counter, time.monotonic_ns(), FILLER)
            await sender.socket.send(json.dumps(
                {"type": "chat.send", "chatId": chat_ids[chat], "text": text, "clientMessageId": client_message_id}))

        before = cpu_ticks(groups)
        elapsed = await paced(rate, options.seconds, say)
        after = cpu_ticks(groups)
        # Wait until every acknowledged message has reached the other side (or 30 s).
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            acked = sum(1 for sender, cid in expected if cid in sender.acks)
            if acked == len(expected) and len(latencies) >= acked:
                break
            await asyncio.sleep(0.2)
        for client in everyone:
            client.latencies = None
        lost = 0
        unacknowledged = 0
        for (sender, client_message_id), chat in expected.items():
            seq = sender.acks.get(client_message_id)
            if seq is None:
                unacknowledged += 1
                continue
            other = advisor_clients[chat] if sender is member_clients[chat] else member_clients[chat]
            if seq not in other.seen.get(chat_ids[chat], set()):
                lost += 1
        twice = sum(client.duplicates for client in everyone)
        cpu = {name: (after.get(name, 0) - before.get(name, 0)) / TICKS * 1e6 / max(1, len(latencies)) for name in after}
        p50, p99, worst = summary(latencies)
        print("%-30s %8d %8.0f %8.1f %8.1f %9.1f %6d %6d  %s" % (
            "chat.send → the other side", rate, len(latencies) / elapsed, p50, p99, worst, lost, twice,
            ", ".join("%.0f" % cpu.get(name, 0) for name in shown) + "; %.0f" % sum(cpu.values())), flush=True)
        if unacknowledged:
            print("  %d sends were not acknowledged within 30 s of the end" % unacknowledged)

    print("\ngateway memory per connection: " + ", ".join("%.1f KiB" % value for value in per_connection)
          + " (RSS growth over %d connections each)" % chats)
    for client in everyone:
        await client.socket.close()


if __name__ == "__main__":
    asyncio.run(main())
