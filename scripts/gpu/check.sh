#!/usr/bin/env bash
# Every GPU check and benchmark of the CUDA trainer in one go, on a machine with an NVIDIA GPU,
# from the repository root after scripts/gpu/package.sh made gpu-bundle/ (no Swift toolchain
# needed there). Results go to $OUT (default gpu-results/) as JSON and logs; summary.json
# gathers the figures docs/benchmarks.md reports. Each step has a time limit and a failed step
# does not stop the others; the script exits 1 if any failed.
#
#   QUICK=1  checks only (info, check-gpu, a short training, the mixed run): a few minutes less.
#   PYTHON   a python with torch and CUDA for the PyTorch baseline (default python3).
#   TRAIN_FLAGS  the short training's flags (default: config S, 3,000 steps, validation every 100).
#
# On a machine without a GPU the same script runs on the tests' emulated CUDA libraries
# (COHORT_CUDA_LIBRARY_PATH=.build/cuda-emulation after `make test`), slowly: with QUICK=1 and a
# tiny TRAIN_FLAGS it checks the script and the bundle, not the GPU.
set -uo pipefail
cd "$(dirname "$0")/../.."
results=${OUT:-gpu-results}
mkdir -p "$results"
bundle=$PWD/gpu-bundle
cohort=${COHORT:-$bundle/cohort}
export LD_LIBRARY_PATH="$bundle/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
python=${PYTHON:-python3}
if [ ! -x "$cohort" ] && [ -f "$bundle/binaries.tar.xz" ]; then
    "$python" -c 'import tarfile, sys
options = {"filter": "tar"} if hasattr(tarfile, "tar_filter") else {}
tarfile.open(sys.argv[1]).extractall(sys.argv[2], **options)' "$bundle/binaries.tar.xz" "$bundle"
fi
failed=()

# step NAME SECONDS COMMAND...: runs COMMAND with its output in $results/NAME.out, stderr in .err.
step() {
    local name=$1 limit=$2
    shift 2
    local start=$SECONDS
    timeout "$limit" "$@" >"$results/$name.out" 2>"$results/$name.err"
    local status=$?
    echo "$name: exit $status in $((SECONDS - start)) s"
    [ $status -eq 0 ] || failed+=("$name")
}

step info 30 "$cohort" info --json
step check-gpu 120 "$cohort" check-gpu --json

# Config S to 2.0 nats/byte: validation every 100 steps; the log's elapsed column says when.
train_flags=${TRAIN_FLAGS:---preset S --steps 3000 --validate-every 100 --log-every 100}
# shellcheck disable=SC2086
step train-s 150 "$cohort" train --device cuda $train_flags --output "$results/train-s-checkpoint"

# One CPU peer and one GPU peer averaging every step: they must end each round with one state.
# A small model, so that neither leaves the other behind for long.
mixed_run() {
    local folder=$results/mixed
    mkdir -p "$folder"
    cat >"$folder/settings.json" <<'JSON'
{"model": {"hidden_size": 32, "layer_count": 2, "head_count": 2, "context_length": 32},
 "batch_size": 4, "temperature": 0.02, "warmup_steps": 2, "steps": 100000}
JSON
    "$cohort" coordinator --open --run gpu-mixed --listen 127.0.0.1:0 --http 127.0.0.1:0 --state-dir "$folder/state" \
        --config "$folder/settings.json" --target-batch 12 --matchmaking-seconds 1 >"$folder/coordinator.log" 2>&1 &
    local coordinator=$!
    local join=""
    for _ in $(seq 60); do
        join=$(grep -oE 'peers join with: cohort peer --join [^ ]+' "$folder/coordinator.log" | awk '{print $NF}' | head -1)
        [ -n "$join" ] && break
        sleep 1
    done
    "$cohort" peer --join "$join" --listen 127.0.0.1:0 --device cpu --threads 4 >"$folder/cpu-peer.log" 2>&1 &
    local cpu=$!
    "$cohort" peer --join "$join" --listen 127.0.0.1:0 --device cuda >"$folder/gpu-peer.log" 2>&1 &
    local gpu=$!
    sleep 75
    kill "$cpu" "$gpu" "$coordinator" 2>/dev/null
    wait 2>/dev/null
    # step → state hash of the rounds each peer averaged with the other one.
    pairs() { grep -oE 'peers=2 samples=[0-9]+ seconds=[0-9.]+ state=[0-9a-f]+ step=[0-9]+' "$1" \
        | sed -E 's/.*state=([0-9a-f]+) step=([0-9]+)/\2 \1/' | sort; }
    pairs "$folder/cpu-peer.log" >"$folder/cpu.rounds"
    pairs "$folder/gpu-peer.log" >"$folder/gpu.rounds"
    local common agreeing
    common=$(join "$folder/cpu.rounds" "$folder/gpu.rounds" | wc -l)
    agreeing=$(join "$folder/cpu.rounds" "$folder/gpu.rounds" | awk '$2 == $3' | wc -l)
    echo "{\"rounds_averaged_together\": $common, \"rounds_with_equal_states\": $agreeing}"
    [ "$common" -ge 10 ] && [ "$common" -eq "$agreeing" ]
}
step mixed-run 120 bash -c "$(declare -f mixed_run); results='$results'; cohort='$cohort'; mixed_run"

if [ -z "${QUICK:-}" ]; then
    for config in S M L; do
        for math in float32 tf32; do
            step "bench-$config-$math" 120 "$cohort" bench train --device cuda --config "$config" --gpu-matrix-math "$math" \
                --seconds 10 --json
            tf32=""; [ "$math" = tf32 ] && tf32=--tf32
            step "pytorch-$config-$math" 180 "$python" benchmarks/pytorch_train.py --device cuda --config "$config" \
                --steps 30 --warmup 5 $tf32 --data "$bundle/Cohort_cohort.resources/tinyshakespeare.txt"
        done
    done
fi

"$python" - "$results" <<'PY' >"$results/summary.json"
import json, pathlib, re, sys
results = pathlib.Path(sys.argv[1])
def load(name):
    try:
        return json.loads((results / f"{name}.out").read_text().strip().splitlines()[-1])
    except Exception as error:
        return {"missing": str(error)}
summary = {"info": load("info"), "check_gpu": load("check-gpu"), "mixed_run": load("mixed-run")}
log = (results / "train-s.out").read_text() if (results / "train-s.out").exists() else ""
below = [(int(s), float(l), e) for s, l, e in re.findall(r"validation \| step (\d+) \| loss ([0-9.]+) nats/byte .*elapsed (\S+)", log)]
summary["train_s_validation"] = below
summary["train_s_first_below_2"] = next(({"step": s, "loss": l, "elapsed": e} for s, l, e in below if l < 2.0), None)
for config in "SML":
    for math in ("float32", "tf32"):
        cohort, torch = load(f"bench-{config}-{math}"), load(f"pytorch-{config}-{math}")
        entry = {"cohort": cohort, "pytorch": torch}
        if "tokens_per_second" in cohort and "tokens_per_second" in torch:
            entry["ratio"] = cohort["tokens_per_second"] / torch["tokens_per_second"]
        summary[f"{config}-{math}"] = entry
print(json.dumps(summary, indent=1))
PY
echo "summary: $results/summary.json"
if [ ${#failed[@]} -gt 0 ]; then
    echo "failed: ${failed[*]}"
    exit 1
fi
