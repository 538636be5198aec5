#!/usr/bin/env bash
# Run a command N times in a row while pgbench keeps PostgreSQL busy and a busy loop holds a
# core: the conditions under which a slow database checkout meets a stop (RELIABILITY.md).
#   tools/repeat-under-load.sh 12 .venv/bin/python -m pytest -q shared/tests/test_outbox.py shared/tests/test_bus.py
#   tools/repeat-under-load.sh 1 make stop-check ARGS=--no-write
set -euo pipefail
cd "$(dirname "$0")/.."
runs=$1; shift
db=load_$$
createdb -h 127.0.0.1 -U postgres "$db"
pgbench -h 127.0.0.1 -U postgres -i -s 10 -q "$db" >/dev/null 2>&1
pgbench -h 127.0.0.1 -U postgres -c 8 -j 2 -T 3600 "$db" >/dev/null 2>&1 &
pgbench_pid=$!
python3 -c 'while True: pass' &
busy_pid=$!
cleanup() {
    kill "$pgbench_pid" "$busy_pid" 2>/dev/null || true
    wait "$pgbench_pid" "$busy_pid" 2>/dev/null || true
    dropdb -h 127.0.0.1 -U postgres --if-exists "$db" || true
}
trap cleanup EXIT
logs=.run/repeat-under-load
mkdir -p "$logs"
passed=0
for run in $(seq "$runs"); do
    started=$(date +%s%N)
    if "$@" >"$logs/$run.log" 2>&1; then
        passed=$((passed + 1))
        echo "run $run: passed in $(( ($(date +%s%N) - started) / 1000000 )) ms"
    else
        echo "run $run: FAILED (log: $logs/$run.log)"
        tail -5 "$logs/$run.log"
    fi
done
echo "passed $passed of $runs"
[ "$passed" -eq "$runs" ]
