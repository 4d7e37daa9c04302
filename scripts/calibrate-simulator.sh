#!/usr/bin/env bash
# Calibrates `cohort simulate` against a real run (docs/simulation.md "Calibration"): PEERS
# peers and a coordinator train on 127.0.0.1 for MINUTES minutes, then the simulator runs the
# same settings with the peers' measured training speeds on loopback-like links. Prints one
# JSON object with both runs' rounds per minute, utilisation and round size, and the
# simulator's ratios. Reads the run through /api/status and the journal only.
# MEASURED=FILE keeps the real run's figures; SIMULATE_ONLY=FILE simulates kept ones again.
set -euo pipefail
cd "$(dirname "$0")/.."
COHORT=${COHORT:-.build/release/cohort}
PEERS=${PEERS:-4}
MINUTES=${MINUTES:-3}
TARGET=${TARGET:-64}
MATCHMAKING=${MATCHMAKING:-1}
# What a DHT request costs the simulated volunteers besides its round trip, in ms: on
# 127.0.0.1, with four trainers on two cores, it is most of a lookup; 12 ms was fitted on one
# configuration and checked on another (docs/simulation.md, "Calibration").
DHT_REQUEST_MS=${DHT_REQUEST_MS:-12}
MEASURED=${MEASURED:-}
SIMULATE_ONLY=${SIMULATE_ONLY:-}
[ -x "$COHORT" ] || { echo "build first: swift build -c release (or set COHORT)" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

cat > "$work/settings.json" <<'JSON'
{"model": {"hidden_size": 64, "layer_count": 2, "head_count": 4, "context_length": 64},
 "batch_size": 4, "temperature": 0.002, "warmup_steps": 10, "steps": 100000}
JSON
measured="$work/measured.json"
if [ -n "$SIMULATE_ONLY" ]; then
    cp "$SIMULATE_ONLY" "$measured"
else
    # A free port for the dashboard, so that its address is known without reading logs.
    http_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    status_url="http://127.0.0.1:$http_port/api/status"
    "$COHORT" coordinator --open --run calibration --listen 127.0.0.1:0 --http "127.0.0.1:$http_port" --state-dir "$work/state" \
        --config "$work/settings.json" --target-batch "$TARGET" --matchmaking-seconds "$MATCHMAKING" > "$work/coordinator.log" 2>&1 &
    pids+=($!)
    join=""
    for _ in $(seq 600); do
        join=$(curl -fsS "$status_url" 2>/dev/null | python3 -c 'import json, sys; print(json.load(sys.stdin)["join_address"])' 2>/dev/null || true)
        [ -n "$join" ] && break
        sleep 0.1
    done
    [ -n "$join" ] || { echo "the coordinator did not start:" >&2; cat "$work/coordinator.log" >&2; exit 1; }
    for n in $(seq "$PEERS"); do
        "$COHORT" peer --join "$join" --listen 127.0.0.1:0 --threads 1 > "$work/peer-$n.log" 2>&1 &
        pids+=($!)
    done

    journal="$work/state/rounds.jsonl"
    for _ in $(seq 1200); do [ -s "$journal" ] && break; sleep 0.1; done
    [ -s "$journal" ] || { echo "no round in 2 minutes" >&2; tail -5 "$work"/peer-1.log >&2; exit 1; }
    start=$(date +%s.%N); first=$(wc -l < "$journal")
    echo "measuring the real run for $MINUTES minute(s)…" >&2
    # The peers' speeds, sampled every 10 s: one reading can miss a peer between its records.
    for _ in $(seq $((MINUTES * 6))); do
        sleep 10
        curl -fsS "$status_url" >> "$work/statuses.jsonl" && echo >> "$work/statuses.jsonl" || true
    done
    end=$(date +%s.%N); last=$(wc -l < "$journal")
    # The simulator runs on cores the peers no longer take.
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done

    python3 - "$work/statuses.jsonl" "$journal" "$first" "$last" "$start" "$end" "$PEERS" "$TARGET" "$MATCHMAKING" > "$measured" <<'PY'
import json, statistics, sys
statuses_file, journal, first, last, start, end, peers, target, matchmaking = sys.argv[1:]
first, last, peers = int(first), int(last), int(peers)
seconds = float(end) - float(start)
statuses = [json.loads(line) for line in open(statuses_file) if line.strip()]
if not statuses:
    sys.exit("no status was read from the coordinator")
speeds = {}
for status in statuses:
    for peer in status["peers"]:
        if peer["samples_per_second"] > 0:
            speeds.setdefault(peer["id"], []).append(peer["samples_per_second"])
rates = [statistics.mean(values) for values in speeds.values()]
if len(rates) != peers:
    sys.exit(f"{len(rates)} of {peers} peers reported a speed: the real run is not the one to compare")
rounds = [json.loads(line) for line in open(journal).read().splitlines()[first:last]]
averaged = sum(r["samples"] for r in rounds if r.get("members", 0) >= 1)
print(json.dumps({"rounds_per_minute": len(rounds) * 60 / seconds,
                  "utilisation": averaged / (sum(rates) * seconds),
                  "mean_round_samples": averaged / len(rounds) if rounds else 0,
                  "peer_samples_per_second": rates, "seconds": seconds,
                  "parameters": statuses[-1]["parameters"], "peers": peers,
                  "target_batch": int(target), "matchmaking_seconds": float(matchmaking)}))
PY
fi
[ -n "$MEASURED" ] && cp "$measured" "$MEASURED"

python3 - "$measured" "$COHORT" "$DHT_REQUEST_MS" <<'PY'
import json, subprocess, sys
measured_file, cohort, dht_request_ms = sys.argv[1:]
real = json.load(open(measured_file))
rates = real["peer_samples_per_second"]

def simulate(seconds):
    command = [cohort, "simulate", "--volunteers", str(real["peers"]), "--hours", str(seconds / 3600), "--json",
               "--samples-per-second", ",".join(str(rate) for rate in rates), "--bandwidth-mbit", "10000", "--latency-ms", "0.05",
               "--dht-request-ms", dht_request_ms,
               "--client-mode-share", "0", "--parameters-millions", str(real["parameters"] / 1e6),
               "--target-batch", str(real["target_batch"]), "--micro-batch", "4",
               "--matchmaking-seconds", str(real["matchmaking_seconds"]), "--averaging-timeout-seconds", "30",
               "--arrival-seconds", "0"]
    return json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)

