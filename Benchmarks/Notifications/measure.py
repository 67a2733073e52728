"""Drives Benchmarks/Notifications/run: campaign email through the sandbox's SMTP server with DKIM
on, beside the relay's own floor (smtplib); and boards replies to the in-app notice on the
author's stream, beside the stream's bare ping → pong."""
import argparse
import asyncio
import concurrent.futures
import json
import os
import smtplib
import sys
import time
import urllib.request
from email.message import EmailMessage

from websockets.asyncio.client import connect

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from benchlib import TICKS, call, cpu_ticks, processes  # noqa: E402

PASSWORD = "notifications benchmark passphrase"
TEXT = ("Three new astrologers joined this week, and our tarot readers have new hours. " * 3 + "\n\n") * 3


def http(method, url, body=None, token=None, address=None):
    return call(method, url, body, token, address=address, retries=20)


def received(sandbox):
    with urllib.request.urlopen(sandbox + "/v1/sandbox/mail/stats", timeout=30) as answer:
        return json.loads(answer.read())["received"]


def wait_for(sandbox, count, timeout):
    deadline = time.monotonic() + timeout
    while received(sandbox) < count:
        if time.monotonic() > deadline:
            raise SystemExit("only %d of %d emails arrived in %d s" % (received(sandbox), count, timeout))
        time.sleep(0.05)
    return time.monotonic()


def member(gateway, policy, index):
    """Registers one person with marketing email on, from an address of their own."""
    address = "10.%d.%d.%d" % (index // 65536 % 256, index // 256 % 256, index % 256)
    email = "member-%d-%d@bench.example" % (os.getpid(), index)
    http("POST", gateway + "/v1/accounts",
         {"email": email, "password": PASSWORD, "displayName": "Member %d" % index, "role": "member", "acceptPolicyVersion": policy,
          "marketingEmailOptIn": True}, address=address)
    return email, address


def percentiles(values):
    if not values:
        return float("nan"), float("nan"), float("nan")
    ordered = sorted(values)
    return ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], ordered[-1]


def smtplib_floor(port, count, size):
    """The relay's own pace: `count` messages of about `size` bytes over one connection."""
    message = EmailMessage()
    message["From"] = "floor@advisor.test"
    message["To"] = "floor@bench.example"
    message["Subject"] = "floor"
    message.set_content("x" * size)
    start = time.monotonic()
    with smtplib.SMTP("127.0.0.1", port) as client:
        for _ in range(count):
            client.send_message(message)
    return count / (time.monotonic() - start)


async def in_app(options, policy):
    """Replies on a thread at `rate` a second; each timed from its answer to the author's push."""
    owner_email, owner_address = member(options.gateway, policy, 900000)
    replier_email, replier_address = member(options.gateway, policy, 900001)
    owner = http("POST", options.gateway + "/v1/sessions", {"email": owner_email, "password": PASSWORD}, address=owner_address)["token"]
    replier = http("POST", options.gateway + "/v1/sessions", {"email": replier_email, "password": PASSWORD}, address=replier_address)["token"]
    thread = http("POST", options.gateway + "/v1/boards/general/threads",
                  {"title": "Benchmark thread", "text": "Replies here", "acknowledgePublic": True}, owner)["id"]
    http("POST", options.gateway + "/v1/threads/%s/posts" % thread, {"text": "first", "acknowledgePublic": True}, replier)
    socket = await connect(options.gateway.replace("http://", "ws://") + "/v1/stream",
                           subprotocols=["advisor-stream.v1", "bearer." + owner], ping_interval=None, open_timeout=60, max_queue=None)
    pongs = asyncio.Queue()
    pushed = {}
    ready = asyncio.Event()

    async def read():
        async for text in socket:
            now = time.monotonic()
            message = json.loads(text)
            if message.get("type") == "ready":
                ready.set()
            elif message.get("type") == "pong":
                pongs.put_nowait(now)
            elif message.get("type") == "notification":
                post = message["notification"]["subject"].get("postId", "").lower()
                pushed[post] = now

    reader = asyncio.create_task(read())
    await ready.wait()
    echo = []
    # The stream takes 20 client messages a second (docs/api.md): the echo goes at 10.
    for _ in range(50):
        sent = time.monotonic()
        await socket.send(json.dumps({"type": "ping"}))
        echo.append((await pongs.get() - sent) * 1000)
        await asyncio.sleep(max(0, sent + 0.1 - time.monotonic()))
    loop = asyncio.get_running_loop()
    answered = {}
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        def reply(index):
            body = {"text": "reply %d" % index}
            post = call("POST", options.gateway + "/v1/threads/%s/posts" % thread, body, replier, retries=5)
            answered[post["id"].lower()] = time.monotonic()
        start = time.monotonic()
        futures = []
        for index in range(options.rate * options.seconds):
            due = start + index / options.rate
            await asyncio.sleep(max(0, due - time.monotonic()))
            futures.append(loop.run_in_executor(pool, reply, index))
        await asyncio.gather(*futures)
    deadline = time.monotonic() + 10
    while len([post for post in answered if post in pushed]) < len(answered) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    latencies = [(pushed[post] - at) * 1000 for post, at in answered.items() if post in pushed]
    reader.cancel()
    await socket.close()
    return echo, latencies, len(answered) - len(latencies)


