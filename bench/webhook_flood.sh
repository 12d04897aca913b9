#!/usr/bin/env bash
# Memory held for unauthenticated webhook requests: CONNECTIONS clients at once each POST to a
# webhook URL with a wrong token, declaring a DECLARED_MIB MiB body and trying to send all of
# it, against a real `gitsyncd run` (one webhook-enabled connector, a file:// remote). Prints
# the daemon's resident memory before, at its peak (VmHWM) and after, and what the clients got.
# The listener answers a wrong token from the request line and headers, before any body byte
# is read, so the growth stays small however large the declared bodies are.
# Usage: bench/webhook_flood.sh [CONNECTIONS] [DECLARED_MIB]   (default 256 connections, 5 MiB)
# Needs a built tree (build/daemon/gitsyncd; GITSYNCD_BIN overrides) and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
CONNS="${1:-256}"
MIB="${2:-5}"
BIN="${GITSYNCD_BIN:-build/daemon/gitsyncd}"
WORK="$(mktemp -d)"
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
git init -q --bare -b main "$WORK/remote.git"
mkdir -p "$WORK/etc/connectors.d"
cat > "$WORK/etc/gitsyncd.yaml" <<YAML
state_dir: $WORK/state
listen:
  address: 127.0.0.1
  port: $PORT
  max_connections: $CONNS
YAML
cat > "$WORK/etc/connectors.d/bench.yaml" <<YAML
name: bench
provider: github
url: file://$WORK/remote.git
webhook:
  enabled: true
syncs:
  - name: app
    local: $WORK/srv/app
YAML
GITSYNCD_CONFIG="$WORK/etc" "$BIN" webhook-url bench > /dev/null 2>&1
GITSYNCD_CONFIG="$WORK/etc" "$BIN" run 2> "$WORK/gitsyncd.log" &
PID=$!
for _ in $(seq 200); do (echo > /dev/tcp/127.0.0.1/"$PORT") 2>/dev/null && break; sleep 0.05; done
sleep 1  # the first pass and the listener settle

python3 - "$PID" "$PORT" "$CONNS" "$MIB" <<'PY'
import errno, selectors, socket, sys, time
pid, port, conns, mib = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def mem(key):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024.0  # MiB
open(f"/proc/{pid}/clear_refs", "w").write("5")  # VmHWM restarts from the current RSS
before = mem("VmRSS")
declared = mib * 1024 * 1024
head = (f"POST /webhooks/bench/{'x' * 43} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        f"X-GitHub-Event: push\r\nContent-Length: {declared}\r\n\r\n").encode()
chunk = b"{" + b" " * (64 * 1024 - 1)
sel = selectors.DefaultSelector()
state = {}
start = time.monotonic()
for i in range(conns):
    s = socket.create_connection(("127.0.0.1", port))
    s.setblocking(False)
    state[s] = {"sent": -len(head), "reply": b"", "done": False}
    sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
statuses, resets, body_sent = {}, 0, 0
while sel.get_map() and time.monotonic() - start < 60:
    for key, ev in sel.select(timeout=1):
        s, st = key.fileobj, state[key.fileobj]
        try:
            if ev & selectors.EVENT_WRITE and st["sent"] < declared:
                if st["sent"] < 0:
                    n = s.send(head[len(head) + st["sent"]:])
                else:
                    n = s.send(chunk[: min(len(chunk), declared - st["sent"])])
                    body_sent += n
                st["sent"] += n
                if st["sent"] >= declared:
                    sel.modify(s, selectors.EVENT_READ)
            if ev & selectors.EVENT_READ:
                data = s.recv(65536)
                st["reply"] += data
                if not data:
                    raise ConnectionResetError
        except (BlockingIOError, InterruptedError):
            continue
        except (ConnectionResetError, BrokenPipeError):
            if not st["reply"]:
                resets += 1
            sel.unregister(s)
            s.close()
            line = st["reply"].split(b"\r\n", 1)[0].decode(errors="replace")
            code = line.split(" ")[1] if line.startswith("HTTP/") else "none"
            statuses[code] = statuses.get(code, 0) + 1
elapsed = time.monotonic() - start
time.sleep(0.5)
after, hwm = mem("VmRSS"), mem("VmHWM")
print(f"{conns} connections, each declaring {mib} MiB ({conns * mib} MiB in all) with a wrong URL token")
print(f"{'measure':<42} {'value':>12}")
print(f"{'daemon RSS before (MiB)':<42} {before:>12.1f}")
print(f"{'daemon peak RSS during (VmHWM, MiB)':<42} {hwm:>12.1f}")
print(f"{'daemon RSS after (MiB)':<42} {after:>12.1f}")
print(f"{'growth: peak - before (MiB)':<42} {hwm - before:>12.1f}")
print(f"{'body bytes the clients got to send (MiB)':<42} {body_sent / 1048576:>12.1f}")
print(f"{'answers by status':<42} {' '.join(f'{k}:{v}' for k, v in sorted(statuses.items())):>12}")
print(f"{'connections reset before any answer':<42} {resets:>12}")
print(f"{'wall time (s)':<42} {elapsed:>12.2f}")
print(f"goal: growth < 16 MiB: {'met' if hwm - before < 16 else 'NOT met'}")
PY
if grep -q "x\{43\}" "$WORK/gitsyncd.log"; then echo "the token appeared in the daemon log" >&2; exit 1; fi
echo "warn lines for the refused token: $(grep -c 'refused: the token' "$WORK/gitsyncd.log" || true)"
