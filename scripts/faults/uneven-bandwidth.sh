#!/usr/bin/env bash
# Uneven bandwidth: peers 1–3 on 160 Mbit/s links, peer 4 on 16 Mbit/s (tc tbf, both
# directions), averaging a 3.4 MB vector. A first run has the four announce the same bandwidth
# (--bandwidth-mbit), which gives equal parts; a second run, with a new coordinator, has them
# measure theirs. The measured parts must follow the links (peer 4 owns less than a third of
# what each fast peer owns, and announces less than a third of its bandwidth), and the median
# all-reduce must be at least 10 % faster than with equal parts. (With equal parts the slow
# peer moves 1.5 times the vector each way, with measured ones about 1.1 times: ~25 % less.)
source "$(dirname "$0")/scenario.sh"
begin_scenario 5

# d_model 256, one layer: 0.85 M parameters, a 3.4 MB float32 vector (13 chunks).
cat >"$FAULTS_LOGS/settings.json" <<'SETTINGS'
{"model": {"hidden_size": 256, "layer_count": 1, "head_count": 4, "context_length": 16},
 "batch_size": 4, "temperature": 0.02, "warmup_steps": 2, "steps": 100000}
SETTINGS
FAST_HOSTS=(1 2 3)
SLOW_HOST=4
for host in "${FAST_HOSTS[@]}"; do limit_bandwidth "$host" 160mbit; done
limit_bandwidth "$SLOW_HOST" 16mbit

WARMUP_ROUNDS=2
MEASURED_ROUNDS=8
ALL_HOSTS=("${FAST_HOSTS[@]}" "$SLOW_HOST")

# Runs peers NAME-1..4 on hosts 1..4 with FLAGS… until NAME-1 has averaged the warm-up and
# measured rounds with all four.
run_phase() {
    local name=$1 host
    shift
    for host in "${ALL_HOSTS[@]}"; do start_peer "$name-$host" "$host" "$@"; done
    wait_until 300 "the $name peers did not average $((WARMUP_ROUNDS + MEASURED_ROUNDS)) rounds together" \
        all_member_rounds_reach "$name-1" $((WARMUP_ROUNDS + MEASURED_ROUNDS))
}
all_member_rounds_reach() { (($(grep -c "peers=${#ALL_HOSTS[@]} .*\[Peer\] round$" "$FAULTS_LOGS/$1.log") >= $2)); }

# Stops peers NAME-1..4; each must leave cleanly.
stop_phase() {
    local name=$1 host
    for host in "${ALL_HOSTS[@]}"; do
        terminate_process "$name-$host"
        [[ $EXIT_STATUS == 0 ]] || fail "$name-$host did not leave cleanly (status $EXIT_STATUS)"
        unset "FAULTS_PIDS[$name-$host]"
    done
}

# The seconds of NAME's all-reduces with all four peers, after the warm-up.
allreduce_times() {
    sed -nE "s/.*allreduce\.seconds=([0-9.]+) .* peers=${#ALL_HOSTS[@]} .*\[Peer\] round$/\1/p" "$FAULTS_LOGS/$1.log" \
        | tail -n +$((WARMUP_ROUNDS + 1))
}
median() { sort -n | awk '{ values[NR] = $1 } END { print (NR % 2) ? values[(NR + 1) / 2] : (values[NR / 2] + values[NR / 2 + 1]) / 2 }'; }

# "step part bandwidth" of NAME's rounds with all four peers, after the warm-up.
shares() {
    sed -nE "s/.* bandwidth=([0-9]+) part=([0-9]+)\/[0-9]+ peers=${#ALL_HOSTS[@]} step=([0-9]+) \[Peer\] averaging$/\3 \2 \1/p" \
        "$FAULTS_LOGS/$1.log" | tail -n +$((WARMUP_ROUNDS + 1)) | sort -k1,1
}

FAULTS_STATE=$FAULTS_LOGS/equal-parts
start_coordinator 0 "$FAULTS_LOGS/settings.json" --target-batch 32 --checkpoint-every 10
run_phase equal --bandwidth-mbit 100
stop_phase equal
terminate_process coordinator
[[ $EXIT_STATUS == 0 ]] || fail "the first run's coordinator did not exit cleanly (status $EXIT_STATUS)"
unset "FAULTS_PIDS[coordinator]"

FAULTS_STATE=$FAULTS_LOGS/state
start_coordinator 0 "$FAULTS_LOGS/settings.json" --target-batch 32 --checkpoint-every 10
run_phase peer
equal=$(allreduce_times equal-1 | median)
measured=$(allreduce_times peer-1 | median)
echo "median all-reduce with all four: equal parts ${equal} s, measured parts ${measured} s"

# Per step: the slow peer's part and bandwidth, then each fast peer's.
table=$(shares "peer-$SLOW_HOST")
for host in "${FAST_HOSTS[@]}"; do table=$(join <(echo "$table") <(shares "peer-$host")); done
[[ -n $table ]] || fail "no step where the four measuring peers all logged their part"
echo "step, then part and bandwidth of peer $SLOW_HOST and of peers ${FAST_HOSTS[*]}:"
echo "$table"
awk '{ for (i = 4; i < NF; i += 2) if (!(3 * $2 < $i && 3 * $3 < $(i + 1))) bad++ } END { exit bad > 0 }' <<<"$table" \
    || fail "peer $SLOW_HOST's part or bandwidth is not under a third of every fast peer's"
awk -v equal="$equal" -v measured="$measured" 'BEGIN { exit !(measured < 0.9 * equal) }' \
    || fail "the all-reduce with measured parts (${measured} s) is not at least 10 % faster than with equal parts (${equal} s)"
assert_run_healthy 0
pass "parts follow the measured links; the all-reduce took ${measured} s instead of ${equal} s with equal parts"
