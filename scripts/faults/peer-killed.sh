#!/usr/bin/env bash
# A peer is SIGKILLed in the middle of an averaging round. The two others must finish that
# round without it (it counts as failed, its parts are skipped alike) and go on averaging.
source "$(dirname "$0")/scenario.sh"
begin_scenario 4

start_coordinator 0 "$FAULTS_LOGS/settings.json" --target-batch 12 --checkpoint-every 5
start_peer peer-1 1
start_peer peer-2 2
# The victim's frames leave 30 ms late, so its rounds last long enough to be cut in the middle.
start_peer peer-3 3 --inject-frame-delay-ms 30
wait_for_shared_rounds peer-3 3 90

wait_for_round_start peer-3 3 30
kill_process peer-3
step=$(last_averaging_step peer-3)
mark=$(journal_count)
echo "killed peer-3 during the round of step $step"

# The survivors finish that step without the victim (a survivor that started the round late
# may also be left out by the other: the agreement check then repairs their states).
wait_for_log peer-1 "peers=[12] .*step=$step \[Peer\] round$" 60 "peer-1 did not finish step $step without the killed peer"
wait_for_log peer-2 "peers=[12] .*step=$step \[Peer\] round$" 60 "peer-2 did not finish step $step without the killed peer"
assert_run_healthy "$mark"
pass "the survivors finished step $step without the killed peer and trained on"
