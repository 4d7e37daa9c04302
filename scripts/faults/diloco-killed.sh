#!/usr/bin/env bash
# Local SGD (DiLoCo), streamed in two fragments: a run averaging half the parameters every 2
# target batches (each half every 4) loses a peer to SIGKILL in the middle of an outer round.
# The survivors must finish that round without it; the peer, started again, joins mid-round: it
# loads the newest outer state (momentum included) and averages with the others from a later
# round on, with every member's state hash agreeing.
source "$(dirname "$0")/scenario.sh"
begin_scenario 4

start_coordinator 0 "$FAULTS_LOGS/settings.json" --target-batch 12 --checkpoint-every 5 --local-steps 4 --fragments 2
[[ $(coordinator_status | jq '.local_steps') == 4 && $(coordinator_status | jq '.fragments') == 2 ]] ||
    fail "the coordinator's run does not average half the parameters every 2 target batches"
start_peer peer-1 1
start_peer peer-2 2
# The victim's frames leave 30 ms late, so its rounds last long enough to be cut in the middle.
start_peer peer-3 3 --inject-frame-delay-ms 30
wait_for_shared_rounds peer-3 2 120

wait_for_round_start peer-3 3 60
kill_process peer-3
step=$(last_averaging_step peer-3)
mark=$(journal_count)
echo "killed peer-3 during the outer round of step $step"

wait_for_log peer-1 "peers=[12] .*step=$step \[Peer\] round$" 60 "peer-1 did not finish step $step without the killed peer"
wait_for_log peer-2 "peers=[12] .*step=$step \[Peer\] round$" 60 "peer-2 did not finish step $step without the killed peer"

restarted_at=$(log_mark peer-3)
start_peer peer-3 3
wait_for_new_log peer-3 "$restarted_at" "\[Peer\] state loaded$" 90 "the restarted peer did not load the run's outer state"
rejoined=$(shared_rounds peer-3)
wait_for_shared_rounds peer-3 $((rejoined + 2)) 120
assert_run_healthy "$mark"
pass "the survivors finished step $step without the killed peer; it came back mid-round and averaged again"
