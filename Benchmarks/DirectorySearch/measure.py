"""Measures directory search on a seeded platform (started by Benchmarks/DirectorySearch/run)."""
import argparse
import os
import statistics
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from benchlib import call, processes, route_table  # noqa: E402

PASSWORD = "directory benchmark passphrase"
SEARCH = "q=tarot&category=love-relationships&maxPriceCents=300&facets=category,status,language"
TYPO = "q=tarrot&category=love-relationships&maxPriceCents=300&facets=category,status,language"


def plans(bin_dir):
    """The plans of the benchmark's queries; True when none scans advisors sequentially."""
    environment = dict(os.environ, DATABASE_URL=os.environ["DIRECTORY_DATABASE_URL"], DATABASE_SCHEMA="directory")
    clean = True
    for query in [SEARCH, TYPO]:
        print("\n== plans of GET /v1/advisors?%s" % query)
        run = subprocess.run([os.path.join(bin_dir, "directory"), "explain-search", query], env=environment,
                             capture_output=True, text=True)
        print(run.stdout.rstrip() or run.stderr.rstrip())
        if run.returncode != 0 or "Seq Scan on advisors" in run.stdout:
            clean = False
    print("\nplans: %s" % ("indexes only, no sequential scan of advisors" if clean else "A SEQUENTIAL SCAN OF ADVISORS (or a failure) above"))
    return clean


def status_latency(gateway, trials=20):
    """Seconds from an advisor's status change (the PUT starting) to the first search that shows it."""
    policy = call("GET", gateway + "/v1/privacy/policy")["version"]
    email = "directory-bench-%d@example.com" % os.getpid()
    call("POST", gateway + "/v1/accounts", {
        "email": email, "password": PASSWORD, "displayName": "Quintessa Benchmark", "role": "advisor",
        "acceptPolicyVersion": policy})
    token = call("POST", gateway + "/v1/sessions", {"email": email, "password": PASSWORD})["token"]
    call("PUT", gateway + "/v1/advisors/me", {
        "headline": "Zyxquill readings", "categories": ["tarot"], "pricePerMinuteCents": 199}, token)
    # The search is asked just before each change, so its cached answer shows the old status:
    # what is measured is how long until search shows the new one, cache included.
    query = gateway + "/v1/advisors?" + urllib.parse.urlencode({"q": "zyxquill"})
    latencies = []
    for trial in range(trials):
        status = "online" if trial % 2 == 0 else "offline"
        call("GET", query)
        started = time.monotonic()
        call("PUT", gateway + "/v1/advisors/me/status", {"status": status}, token)
        while call("GET", query)["items"][0]["status"] != status:
            if time.monotonic() - started > 10:
                raise SystemExit("a status change did not show in search within 10 s")
        latencies.append(time.monotonic() - started)
    return latencies


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gateway", required=True)
    parser.add_argument("--bin-dir", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", default="1 32")
    options = parser.parse_args()
    gateway = options.gateway

    uncached = gateway + "/v1/advisors?" + SEARCH.replace("&maxPriceCents=300", "")
    routes = [
        ("floor", "GET /v1/categories", [gateway + "/v1/categories"]),
        ("search", "GET /v1/advisors?" + SEARCH.split("&facets")[0] + "&facets", [gateway + "/v1/advisors?" + SEARCH]),
        ("typo", "the same, q=tarrot", [gateway + "/v1/advisors?" + TYPO]),
        ("uncached", "the same, a new price cap each request (cache misses)",
         ["-s", os.path.join(os.path.dirname(os.path.abspath(__file__)), "price.lua"), uncached]),
    ]
    first = call("GET", routes[1][2][0])
    print("search answers %d advisors on its first page; facets %s" % (len(first["items"]), sorted(first.get("facets", {}))))
    groups = processes(options.bin_dir, options.data_dir)
    route_table(routes, [int(c) for c in options.connections.split()], options.seconds, groups,
                ["gateway", "broker", "directory", "postgres"])

    latencies = status_latency(gateway)
    print("\nstatus change to visible in search (PUT start to the first search showing it, the search cached just before), %d changes: "
          "p50 %.1f ms, max %.1f ms" % (len(latencies), statistics.median(latencies) * 1000, max(latencies) * 1000))
    return 0 if plans(options.bin_dir) else 1


if __name__ == "__main__":
    sys.exit(main())
