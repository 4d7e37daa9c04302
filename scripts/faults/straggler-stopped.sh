#!/usr/bin/env bash
# A peer is SIGSTOPped in the middle of an averaging round and resumed once the others have
# averaged two more rounds. The others must leave it out at the averaging deadline (6 s here)
# and go on; the straggler must notice it fell behind, load the run's state and average with
# the others again.
source "$(dirname "$0")/scenario.sh"
begin_scenario 4

start_coordinator 0 "$FAULTS_LOGS/settings.json" --target-batch 12 --checkpoint-every 5 --averaging-timeout 6
start_peer peer-1 1
start_peer peer-2 2
# The straggler's frames leave 30 ms late, so the stop lands in the middle of its round.
start_peer peer-3 3 --inject-frame-delay-ms 30
wait_for_shared_rounds peer-3 3 90

wait_for_round_start peer-3 3 30
signal_process peer-3 STOP
step=$(last_averaging_step peer-3)
mark=$(journal_count)
echo "stopped peer-3 during the round of step $step"
wait_for_log peer-1 "peers=[12] .*step=$step \[Peer\] round$" 30 "peer-1 did not finish step $step without the straggler"
wait_for_log peer-2 "peers=[12] .*step=$step \[Peer\] round$" 30 "peer-2 did not finish step $step without the straggler"
rounds_while_stopped=$(shared_rounds peer-1)
wait_for_shared_rounds peer-1 $((rounds_while_stopped + 2)) 30
resumed_at=$(log_mark peer-3)
signal_process peer-3 CONT
resumed=$(shared_rounds peer-3)
echo "resumed peer-3"

# The straggler finishes its stale round alone, then catches up and averages with the others.
wait_for_new_log peer-3 "$resumed_at" "\[Peer\] state loaded$" 60 "the straggler did not load the run's state after resuming"
wait_for_shared_rounds peer-3 $((resumed + 3)) 60
assert_run_healthy "$mark"
pass "the others left the straggler out of step $step; it caught up and averaged again"
