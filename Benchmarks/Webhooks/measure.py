"""Drives Benchmarks/Webhooks/run: webhook deliveries from the integration service to 100 local
receivers, for throughput (messages written at once) and latency (advisors' status changes at a
steady rate), beside the receivers' own floor."""
import argparse
import asyncio
import concurrent.futures
import json
import multiprocessing
import os
import shlex
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from benchlib import TICKS, call, cpu_ticks, processes  # noqa: E402

PASSWORD = "webhooks benchmark passphrase"
PARTNERS = 10
ENDPOINTS_EACH = 10


class Receiver(asyncio.Protocol):
    """A partner's endpoint: HTTP/1.1 with keep-alive, 204 to every POST, each receipt recorded
    (port, time, the body); on any port `GET /count` answers how many so far, `GET /dump` all of them."""

    def __init__(self, port, receipts):
        self.port = port
        self.receipts = receipts
        self.buffer = b""

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4:end + 4 + length]
            self.buffer = self.buffer[end + 4 + length:]
            if head.startswith("GET /"):
                payload = json.dumps(len(self.receipts) if head.startswith("GET /count") else self.receipts).encode()
                self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(payload) + payload)
            else:
                self.receipts.append([self.port, time.time(), body.decode()])
                self.transport.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")


def serve(ports):
    async def main():
        receipts = []
        loop = asyncio.get_running_loop()
        for port in ports:
            await loop.create_server(lambda port=port: Receiver(port, receipts), "127.0.0.1", port, backlog=1024)
        await asyncio.Event().wait()
    asyncio.run(main())


def dump(port, what="dump"):
    with urllib.request.urlopen("http://127.0.0.1:%d/%s" % (port, what), timeout=60) as answer:
        return json.loads(answer.read())


def wait_for(port, count, timeout):
    """Waits until the receivers have `count` receipts in all; False if they do not within `timeout` s."""
    deadline = time.monotonic() + timeout
    while dump(port, "count") < count:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


async def floor(ports, count, concurrency):
    """The receivers' own pace: `count` POSTs of a webhook's size over `concurrency` keep-alive connections."""
    body = json.dumps({"type": "webhook.test", "timestamp": "2026-12-06T00:00:00Z", "data": {"endpointId": "0" * 36}}).encode()
    per = count // concurrency

    async def client(index):
        port = ports[index % len(ports)]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        request = (b"POST /floor HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nwebhook-id: msg_floor\r\n"
                   b"Content-Length: %d\r\n\r\n" % len(body)) + body
        for _ in range(per):
            writer.write(request)
            await reader.readuntil(b"\r\n\r\n")
        writer.close()

    start = time.monotonic()
    await asyncio.gather(*(client(index) for index in range(concurrency)))
    return per * concurrency / (time.monotonic() - start)


def percentiles(values):
    ordered = sorted(values)
    if not ordered:
        return float("nan"), float("nan"), float("nan")
    return ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], ordered[-1]


