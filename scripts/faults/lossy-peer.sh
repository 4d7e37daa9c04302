#!/usr/bin/env bash
# One peer's link delays every frame it sends by 20 ms and drops 2 % of them (injected in the
# node shell: this kernel has no netem). Lost frames end requests in timeouts, so some rounds
# lose parts; the run must still train, with the lossy peer taking part, and every round that
# lost nothing must agree bit for bit.
source "$(dirname "$0")/scenario.sh"
begin_scenario 4

start_coordinator 0 "$FAULTS_LOGS/settings.json" --target-batch 12 --checkpoint-every 5 --averaging-timeout 6
start_peer peer-1 1
start_peer peer-2 2
start_peer peer-3 3 --inject-frame-delay-ms 20 --inject-frame-loss 0.02
wait_for_log peer-3 "dropping 2.0 %" 10 "the lossy peer did not turn on the injected faults"
mark=$(journal_count)
wait_for_shared_rounds peer-3 8 150
echo "degraded rounds: $(degraded_steps | wc -l)"
assert_run_healthy "$mark"
pass "the run trained with a lossy peer taking part in $(shared_rounds peer-3) rounds"
