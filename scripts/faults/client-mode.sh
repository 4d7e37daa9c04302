#!/usr/bin/env bash
# A peer joins mid-run from a host that refuses every inbound connection (a NAT without port
# forwarding), in client mode. Nothing must be able to connect to it; it must still download
# the run's state, average every round with the others and own no part of the vector.
source "$(dirname "$0")/scenario.sh"
begin_scenario 4

refuse_inbound 3
start_coordinator 0 "$FAULTS_LOGS/settings.json" --target-batch 12 --checkpoint-every 5
start_peer peer-1 1
start_peer peer-2 2
wait_for_shared_rounds peer-2 3 90

start_peer peer-3 3 --client-mode
wait_for_log peer-3 "\[Peer\] joined run$" 60 "the client-mode peer did not join the run"
connection=$(on_host 1 timeout 3 bash -c "exec 3<>/dev/tcp/$(host_address 3)/$PEER_PORT" 2>&1) && status=0 || status=$?
((status == 124)) || fail "a connection to the client-mode host did not time out (status $status: $connection)"
echo "connections to host 3 time out"

mark=$(journal_count)
wait_for_log peer-3 "\[Peer\] state loaded$" 60 "the client-mode peer did not download the run's state"
wait_for_shared_rounds peer-3 5 90
parts=$(sed -nE 's/.* part=([0-9]+)\/[0-9]+ peers=3 .*\[Peer\] averaging$/\1/p' "$FAULTS_LOGS/peer-3.log" | sort -u)
[[ $parts == 0 ]] || fail "the client-mode peer owned parts of the vector: $(echo $parts)"
clients=$(coordinator_status | jq '[.peers[] | select(.client_mode)] | length')
((clients == 1)) || fail "the dashboard lists $clients client-mode peers, expected 1"
assert_run_healthy "$mark"
pass "the client-mode peer behind a closed host downloaded the state and averaged, owning nothing"
