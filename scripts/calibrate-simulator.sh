#!/usr/bin/env bash
# Calibrates `cohort simulate` against a real run (docs/simulation.md "Calibration"): PEERS
# peers and a coordinator train on 127.0.0.1 for MINUTES minutes, then the simulator runs the
# same settings with the peers' measured training speeds on loopback-like links. Prints one
# JSON object with both runs' rounds per minute and utilisation, and the simulator's ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
COHORT=${COHORT:-.build/release/cohort}
PEERS=${PEERS:-4}
MINUTES=${MINUTES:-3}
TARGET=${TARGET:-64}
MATCHMAKING=${MATCHMAKING:-1}
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

"$COHORT" coordinator --open --run calibration --listen 127.0.0.1:0 --http 127.0.0.1:0 --state-dir "$work/state" \
    --config "$work/settings.json" --target-batch "$TARGET" --matchmaking-seconds "$MATCHMAKING" > "$work/coordinator.log" 2>&1 &
pids+=($!)
join="" dashboard=""
for _ in $(seq 600); do
    join=$(grep -oP 'peers join with: cohort peer --join \K\S+' "$work/coordinator.log" || true)
    dashboard=$(grep -oP 'dashboard: \K\S+' "$work/coordinator.log" || true)
    [ -n "$join" ] && [ -n "$dashboard" ] && break
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
sleep $((MINUTES * 60))
end=$(date +%s.%N); last=$(wc -l < "$journal")
curl -fsS "${dashboard%/}/api/status" > "$work/status.json"
parameters=$(grep -ohP 'parameters=\K[0-9]+' "$work"/peer-1.log | head -1)

python3 - "$work/status.json" "$journal" "$first" "$last" "$start" "$end" "$PEERS" "$COHORT" "$parameters" "$TARGET" "$MATCHMAKING" <<'PY'
import json, subprocess, sys
status_file, journal, first, last, start, end, peers, cohort, parameters, target, matchmaking = sys.argv[1:]
first, last, peers, parameters = int(first), int(last), int(peers), int(parameters)
seconds = float(end) - float(start)
status = json.load(open(status_file))
rates = [p.get("samples_per_second", p.get("samplesPerSecond", 0)) for p in status["peers"]]
rounds = [json.loads(line) for line in open(journal).read().splitlines()[first:last]]
averaged = sum(r["samples"] for r in rounds if r.get("members", 0) >= 1)
real = {"rounds_per_minute": len(rounds) * 60 / seconds,
        "utilisation": averaged / (sum(rates) * seconds) if rates else 0,
        "mean_round_samples": averaged / len(rounds) if rounds else 0,
        "peer_samples_per_second": rates, "seconds": seconds}
simulate = [cohort, "simulate", "--volunteers", str(peers), "--hours", str(seconds / 3600), "--json",
            "--samples-per-second", f"{min(rates)}:{max(rates)}", "--bandwidth-mbit", "10000", "--latency-ms", "0.05",
            "--client-mode-share", "0", "--parameters-millions", str(parameters / 1e6), "--target-batch", target,
            "--micro-batch", "4", "--matchmaking-seconds", matchmaking, "--averaging-timeout-seconds", "30",
            "--arrival-seconds", "0"]
report = json.loads(subprocess.run(simulate, check=True, capture_output=True, text=True).stdout)
simulated = {"rounds_per_minute": (report["rounds"] + report["alone_steps"]) * 60 / report["simulated_seconds"],
             "utilisation": report["utilisation"], "mean_round_samples": report["mean_round_samples"]}
print(json.dumps({"real": real, "simulated": simulated,
                  "ratio": {k: simulated[k] / real[k] if real[k] else None for k in ("rounds_per_minute", "utilisation")}}))
PY
