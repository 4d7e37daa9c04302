#!/usr/bin/env bash
# Benchmark of the multi-donor state download (docs/benchmarks.md, "State download"): a joiner
# on host 0 downloads a random state from k = 1, 2 and 4 donors on hosts 1–4, each donor behind
# its own RATE token-bucket link (tc tbf, both directions), and prints one JSON object with the
# median time for each k and the speed-up over one donor, against the claim that k donors give
# at least 0.8·k×. The joiner's own link is not limited. Not part of the fault suite (run.sh).
#   RATE (default 20mbit), BYTES (default 33554432), RUNS (default 3), COHORT (the binary).
source "$(dirname "$0")/scenario.sh"
RATE=${RATE:-20mbit}
BYTES=${BYTES:-$((32 << 20))}
RUNS=${RUNS:-3}
DONOR_HOSTS=(1 2 3 4)
begin_scenario $((1 + ${#DONOR_HOSTS[@]}))
for host in "${DONOR_HOSTS[@]}"; do limit_bandwidth "$host" "$RATE"; done

for donors in 1 2 4; do
    flags=()
    for host in "${DONOR_HOSTS[@]:0:donors}"; do flags+=(--donor-host "$(host_ns "$host")@$(host_address "$host")"); done
    on_host 0 "$COHORT" bench state-download --bytes "$BYTES" --runs "$RUNS" --json "${flags[@]}" \
        >"$FAULTS_LOGS/donors-$donors.json" 2>"$FAULTS_LOGS/donors-$donors.log" \
        || fail "the download from $donors donor(s) failed (see $FAULTS_LOGS/donors-$donors.log)"
done

jq -s --arg rate "$RATE" '
    (.[] | select(.donors == 1) | .median_seconds) as $one
    | {rate_per_donor: $rate, bytes: .[0].bytes, runs: (.[0].seconds | length),
       results: [.[] | {donors, median_seconds, megabytes_per_second, chunks_served,
                        speedup: ($one / .median_seconds), target: (0.8 * .donors),
                        meets: ($one / .median_seconds >= 0.8 * .donors)}]}' \
    "$FAULTS_LOGS"/donors-{1,2,4}.json