def main():
    parser = argparse.ArgumentParser()
    for name in ("--gateway", "--integration", "--bin-dir", "--data-dir", "--admin", "--admin-password", "--psql"):
        parser.add_argument(name, required=True)
    for name, default in (("--receiver-port-base", 26200), ("--messages", 10000), ("--advisors", 100), ("--rate", 50), ("--seconds", 20)):
        parser.add_argument(name, type=int, default=default)
    options = parser.parse_args()
    gateway, integration = options.gateway, options.integration
    ports = [options.receiver_port_base + index for index in range(PARTNERS * ENDPOINTS_EACH)]
    receiver = multiprocessing.Process(target=serve, args=(ports,), daemon=True)
    receiver.start()

    def psql(sql):
        subprocess.run(shlex.split(options.psql) + ["-c", sql], check=True, cwd="/")

    admin = call("POST", gateway + "/v1/sessions", {"email": options.admin, "password": options.admin_password},
                 address="10.255.255.254", retries=20)["token"]
    endpoints = []  # (partner key, endpoint id)
    for partner in range(PARTNERS):
        name = "bench-partner-%d" % partner
        call("POST", gateway + "/v1/staff/partners", {"id": name, "name": "Bench partner %d" % partner}, admin)
        key = call("POST", gateway + "/v1/staff/partners/%s/keys" % name, {"environment": "test", "scopes": ["webhooks:manage"]}, admin)["secret"]
        for index in range(ENDPOINTS_EACH):
            port = ports[partner * ENDPOINTS_EACH + index]
            request = urllib.request.Request(
                integration + "/partner/v1/webhooks/endpoints", method="POST",
                data=json.dumps({"url": "http://127.0.0.1:%d/hooks" % port, "eventTypes": ["advisor.status-changed"]}).encode(),
                headers={"Authorization": "Bearer " + key, "Content-Type": "application/json", "Idempotency-Key": "bench-%d" % port})
            with urllib.request.urlopen(request, timeout=60) as answer:
                endpoints.append((key, json.loads(answer.read())["id"], port))

    floor_rate = asyncio.run(floor(ports, options.messages, 64))

    # Throughput: every message written at once, as a burst of events would leave them.
    per_endpoint = options.messages // len(endpoints)
    total = per_endpoint * len(endpoints)
    groups = processes(options.bin_dir, options.data_dir)
    ticks = cpu_ticks(groups)
    before = dump(ports[0], "count")
    print("writing %d messages (%d for each of %d endpoints) in one transaction…" % (total, per_endpoint, len(endpoints)), flush=True)
    start = time.time()
    psql("""
        BEGIN;
        INSERT INTO integration.webhook_messages (id, partner_id, event_type, payload)
            SELECT 'msg_bench_' || e.id || '_' || g, e.partner_id, 'webhook.test',
                json_build_object('type', 'webhook.test', 'timestamp', '2026-12-06T00:00:00Z', 'data', json_build_object('seq', g))::text
            FROM integration.webhook_endpoints e CROSS JOIN generate_series(1, %d) g;
        INSERT INTO integration.webhook_deliveries (endpoint_id, message_id)
            SELECT e.id, 'msg_bench_' || e.id || '_' || g FROM integration.webhook_endpoints e CROSS JOIN generate_series(1, %d) g;
        COMMIT;
        """ % (per_endpoint, per_endpoint))
    written = time.time()
    if not wait_for(ports[0], before + total, 600):
        raise SystemExit("only %d of %d deliveries arrived in 600 s" % (dump(ports[0], "count") - before, total))
    after = cpu_ticks(groups)
    last = max(at for port, at, body in dump(ports[0])[before:])
    elapsed = last - written
    print()
    print("throughput: %d deliveries to %d endpoints, one integration instance" % (total, len(endpoints)))
    print("  platform: %.1f s from the commit to the last receipt: %.0f deliveries/s (%.1f s to write them)" % (elapsed, total / elapsed, written - start))
    print("  floor:    a Python client, 64 keep-alive connections, %d requests: %.0f requests/s (the receivers' own pace)" % (options.messages, floor_rate))
    per_delivery = {name: (after.get(name, 0) - ticks.get(name, 0)) * 1e6 / TICKS / total for name in sorted(set(after) | set(ticks))}
    shown = ", ".join("%s %.0f" % (name, value) for name, value in sorted(per_delivery.items(), key=lambda item: -item[1]) if value >= 1)
    print("  CPU µs per delivery: %s; all %.0f" % (shown, sum(per_delivery.values())), flush=True)

    # Latency: only the first partner's ten endpoints take status changes now.
    for key, endpoint, port in endpoints[ENDPOINTS_EACH:]:
        request = urllib.request.Request(
            integration + "/partner/v1/webhooks/endpoints/" + endpoint, method="PATCH", data=b'{"enabled": false}',
            headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=60).read()
    policy = call("GET", gateway + "/v1/privacy/policy")["version"]
    print("registering %d advisors…" % options.advisors, flush=True)

    def advisor(index):
        address = "10.9.%d.%d" % (index // 256, index % 256)
        email = "advisor-%d-%d@bench.example" % (os.getpid(), index)
        account = call("POST", gateway + "/v1/accounts", {"email": email, "password": PASSWORD, "displayName": "Advisor %d" % index,
                                                          "role": "advisor", "acceptPolicyVersion": policy}, address=address, retries=20)
        token = call("POST", gateway + "/v1/sessions", {"email": email, "password": PASSWORD}, address=address, retries=20)["token"]
        call("PUT", gateway + "/v1/advisors/me", {"headline": "Benchmark readings", "categories": ["tarot"], "pricePerMinuteCents": 199},
             token, address=address, retries=20)
        call("PUT", gateway + "/v1/advisors/me/status", {"status": "online"}, token, address=address, retries=20)
        return account["id"].lower(), token, address

    registered = dump(ports[0], "count")
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        advisors = list(pool.map(advisor, range(options.advisors)))
    # Their going online is delivered before the measured changes begin.
    if not wait_for(ports[0], registered + options.advisors * ENDPOINTS_EACH, 60):
        raise SystemExit("the advisors' going online was not delivered in 60 s")
    before = dump(ports[0], "count")
    changes = {}  # (advisor, status) -> answer times, in order
    count = options.rate * options.seconds

    def change(index):
        advisor_id, token, address = advisors[index % len(advisors)]
        status = "offline" if (index // len(advisors)) % 2 == 0 else "online"
        call("PUT", gateway + "/v1/advisors/me/status", {"status": status}, token, address=address, retries=5)
        return advisor_id, status, time.time()

    print("changing statuses %d times at %d/s, each to %d endpoints…" % (count, options.rate, ENDPOINTS_EACH), flush=True)
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        futures = []
        start = time.monotonic()
        for index in range(count):
            time.sleep(max(0, start + index / options.rate - time.monotonic()))
            futures.append(pool.submit(change, index))
        for future in futures:
            advisor_id, status, at = future.result()
            changes.setdefault((advisor_id, status), []).append(at)
    expected = count * ENDPOINTS_EACH
    wait_for(ports[0], before + expected, 60)
    arrivals = {}  # (port, advisor, status) -> receipt times
    for port, at, body in dump(ports[0])[before:]:
        message = json.loads(body)
        if message.get("type") == "advisor.status-changed":
            data = message["data"]
            arrivals.setdefault((port, data["advisorId"], data["status"]), []).append(at)
    latencies = []
    for (port, advisor_id, status), times in arrivals.items():
        answered = sorted(changes.get((advisor_id, status), []))
        for sent, received in zip(answered, sorted(times)):
            latencies.append((received - sent) * 1000)
    p50, p99, top = percentiles(latencies)
    print()
    print("latency: %d status changes at %d/s, each to %d endpoints (%d deliveries/s)" % (count, options.rate, ENDPOINTS_EACH, options.rate * ENDPOINTS_EACH))
    print("  from the gateway's answer to the receipt: p50 %.0f ms, p99 %.0f ms, max %.0f ms; %d of %d received within 60 s"
          % (p50, p99, top, len(latencies), expected))
    receiver.terminate()


if __name__ == "__main__":
    main()
