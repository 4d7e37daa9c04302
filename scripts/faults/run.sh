#!/usr/bin/env bash
# Runs the fault-injection scenarios (all of them, or those named as arguments) one after
# another and prints a summary: scenario, result, seconds. Each scenario's output is also kept
# in runs/faults/<scenario>.out, its processes' logs in runs/faults/<scenario>/.
set -euo pipefail
cd "$(dirname "$0")/../.."
ALL_SCENARIOS=(peer-killed straggler-stopped partition-heal coordinator-restart client-mode lossy-peer uneven-bandwidth diloco-killed)

[[ $(id -u) == 0 ]] || { echo "the fault-injection suite needs root: it creates network namespaces, veth pairs and tc qdiscs" >&2; exit 2; }
probe="cohort-probe-$$"
ip netns add "$probe" 2>/dev/null && ip netns del "$probe" \
    || { echo "the fault-injection suite needs network namespaces ('ip netns add' failed)" >&2; exit 2; }
./scripts/install-deps.sh iproute2 nftables curl jq

scenarios=("$@")
((${#scenarios[@]} > 0)) || scenarios=("${ALL_SCENARIOS[@]}")
for scenario in "${scenarios[@]}"; do
    [[ -x scripts/faults/$scenario.sh ]] || { echo "no scenario named $scenario (scripts/faults/$scenario.sh)" >&2; exit 2; }
done

mkdir -p runs/faults
results=()
failed=0
suite_start=$SECONDS
for scenario in "${scenarios[@]}"; do
    echo "=== $scenario"
    start=$SECONDS
    if "scripts/faults/$scenario.sh" 2>&1 | tee "runs/faults/$scenario.out"; then
        result=PASS
    else
        result=FAIL
        failed=$((failed + 1))
    fi
    results+=("$(printf '%-22s %-6s %7d' "$scenario" "$result" $((SECONDS - start)))")
done

echo
printf '%-22s %-6s %7s\n' scenario result seconds
printf '%s\n' "${results[@]}"
printf '%-22s %-6s %7d\n' total "$( ((failed == 0)) && echo PASS || echo FAIL)" $((SECONDS - suite_start))
((failed == 0))
