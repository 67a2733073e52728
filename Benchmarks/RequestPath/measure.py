"""Measures the request path of a running platform (started by Benchmarks/RequestPath/run).

For each route and connection count it runs wrk, reads the CPU time every platform process used
meanwhile from /proc (utime + stime), and prints requests/s, p50, p99, the ratio to the bare
route at the same connection count, and CPU microseconds per request per process.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from benchlib import call, cpu_columns, failures, measure, processes  # noqa: E402

PASSWORD = "request path benchmark passphrase"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gateway", required=True)
    parser.add_argument("--bin-dir", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", default="1 16 64")
    parser.add_argument("--routes", default="healthz policy me consents")
    parser.add_argument("--scripts", required=True)
    options = parser.parse_args()
    gateway = options.gateway

    policy = call("GET", gateway + "/v1/privacy/policy")["version"]
    email = "request-path-%d@example.com" % os.getpid()
    call("POST", gateway + "/v1/accounts", {
        "email": email, "password": PASSWORD, "displayName": "Bench", "role": "member", "acceptPolicyVersion": policy})
    token = call("POST", gateway + "/v1/sessions", {"email": email, "password": PASSWORD})["token"]
    auth = ["-H", "Authorization: Bearer " + token]
    routes = {
        "healthz": ("GET /healthz", [gateway + "/healthz"]),
        "policy": ("GET /v1/privacy/policy", [gateway + "/v1/privacy/policy"]),
        "me": ("GET /v1/me", auth + [gateway + "/v1/me"]),
        "consents": ("PUT /v1/me/consents", auth + ["-s", os.path.join(options.scripts, "consents.lua"), gateway + "/v1/me/consents"]),
    }
    groups = processes(options.bin_dir, options.data_dir)
    shown = ["gateway", "broker", "accounts", "postgres"]
    print("2 cores, %ss per cell; CPU µs per request by process (all: every platform process and PostgreSQL)" % options.seconds)
    header = "%-22s %5s %9s %8s %8s %7s" % ("route", "conns", "req/s", "p50 ms", "p99 ms", "× bare")
    header += "".join(" %9s" % name for name in shown) + " %9s" % "all"
    print(header)
    bare = {}
    for key in options.routes.split():
        label, arguments = routes[key]
        for connections in [int(c) for c in options.connections.split()]:
            result, per_request = measure(arguments, connections, options.seconds, groups)
            if key == "healthz":
                bare[connections] = result["rate"]
            ratio = result["rate"] / bare[connections] if connections in bare else float("nan")
            line = "%-22s %5d %9.0f %8.2f %8.2f %7.2f" % (label, connections, result["rate"], result["p50"], result["p99"], ratio)
            print(line + cpu_columns(per_request, shown) + failures(result), flush=True)


if __name__ == "__main__":
    sys.exit(main())