def main():
    parser = argparse.ArgumentParser()
    for name in ("--gateway", "--sandbox", "--bin-dir", "--data-dir", "--admin", "--admin-password"):
        parser.add_argument(name, required=True)
    parser.add_argument("--smtp-port", type=int, required=True)
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--campaigns", type=int, default=50)
    parser.add_argument("--rate", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=20)
    options = parser.parse_args()
    gateway, sandbox = options.gateway, options.sandbox

    policy = http("GET", gateway + "/v1/privacy/policy")["version"]
    print("registering %d members with marketing email on (password hashing: a few minutes)…" % options.members, flush=True)
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda index: member(gateway, policy, index), range(options.members)))
    wait_for(sandbox, options.members, 600)
    print("  done in %.0f s (their welcome emails sent)" % (time.monotonic() - started), flush=True)
    admin = http("POST", gateway + "/v1/sessions", {"email": options.admin, "password": options.admin_password}, address="10.255.255.254")["token"]

    floor_count = 5000
    floor = smtplib_floor(options.smtp_port, floor_count, len(TEXT) * 4)
    before = received(sandbox)
    groups = processes(options.bin_dir, options.data_dir)
    ticks = cpu_ticks(groups)
    total = options.members * options.campaigns
    print("sending %d campaigns to %d people: %d DKIM-signed emails…" % (options.campaigns, options.members, total), flush=True)
    start = time.monotonic()
    for index in range(options.campaigns):
        http("POST", gateway + "/v1/staff/campaigns", {"subject": "News %d" % index, "text": TEXT}, admin)
    last = wait_for(sandbox, before + total, 3600)
    elapsed = last - start
    after = cpu_ticks(groups)
    print()
    print("email: %d campaigns × %d people, DKIM (RSA-2048) on, one notifications instance" % (options.campaigns, options.members))
    print("  platform: %d emails in %.1f s, %.0f emails/s (first campaign to last delivery)" % (total, elapsed, total / elapsed))
    print("  floor:    smtplib, one connection, %d messages: %.0f emails/s (the relay's own pace)" % (floor_count, floor))
    per_email = {name: (after.get(name, 0) - ticks.get(name, 0)) * 1e6 / TICKS / total for name in sorted(set(after) | set(ticks))}
    shown = ", ".join("%s %.0f" % (name, value) for name, value in sorted(per_email.items(), key=lambda item: -item[1]) if value >= 1)
    print("  CPU µs per email: %s; all %.0f" % (shown, sum(per_email.values())))

    echo, latencies, missing = asyncio.run(in_app(options, policy))
    print()
    print("in-app: %d replies at %d/s, each from its answer to the thread author's `notification` push" % (options.rate * options.seconds, options.rate))
    p50, p99, top = percentiles(latencies)
    print("  notice:  p50 %.1f ms, p99 %.1f ms, max %.1f ms; %d not pushed within 10 s" % (p50, p99, top, missing))
    p50, p99, top = percentiles(echo)
    print("  floor:   stream ping → pong p50 %.2f ms, p99 %.2f ms, max %.2f ms" % (p50, p99, top))


if __name__ == "__main__":
    main()
