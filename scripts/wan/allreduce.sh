#!/usr/bin/env bash
# The all-reduce alone on home-like links: four hosts in network namespaces (the fault suite's
# topology), each behind a `tc tbf` link, average config S's parameter vector with Cohort's
# butterfly all-reduce (`cohort bench allreduce --hosts --wrap`) and with gloo's
# (benchmarks/gloo_allreduce.py, one rank per host) on the same links: four 50 Mbit/s links, and
# the uneven mix 100/50/50/20 Mbit/s, where Cohort's parts follow the declared bandwidths (and,
# for comparison, equal parts as gloo cuts them). Prints a table and writes
# benchmarks/results/wan-allreduce.json.
#
#   sudo ./scripts/wan/allreduce.sh                 # COHORT=… picks the binary (default: release)
#   PYTHON=/path/venv/bin/python ./scripts/wan/…    # a Python with torch, for gloo (skipped without)
#   CONGESTION_CONTROL=bbr ./scripts/wan/…          # the hosts' TCP congestion control (default
#                                                   # cubic, what desktop systems send with)
set -euo pipefail
cd "$(dirname "$0")/../.."
[[ $(id -u) == 0 ]] || { echo "scripts/wan/allreduce.sh needs root: it creates network namespaces and tc qdiscs" >&2; exit 2; }
source scripts/faults/netns.sh
COHORT=${COHORT:-$PWD/.build/release/cohort}
[[ -x $COHORT ]] || { echo "no cohort binary at $COHORT (swift build -c release, or set COHORT)" >&2; exit 2; }
PYTHON=${PYTHON:-}
SIZE=${SIZE:-3225600}
ROUNDS=${ROUNDS:-3}
CONGESTION_CONTROL=${CONGESTION_CONTROL:-cubic}
PEERS=4
RESULTS=${RESULTS:-benchmarks/results/wan-allreduce.json}
work=$(mktemp -d)
GLOO_PIDS=()
# A gloo rank whose peers failed waits for them for good: the ranks go with the namespaces.
trap 'kill "${GLOO_PIDS[@]}" 2>/dev/null || true; topology_down; rm -rf "$work"' EXIT

topology_up $PEERS
use_congestion_control "$CONGESTION_CONTROL"
hosts=$(for ((h = 0; h < PEERS; h++)); do host_address $h; done | paste -sd,)

# Sets the hosts' links to the given Mbit/s, one per host.
set_links() {
    local host=0 rate
    for rate in "$@"; do
        limit_bandwidth $host "${rate}mbit"
        host=$((host + 1))
    done
}

# cohort bench allreduce across the hosts; DECLARED: the Mbit/s each declares (parts follow it).
run_cohort() {
    local label=$1 declared=$2
    echo "--- $label: cohort, declared $declared Mbit/s" >&2
    "$COHORT" bench allreduce --peers $PEERS --size "$SIZE" --rounds "$ROUNDS" --no-same-host-copies \
        --hosts "$hosts" --wrap "ip netns exec $FAULTS_PREFIX-h{i}" --bandwidths-mbit "$declared" --sender-timeout 200 --round-timeout 300 --json \
        >"$work/$label.json"
}

# gloo's all-reduce, one rank per host, rank 0 on host 0, each on its host's interface (gloo would
# otherwise bind the address its hostname resolves to, 127.0.0.1).
run_gloo() {
    local label=$1 rank
    [[ -n $PYTHON ]] || return 0
    echo "--- $label: gloo" >&2
    GLOO_PIDS=()
    for ((rank = 1; rank < PEERS; rank++)); do
        on_host $rank env GLOO_SOCKET_IFNAME=eth0 "$PYTHON" benchmarks/gloo_allreduce.py --peers $PEERS --size "$SIZE" --rounds "$ROUNDS" --rank $rank \
            --master "$(host_address 0):29500" >/dev/null &
        GLOO_PIDS+=($!)
    done
    on_host 0 env GLOO_SOCKET_IFNAME=eth0 "$PYTHON" benchmarks/gloo_allreduce.py --peers $PEERS --size "$SIZE" --rounds "$ROUNDS" --rank 0 \
        --master "$(host_address 0):29500" >"$work/$label.json"
    wait "${GLOO_PIDS[@]}"
    GLOO_PIDS=()
}

uniform=(50 50 50 50)
mix=(100 50 50 20)
set_links "${uniform[@]}"
run_cohort uniform-cohort "$(IFS=,; echo "${uniform[*]}")"
run_gloo uniform-gloo
set_links "${mix[@]}"
run_cohort mix-cohort "$(IFS=,; echo "${mix[*]}")"
run_cohort mix-cohort-equal-parts "50,50,50,50"
run_gloo mix-gloo

python3 - "$work" "$RESULTS" "$SIZE" "${uniform[*]}" "${mix[*]}" "$CONGESTION_CONTROL" <<'PY'
import json, os, sys
work, results, size, congestion_control = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[6]
links = {"uniform": [float(x) for x in sys.argv[4].split()], "mix": [float(x) for x in sys.argv[5].split()]}
rows = []
for label in ["uniform-cohort", "uniform-gloo", "mix-cohort", "mix-cohort-equal-parts", "mix-gloo"]:
    path = os.path.join(work, label + ".json")
    if not os.path.exists(path):
        continue
    report = json.load(open(path))
    rates = [mbit * 1e6 / 8 for mbit in links[label.split("-")[0]]]
    if "bytes_sent_per_worker" in report:
        # The busiest direction of each link at its rate; the round cannot beat the slowest.
        bound = max(max(sent, received) / rate for sent, received, rate
                    in zip(report["bytes_sent_per_worker"], report["bytes_received_per_worker"], rates))
    else:
        # A ring all-reduce sends and receives 2(N-1)/N of the vector on every link.
        peers = report["peers"]
        bound = size * 4 * 2 * (peers - 1) / peers / min(rates)
    rows.append({"run": label, "links_mbit": links[label.split("-")[0]], "median_seconds": report["median_seconds"],
                 "round_seconds": report["round_seconds"], "line_rate_bound_seconds": bound,
                 "ratio_to_bound": report["median_seconds"] / bound})
json.dump({"elements": size, "congestion_control": congestion_control, "rows": rows}, open(results, "w"), indent=2, sort_keys=True)
print(f"{'run':24} {'median s':>9} {'bound s':>8} {'x bound':>8}")
for row in rows:
    print(f"{row['run']:24} {row['median_seconds']:9.2f} {row['line_rate_bound_seconds']:8.2f} {row['ratio_to_bound']:8.2f}")
print(f"written: {results}")
PY
