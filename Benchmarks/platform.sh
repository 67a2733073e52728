# Sourced by the benchmarks that run against a whole platform: builds release (unless
# PLATFORM_BIN_DIR names executables), starts the platform with Deploy/local/run on its own ports
# from $BENCH_PORT_BASE and a throwaway data folder, waits until it is up, and stops it at exit.
#
# After `start_benchmark_platform <name> <default port base> [VAR=value …]`: $base (the gateway's
# port; the bus and PostgreSQL on ports from there), $data (the data folder), $PLATFORM_BIN_DIR,
# and `bench_psql` (psql as the superuser, on the platform's database, through its socket).
# shellcheck source=Deploy/local/common.sh
source "$repo/Deploy/local/common.sh"

start_benchmark_platform() {
    local name=$1 default_base=$2
    shift 2
    if [[ -z ${PLATFORM_BIN_DIR:-} ]]; then
        say "building (release)…"
        (cd "$repo" && swift build -c release >/dev/null)
        PLATFORM_BIN_DIR=$(cd "$repo" && swift build -c release --show-bin-path)
    fi
    base=${BENCH_PORT_BASE:-$default_base}
    data=$(mktemp -d "${TMPDIR:-/tmp}/$name.XXXXXX")
    ((EUID == 0)) && chmod 711 "$data"
    platform_pid=""
    trap stop_benchmark_platform EXIT

    say "starting the platform (logs in $data/logs)…"
    env "$@" PLATFORM_BIN_DIR="$PLATFORM_BIN_DIR" PLATFORM_DATA_DIR="$data" PLATFORM_PG_PORT=$((base + 10)) \
        PLATFORM_ADMIN_PORT_BASE=$((base + 100)) GATEWAY_PORT="$base" INTEGRATION_PORT=$((base + 1)) SANDBOX_PORT=$((base + 3)) \
        SANDBOX_SMTP_PORT=$((base + 4)) \
        LOG_LEVEL=warning \
        BROKER_ENDPOINT=tcp://127.0.0.1:$((base + 5)) EVENTS_IN_ENDPOINT=tcp://127.0.0.1:$((base + 6)) \
        EVENTS_OUT_ENDPOINT=tcp://127.0.0.1:$((base + 7)) \
        "$repo/Deploy/local/run" 2>"$data/run.log" &
    platform_pid=$!
    for _ in $(seq 1 240); do
        grep -q "Advisor Platform is up" "$data/run.log" 2>/dev/null && break
        kill -0 "$platform_pid" 2>/dev/null || { cat "$data/run.log" >&2; die "the platform did not start"; }
        sleep 0.5
    done
    grep -q "Advisor Platform is up" "$data/run.log" || { cat "$data/run.log" >&2; die "the platform did not come up in 2 minutes"; }
}

stop_benchmark_platform() {
    if [[ -n $platform_pid ]] && kill -0 "$platform_pid" 2>/dev/null; then
        kill -TERM "$platform_pid" 2>/dev/null || true
        wait "$platform_pid" 2>/dev/null || true
    fi
    rm -rf -- "$data"
}

# psql as the cluster's superuser on the platform's database, through the private socket.
bench_psql() {
    local runner=()
    ((EUID == 0)) && runner=(runuser -u postgres --)
    (cd / && "${runner[@]}" "$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$data/postgres-socket" -p $((base + 10)) -U postgres -d advisor "$@")
}
