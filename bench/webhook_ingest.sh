#!/usr/bin/env bash
# Webhook ingest throughput: wrk POSTs a signed ~8 KiB GitHub push payload (a fresh delivery
# id per request, so every request is verified, parsed, routed, recorded and queued) to
#   (a) `gitsyncd run`'s listener, and
#   (b) adnanh/webhook (Debian package `webhook`) with the equivalent payload-hmac-sha256
#       rule and a no-op command,
# side by side in one run on loopback, and prints requests/s, p50/p99 latency and the CPU
# time each server used (children included: webhook runs its command in a new process).
# Both servers get the same treatment: the same payload, connections and duration, one
# after the other. With 2 or more CPUs, wrk is pinned to CPU 0 and both servers to CPU 1
# (taskset), so neither server competes with the load generator for a core; BENCH_PIN=0
# leaves all three to the scheduler.
# Usage: bench/webhook_ingest.sh [DURATION_S] [CONNECTIONS]   (default 15 s, 32 connections)
# Needs a built tree (build/daemon/gitsyncd) and wrk + webhook (scripts/install-deps).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-15}"
CONNS="${2:-32}"
BIN="${GITSYNCD_BIN:-build/daemon/gitsyncd}"
WORK="$(mktemp -d)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
SERVER_CPU=() WRK_CPU=()
if [ "${BENCH_PIN:-1}" != 0 ] && [ "$(nproc)" -ge 2 ]; then
  SERVER_CPU=(taskset -c 1) WRK_CPU=(taskset -c 0)
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; return 1; }

SECRET="bench-hook-secret"
PAYLOAD="$WORK/payload.json"
# The real GitHub sample, pointed at the bench's repository and branch.
python3 - "$PAYLOAD" <<'PY'
import json, sys
d = json.load(open("tests/fixtures/webhooks/github-push.json"))
d["ref"] = "refs/heads/main"; d["repository"]["full_name"] = "bench/cfg"; d["repository"]["name"] = "cfg"
open(sys.argv[1], "w").write(json.dumps(d))
PY
SIG="sha256=$(openssl dgst -sha256 -hmac "$SECRET" -r "$PAYLOAD" | cut -d' ' -f1)"
BYTES=$(wc -c < "$PAYLOAD")

# (a) gitsyncd: one connector, a file:// remote, one binding.
git init -q --bare -b main "$WORK/bench/cfg.git"
G_PORT=$(free_port)
mkdir -p "$WORK/etc/connectors.d"
cat > "$WORK/etc/gitsyncd.yaml" <<YAML
state_dir: $WORK/state
listen:
  address: 127.0.0.1
  port: $G_PORT
YAML
cat > "$WORK/etc/connectors.d/bench.yaml" <<YAML
name: bench
provider: github
url: file://$WORK/bench/cfg.git
webhook:
  enabled: true
  secret: {env: BENCH_HOOK_SECRET}
syncs:
  - name: app
    local: $WORK/srv/app
    direction: ${BENCH_DIRECTION:-bidirectional}
YAML
URL_PATH=$(GITSYNCD_CONFIG="$WORK/etc" "$BIN" webhook-url bench 2>/dev/null | sed 's|^[a-z]*://[^/]*||')
BENCH_HOOK_SECRET="$SECRET" GITSYNCD_CONFIG="$WORK/etc" "${SERVER_CPU[@]}" "$BIN" run 2> "$WORK/gitsyncd.log" &
PIDS+=($!)
G_PID=$!
wait_port "$G_PORT"

# (b) adnanh/webhook with the same HMAC rule.
W_PORT=$(free_port)
cat > "$WORK/hooks.json" <<JSON
[{"id": "bench", "execute-command": "/bin/true", "response-message": "ok",
  "trigger-rule": {"match": {"type": "payload-hmac-sha256", "secret": "$SECRET",
                             "parameter": {"source": "header", "name": "X-Hub-Signature-256"}}}}]
JSON
"${SERVER_CPU[@]}" webhook -hooks "$WORK/hooks.json" -ip 127.0.0.1 -port "$W_PORT" > "$WORK/webhook.log" 2>&1 &
PIDS+=($!)
W_PID=$!
wait_port "$W_PORT"

cat > "$WORK/post.lua" <<LUA
local f = io.open("$PAYLOAD", "rb"); local body = f:read("*a"); f:close()
local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json", ["X-GitHub-Event"] = "push",
    ["X-GitHub-Delivery"] = string.format("%d-%d", math.random(1, 1e9), n),
    ["X-Hub-Signature-256"] = "$SIG"}, body)
end
LUA

# CPU seconds a process and its reaped children have used.
cpu_s() { awk -v t="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15 + $16 + $17) / t}' "/proc/$1/stat"; }

run() {  # name url pid
  local before out; before=$(cpu_s "$3")
  out=$("${WRK_CPU[@]}" wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -s "$WORK/post.lua" "$2")
  local rps p50 p99 non2xx cpu
  cpu=$(awk -v a="$before" -v b="$(cpu_s "$3")" 'BEGIN {printf "%.1f", b - a}')
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$rps" "$p50" "$p99" "${non2xx:-0}" "$cpu"
}

# One check request each, so a misconfiguration shows instead of a fast error loop.
check() { curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' -H 'X-GitHub-Event: push' \
  -H "X-GitHub-Delivery: check-$RANDOM" -H "X-Hub-Signature-256: $SIG" --data-binary @"$PAYLOAD" "$1"; }
[ "$(check "http://127.0.0.1:$G_PORT$URL_PATH")" = 202 ] || { echo "gitsyncd did not accept the check delivery" >&2; tail "$WORK/gitsyncd.log" >&2; exit 1; }
[ "$(check "http://127.0.0.1:$W_PORT/hooks/bench")" = 200 ] || { echo "webhook did not accept the check delivery" >&2; exit 1; }

PINNING="not pinned"
[ ${#SERVER_CPU[@]} -gt 0 ] && PINNING="wrk pinned to CPU 0, each server to CPU 1"
echo "payload: $BYTES bytes, signed HMAC-SHA256; wrk -t2 -c$CONNS -d${DURATION}s; $(nproc) cores, $PINNING;" \
  "direction: ${BENCH_DIRECTION:-bidirectional}; $(date -u +%F)"
echo
echo "| server | requests/s | p50 | p99 | non-2xx | server CPU s |"
echo "|---|---|---|---|---|---|"
run "gitsyncd $(${BIN} --version 2>/dev/null | head -1 | awk '{print $NF}')" "http://127.0.0.1:$G_PORT$URL_PATH" "$G_PID"
run "webhook $(webhook -version | awk '{print $3}')" "http://127.0.0.1:$W_PORT/hooks/bench" "$W_PID"
