#!/usr/bin/env bash
# A peer's link goes down (a partition) until the others have averaged three rounds without
# it, plus 10 s, and comes back up (heal). The peer must notice; the others must go on
# averaging; once healed, it must load the run's state and average with both again.
source "$(dirname "$0")/scenario.sh"
begin_scenario 4

start_coordinator 0 "$FAULTS_LOGS/settings.json" --target-batch 12 --checkpoint-every 5 --averaging-timeout 6
start_peer peer-1 1
start_peer peer-2 2
start_peer peer-3 3
wait_for_shared_rounds peer-3 3 90

mark=$(journal_count)
partitioned=$(log_mark peer-3)
link_down 3
echo "partitioned peer-3 at round $mark"
wait_for_new_log peer-3 "$partitioned" "no DHT contact answers" 30 "peer-3 did not notice the partition"
rounds=$(shared_rounds peer-1)
wait_for_shared_rounds peer-1 $((rounds + 3)) 60
sleep 10
link_up 3
healed=$(log_mark peer-3)
echo "healed the partition"

wait_for_new_log peer-3 "$healed" "\[Peer\] state loaded$" 60 "peer-3 did not load the run's state after the partition healed"
wait_for_new_log peer-3 "$healed" "peers=3 .*\[Peer\] round$" 60 "peer-3 did not average with both others after the partition healed"
assert_run_healthy "$mark"
pass "the others trained on during the partition; peer-3 caught up and averaged again after it healed"
