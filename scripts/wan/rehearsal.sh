#!/usr/bin/env bash
# `make wan`: a WAN rehearsal. A coordinator and four peers, each on its own host (network
# namespaces, the fault suite's topology) behind a `tc tbf` link of 100/50/50/20 Mbit/s, every
# peer's frames leaving 40 ms late (one-way latency; netem is not available here), train
# config S on Tiny Shakespeare for the same number of samples with per-step averaging and with
# local SGD at each H of $LOCAL_STEPS, blocking (peers wait for each round) and overlapped
# (peers train on while it averages), as $MODES says. A single `cohort train` process on the same cores is the
# baseline. For each run: samples/s and its ratio to the baseline, the peers' utilisation (time
# in forward/backward ÷ wall time, from /api/status), averaging bytes per token (the journal),
# and the validation loss of the newest checkpoint. Writes benchmarks/results/wan.json and
# prints a table.
#
#   sudo make wan         # SAMPLES=…, LOCAL_STEPS="1 4 16", MODES="blocking overlapped", COHORT=… to change;
#                         # LINKS="100 50 50 20" (Mbit/s, one per peer), LATENCY_MS=40, RESULTS=… likewise;
#                         # COMPRESSION=float16|int8 compresses every run's averaging (default none);
#                         # FRAGMENTS=F streams local SGD's rounds in F fragments (runs with H > 1);
#                         # CHECKPOINTS=N checkpoints per run (default 5), all kept: a per-step
#                         # reference with many gives the loss at any other run's sample count;
#                         # CONGESTION_CONTROL=cubic (default; what desktop systems send with) or bbr;
#                         # OUTER_LR and OUTER_MOMENTUM set local SGD's outer step (coordinator defaults) …
set -euo pipefail
FAULTS_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$FAULTS_ROOT"
FAULTS_SCENARIO=wan
FAULTS_LOGS=$FAULTS_ROOT/runs/wan
COHORT=${COHORT:-$FAULTS_ROOT/.build/release/cohort}
source scripts/faults/netns.sh
source scripts/faults/processes.sh
source scripts/faults/assert.sh
[[ $(id -u) == 0 ]] || { echo "make wan needs root: it creates network namespaces and tc qdiscs" >&2; exit 2; }
[[ -x $COHORT ]] || { echo "no cohort binary at $COHORT (swift build -c release, or set COHORT)" >&2; exit 2; }
SAMPLES=${SAMPLES:-1600}
LOCAL_STEPS=${LOCAL_STEPS:-"1 4 16"}
MODES=${MODES:-"blocking overlapped"}
TARGET_BATCH=32
read -r -a LINKS <<<"${LINKS:-100 50 50 20}"
((${#LINKS[@]} == 4)) || { echo "LINKS must name four rates in Mbit/s, one per peer: '${LINKS[*]}'" >&2; exit 2; }
LATENCY_MS=${LATENCY_MS:-40}
RESULTS=${RESULTS:-benchmarks/results/wan.json}
COMPRESSION=${COMPRESSION:-none}
[[ $COMPRESSION =~ ^(none|float16|int8)$ ]] || { echo "COMPRESSION must be none, float16 or int8: '$COMPRESSION'" >&2; exit 2; }
FRAGMENTS=${FRAGMENTS:-1}
CHECKPOINTS=${CHECKPOINTS:-5}
CONGESTION_CONTROL=${CONGESTION_CONTROL:-cubic}
outer_flags=()
[[ -z ${OUTER_LR:-} ]] || outer_flags+=(--outer-lr "$OUTER_LR")
[[ -z ${OUTER_MOMENTUM:-} ]] || outer_flags+=(--outer-momentum "$OUTER_MOMENTUM")
[[ $CHECKPOINTS =~ ^[1-9][0-9]*$ ]] || { echo "CHECKPOINTS must be a positive count: '$CHECKPOINTS'" >&2; exit 2; }
[[ $FRAGMENTS =~ ^[1-9][0-9]*$ ]] || { echo "FRAGMENTS must be a positive count: '$FRAGMENTS'" >&2; exit 2; }

rm -rf "$FAULTS_LOGS"
mkdir -p "$FAULTS_LOGS"
trap 'stop_all_processes; topology_down' EXIT
topology_up 5
use_congestion_control "$CONGESTION_CONTROL"
for peer in 1 2 3 4; do limit_bandwidth $peer "${LINKS[$((peer - 1))]}mbit"; done
# The validation text: the corpus's last 64 KiB (inside the held-out split).
VALIDATION=$FAULTS_LOGS/validation.txt
tail -c 65536 Sources/cohort/Resources/tinyshakespeare.txt >"$VALIDATION"

settings() {
    cat <<JSON
{"model": {"hidden_size": 256, "layer_count": 4, "head_count": 4, "context_length": 128},
 "batch_size": 8, "temperature": 0.02, "warmup_steps": $1, "steps": 100000, "validation_windows": 64}
JSON
}

validation_loss() {
    "$COHORT" eval --checkpoint "$1" --data "$VALIDATION" --threads 2 --json | jq .mean_loss
}

echo "--- baseline: one cohort train process, 2 threads, $SAMPLES samples" >&2
settings 5 >"$FAULTS_LOGS/baseline-settings.json"
baseline_steps=$((SAMPLES / TARGET_BATCH))
start=$(date +%s.%N)
"$COHORT" train --config "$FAULTS_LOGS/baseline-settings.json" --batch $TARGET_BATCH --micro-batch 8 --steps $baseline_steps \
    --checkpoint-every $baseline_steps --validate-every 100000 --output "$FAULTS_LOGS/baseline" --threads 2 >"$FAULTS_LOGS/baseline.log" 2>&1
baseline_rate=$(echo "$SAMPLES / ($(date +%s.%N) - $start)" | bc -l)
rows=("$(jq -n --argjson rate "$baseline_rate" --argjson loss "$(validation_loss "$FAULTS_LOGS/baseline")" --argjson samples "$SAMPLES" \
    '{run: "one process", samples: $samples, samples_per_second: $rate, validation_loss: $loss}')")

# The journal's rounds up to STEP: samples, averaging bytes both ways, seconds from the first
# round to that one, and their count.
journal_totals() {
    jq -rs --argjson step "$2" 'map(select(.step <= $step)) | [(map(.samples) | add), (map(.bytesSent + .bytesReceived) | add),
        ((.[-1].recordedAtMilliseconds - .[0].recordedAtMilliseconds) / 1000), length] | @tsv' "$1"
}

for run in $(for h in $LOCAL_STEPS; do
                 if ((h == 1)); then echo 1:blocking; else for mode in $MODES; do echo "$h:$mode"; done; fi
             done); do
    h=${run%%:*} mode=${run#*:}
    label="H=$h"
    [[ $COMPRESSION == none ]] || label="$label $COMPRESSION"
    peer_flags=(--threads 1 --inject-frame-delay-ms $LATENCY_MS)
    fragments=$((h > 1 ? FRAGMENTS : 1))
    if ((h > 1)); then
        label="$label $mode"
        ((fragments == 1)) || label="$label, $fragments fragments"
        # Overlapped runs train on while their rounds average and while their groups form (the defaults).
        [[ $mode == overlapped ]] || peer_flags+=(--no-train-while-averaging)
    fi
    echo "--- $label: a coordinator and 4 peers on ${LINKS[*]} Mbit/s links, $LATENCY_MS ms" >&2
    FAULTS_LOGS=$FAULTS_ROOT/runs/wan/h$h-$mode
    FAULTS_STATE=$FAULTS_LOGS/state
    mkdir -p "$FAULTS_LOGS"
    rounds_expected=$((SAMPLES * fragments / (TARGET_BATCH * h)))
    # About five checkpoints a run: each is a state download from the peers' slow links.
    every=$((rounds_expected / CHECKPOINTS > 1 ? rounds_expected / CHECKPOINTS : 1))
    # Warm-up over the first tenth of the budget, counted in rounds.
    settings $((rounds_expected / 10 + 1)) >"$FAULTS_LOGS/settings.json"
    start_coordinator 0 "$FAULTS_LOGS/settings.json" --target-batch $TARGET_BATCH --local-steps "$h" --checkpoint-every $every \
        --keep $((CHECKPOINTS + 2)) --averaging-timeout 120 --compression "$COMPRESSION" --fragments $fragments "${outer_flags[@]}"
    for peer in 1 2 3 4; do start_peer "peer-$peer" $peer "${peer_flags[@]}"; done
    journal=$FAULTS_STATE/rounds.jsonl
    wait_until 3600 "$label: the run did not reach $SAMPLES samples" \
        bash -c "[ \$(jq -s 'map(.samples) | add // 0' '$journal' 2>/dev/null || echo 0) -ge $SAMPLES ]"
    budget_step=$(jq -s '.[-1].step' "$journal")
    read -r samples bytes seconds rounds < <(journal_totals "$journal" "$budget_step")
    utilisation=$(coordinator_status | jq '.utilisation // null')
    # The loss is the next checkpoint's at or after the budget (up to `every` rounds more).
    wait_until 1800 "$label: no checkpoint after step $budget_step" checkpoint_after $((budget_step - 1))
    status=$(coordinator_status)
    checkpoint=$(jq -r .last_checkpoint_path <<<"$status")
    # The checkpoint of step S holds the rounds of steps 0 … S − 1.
    read -r checkpoint_samples _ _ _ < <(journal_totals "$journal" $(($(jq .last_checkpoint_step <<<"$status") - 1)))
    stop_all_processes
    FAULTS_PIDS=()
    # Every kept checkpoint's loss, so that runs compare at equal samples, not only at the next
    # checkpoint after each one's budget.
    curve=$(for folder in "$(dirname "$checkpoint")"/step-*; do
        step=$((10#${folder##*step-}))
        ((step > 0)) || continue
        read -r curve_samples _ _ _ < <(journal_totals "$journal" $((step - 1)))
        jq -n --argjson samples "$curve_samples" --argjson loss "$(validation_loss "$folder")" '{samples: $samples, validation_loss: $loss}'
    done | jq -s 'sort_by(.samples)')
    rows+=("$(jq -n --arg run "$label" --argjson samples "$samples" --argjson bytes "$bytes" --argjson seconds "$seconds" \
        --argjson rounds "$rounds" --argjson baseline "$baseline_rate" --argjson utilisation "$utilisation" --argjson context 128 \
        --argjson loss "$(validation_loss "$checkpoint")" --argjson checkpoint_samples "$checkpoint_samples" --argjson curve "$curve" \
        '{run: $run, samples: $samples, rounds: $rounds, samples_per_second: ($samples / $seconds),
          efficiency: (($samples / $seconds) / $baseline), utilisation: $utilisation,
          bytes_per_token: ($bytes / ($samples * $context)), validation_loss: $loss, loss_after_samples: $checkpoint_samples,
          checkpoints: $curve}')")
done

printf '%s\n' "${rows[@]}" | jq -s --argjson links "[$(IFS=,; echo "${LINKS[*]}")]" --argjson latency $LATENCY_MS \
    --arg compression "$COMPRESSION" --arg congestion_control "$CONGESTION_CONTROL" --arg outer "${outer_flags[*]}" \
    '{links_mbit: $links, latency_ms: $latency, compression: $compression, congestion_control: $congestion_control,
      outer_step_flags: $outer, rows: .}' >"$RESULTS"
jq -r '["run", "samples/s", "efficiency", "utilisation", "bytes/token", "val loss"],
       (.rows[] | [.run, (.samples_per_second | . * 10 | round / 10), (.efficiency // "" | if . == "" then . else . * 100 | round / 100 end),
                   (.utilisation // "" | if . == "" then . else . * 100 | round / 100 end),
                   (.bytes_per_token // "" | if . == "" then . else round end), (.validation_loss * 1000 | round / 1000)])
       | @tsv' "$RESULTS" | column -t -s $'\t'
echo "written: $RESULTS"