# The real figures start after the run's first round (the journal's first line), whose batch
# the peers trained while the group first formed; the simulated ones leave out the same
# warm-up: the first `warm_up` simulated seconds, taken off the whole run's counts (the simulator
# is deterministic, so the short run is the long run's beginning).
warm_up = 10.0
whole, start = simulate(real["seconds"] + warm_up), simulate(warm_up)
def counted(report):
    rounds = report["rounds"] + report["alone_steps"]
    return rounds, report["mean_round_samples"] * report["rounds"], report["utilisation"] * report["simulated_seconds"]
(rounds, samples, busy), (rounds0, samples0, busy0) = counted(whole), counted(start)
seconds = whole["simulated_seconds"] - start["simulated_seconds"]
simulated = {"rounds_per_minute": (rounds - rounds0) * 60 / seconds,
             "utilisation": (busy - busy0) / seconds,
             "mean_round_samples": (samples - samples0) / max(1, (whole["rounds"] - start["rounds"]))}
print(json.dumps({"real": real, "simulated": simulated, "dht_request_ms": float(dht_request_ms), "warm_up_seconds": warm_up,
                  "ratio": {k: simulated[k] / real[k] if real[k] else None
                            for k in ("rounds_per_minute", "utilisation", "mean_round_samples")}}))
PY
