"""What the benchmarks that drive a whole platform share: JSON calls, the platform's processes and
their CPU time from /proc, and reading wrk's output."""
import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request

TICKS = os.sysconf("SC_CLK_TCK")


def call(method, url, body=None, token=None, address=None, retries=0):
    """One JSON call; `address` is sent as X-Forwarded-For (to a gateway that trusts this host), and
    a 429 or 503 is tried again up to `retries` times, half a second apart."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    if address:
        request.add_header("X-Forwarded-For", address)
    for attempt in range(retries + 1):
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                return json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as error:
            if error.code not in (429, 503) or attempt == retries:
                raise
            time.sleep(0.5)


def processes(bin_dir, data_dir):
    """pid -> group name: each platform executable by name, and PostgreSQL's backends."""
    groups = {}
    # Deploy/local/run keeps its private cluster in <data>/postgres.
    pid_file = os.path.join(data_dir, "postgres", "postmaster.pid")
    postmaster = int(open(pid_file).readline()) if os.path.exists(pid_file) else None
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        try:
            command = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")[0].decode()
            parent = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if command.startswith(bin_dir.rstrip("/") + "/"):
            groups[pid] = os.path.basename(command)
        elif postmaster is not None and (pid == postmaster or parent == postmaster):
            groups[pid] = "postgres"
    return groups


def cpu_ticks(groups):
    totals = {}
    for pid, name in groups.items():
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        totals[name] = totals.get(name, 0) + int(fields[11]) + int(fields[12])
    return totals


def parse_wrk(text):
    def duration(value, unit):
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    def percentile(label):
        match = re.search(r"^\s+%s\s+([\d.]+)(us|ms|s)\s*$" % re.escape(label), text, re.M)
        return duration(*match.groups()) if match else float("nan")

    requests = int(re.search(r"(\d+) requests in", text).group(1))
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    socket_errors = re.search(r"Socket errors: (.*)", text)
    return {
        "requests": requests, "rate": rate, "p50": percentile("50%"), "p99": percentile("99%"),
        "errors": int(errors.group(1)) if errors else 0, "socket_errors": socket_errors.group(1) if socket_errors else "",
    }


def measure(arguments, connections, seconds, groups):
    """wrk at `connections` for `seconds` after a one-second warm-up: its figures, and the CPU
    microseconds per request each process group used meanwhile."""
    threads = str(min(connections, 2))
    subprocess.run(["wrk", "-t" + threads, "-c" + str(connections), "-d1s"] + arguments, capture_output=True)
    before = cpu_ticks(groups)
    run = subprocess.run(
        ["wrk", "-t" + threads, "-c" + str(connections), "-d%ds" % seconds, "--latency"] + arguments,
        capture_output=True, text=True)
    after = cpu_ticks(groups)
    result = parse_wrk(run.stdout)
    per_request = {name: (after.get(name, 0) - before.get(name, 0)) / TICKS * 1e6 / max(1, result["requests"]) for name in after}
    return result, per_request


def cpu_columns(per_request, shown):
    """The CPU columns of a table line: each shown process, then all of them together."""
    return "".join(" %9.0f" % per_request.get(name, 0) for name in shown) + " %9.0f" % sum(per_request.values())


def failures(result):
    """What a line adds when wrk saw errors."""
    if result["errors"] or result["socket_errors"]:
        return "  non-2xx %d %s" % (result["errors"], result["socket_errors"])
    return ""


def route_table(routes, connections, seconds, groups, shown, width=58):
    """Measures each (key, label, wrk arguments) route at each connection count, the first route
    being the floor: prints requests/s, p50, p99, p99 over the floor's, and CPU µs per request."""
    print("2 cores, %ss per cell; CPU µs per request by process (all: every platform process and PostgreSQL)" % seconds)
    header = "%-*s %5s %8s %8s %8s %10s" % (width, "route", "conns", "req/s", "p50 ms", "p99 ms", "p99/floor")
    header += "".join(" %9s" % name for name in shown) + " %9s" % "all"
    print(header)
    for count in connections:
        floor_p99 = None
        for _, label, arguments in routes:
            result, per_request = measure(arguments, count, seconds, groups)
            if floor_p99 is None:
                floor_p99 = result["p99"]
            line = "%-*s %5d %8.0f %8.2f %8.2f %10.2f" % (
                width, label, count, result["rate"], result["p50"], result["p99"], result["p99"] / floor_p99)
            print(line + cpu_columns(per_request, shown) + failures(result), flush=True)
