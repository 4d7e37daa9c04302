#!/usr/bin/env bash
# Uneven bandwidth: peers 1 and 2 on 160 Mbit/s links, peer 3 on 16 Mbit/s (tc tbf, both
# directions), averaging a 3.4 MB vector. A first run has the three announce the same
# bandwidth (--bandwidth-mbit), which gives equal parts; a second run, with a new coordinator,
# has them measure theirs. The measured parts must follow the links (peer 3 owns less than a
# third of what a fast peer owns, and announces less than a third of its bandwidth), and the
# all-reduce must be at least 15 % faster than with equal parts.
source "$(dirname "$0")/scenario.sh"
begin_scenario 4

# d_model 256, one layer: 0.85 M parameters, a 3.4 MB float32 vector (13 chunks).
cat >"$FAULTS_LOGS/settings.json" <<'SETTINGS'
{"model": {"hidden_size": 256, "layer_count": 1, "head_count": 4, "context_length": 16},
 "batch_size": 4, "temperature": 0.02, "warmup_steps": 2, "steps": 100000}
SETTINGS
limit_bandwidth 1 160mbit
limit_bandwidth 2 160mbit
limit_bandwidth 3 16mbit

WARMUP_ROUNDS=2
MEASURED_ROUNDS=8

# Runs peers NAME-1..3 on hosts 1..3 with FLAGS… until NAME-1 has averaged the warm-up and
# measured rounds with all three.
run_phase() {
    local name=$1 host
    shift
    for host in 1 2 3; do start_peer "$name-$host" "$host" "$@"; done
    wait_until 300 "the $name peers did not average $((WARMUP_ROUNDS + MEASURED_ROUNDS)) rounds together" \
        three_member_rounds_reach "$name-1" $((WARMUP_ROUNDS + MEASURED_ROUNDS))
}

# Stops peers NAME-1..3; each must leave cleanly.
stop_phase() {
    local name=$1 host
    for host in 1 2 3; do
        terminate_process "$name-$host"
        [[ $EXIT_STATUS == 0 ]] || fail "$name-$host did not leave cleanly (status $EXIT_STATUS)"
        unset "FAULTS_PIDS[$name-$host]"
    done
}
three_member_rounds_reach() { (($(grep -c 'peers=3 .*\[Peer\] round$' "$FAULTS_LOGS/$1.log") >= $2)); }

# "step seconds" of NAME's all-reduces with all three peers, after the warm-up.
allreduce_times() {
    sed -nE 's/.*allreduce\.seconds=([0-9.]+) .* peers=3 .*step=([0-9]+) \[Peer\] round$/\2 \1/p' "$FAULTS_LOGS/$1.log" \
        | tail -n +$((WARMUP_ROUNDS + 1))
}
median() { sort -n | awk '{ values[NR] = $1 } END { print (NR % 2) ? values[(NR + 1) / 2] : (values[NR / 2] + values[NR / 2 + 1]) / 2 }'; }

# "step part bandwidth" of NAME's rounds with all three peers, after the warm-up.
shares() {
    sed -nE 's/.* bandwidth=([0-9]+) part=([0-9]+)\/[0-9]+ peers=3 step=([0-9]+) \[Peer\] averaging$/\3 \2 \1/p' "$FAULTS_LOGS/$1.log" \
        | tail -n +$((WARMUP_ROUNDS + 1))
}

FAULTS_STATE=$FAULTS_LOGS/equal-parts
start_coordinator 0 "$FAULTS_LOGS/settings.json" --target-batch 24 --checkpoint-every 10
run_phase equal --bandwidth-mbit 100
stop_phase equal
terminate_process coordinator
[[ $EXIT_STATUS == 0 ]] || fail "the first run's coordinator did not exit cleanly (status $EXIT_STATUS)"
unset "FAULTS_PIDS[coordinator]"

FAULTS_STATE=$FAULTS_LOGS/state
start_coordinator 0 "$FAULTS_LOGS/settings.json" --target-batch 24 --checkpoint-every 10
mark=0
run_phase peer
equal=$(allreduce_times equal-1 | cut -d' ' -f2 | median)
measured=$(allreduce_times peer-1 | cut -d' ' -f2 | median)
echo "median all-reduce with all three: equal parts ${equal} s, measured parts ${measured} s"

# Per step: the slow peer's part and bandwidth against each fast peer's.
lopsided=$(join <(shares peer-3 | sort -k1,1) <(shares peer-1 | sort -k1,1) | join - <(shares peer-2 | sort -k1,1) \
    | awk '{ print; if (!(3 * $2 < $4 && 3 * $2 < $6 && 3 * $3 < $5 && 3 * $3 < $7)) bad++ } END { exit bad > 0 }') \
    || fail "peer 3's part or bandwidth is not under a third of the fast peers' (step, then part and bandwidth of peers 3, 1, 2): $(echo $lopsided)"
[[ -n $lopsided ]] || fail "no step where the three measuring peers all logged their part"
echo "step, part and bandwidth of peers 3, 1 and 2:"
echo "$lopsided"
awk -v equal="$equal" -v measured="$measured" 'BEGIN { exit !(measured < 0.85 * equal) }' \
    || fail "the all-reduce with measured parts (${measured} s) is not at least 15 % faster than with equal parts (${equal} s)"
assert_run_healthy "$mark"
pass "parts follow the measured links; the all-reduce took ${measured} s instead of ${equal} s with equal parts"
