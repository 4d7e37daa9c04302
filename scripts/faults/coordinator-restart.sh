#!/usr/bin/env bash
# The coordinator is SIGKILLed and restarted 15 s later with the same state folder. The peers
# must train on without it; the restarted coordinator must keep its history and journal the
# rounds it missed, so the journal stays contiguous.
source "$(dirname "$0")/scenario.sh"
begin_scenario 4

coordinator_flags=(--target-batch 12 --checkpoint-every 5)
start_coordinator 0 "$FAULTS_LOGS/settings.json" "${coordinator_flags[@]}"
start_peer peer-1 1
start_peer peer-2 2
start_peer peer-3 3
wait_for_shared_rounds peer-3 3 90
wait_for_journal 5 60 "the coordinator journaled fewer than 5 rounds"

kill_process coordinator
cp "$(journal)" "$FAULTS_LOGS/journal-before-restart.jsonl"
mark=$(journal_count)
echo "killed the coordinator after $mark journaled rounds"
rounds=$(shared_rounds peer-1)
wait_for_shared_rounds peer-1 $((rounds + 5)) 60
sleep 5

start_coordinator 0 "$FAULTS_LOGS/settings.json" "${coordinator_flags[@]}"
missed=$(sed -nE 's/.* step=([0-9]+) \[Peer\] round$/\1/p' "$FAULTS_LOGS/peer-1.log" | tail -n 1)
echo "restarted the coordinator; the peers reached step $missed meanwhile"
wait_for_journal $((missed + 1)) 90 "the restarted coordinator did not journal the rounds it missed (up to step $missed)"
cmp -s -n "$(stat -c %s "$FAULTS_LOGS/journal-before-restart.jsonl")" "$FAULTS_LOGS/journal-before-restart.jsonl" "$(journal)" \
    || fail "the restarted coordinator changed the history it had journaled before it was killed"
assert_run_healthy "$mark"
pass "the peers trained on without the coordinator; it came back with its history and caught up to step $missed"
