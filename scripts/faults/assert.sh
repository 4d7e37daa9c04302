# What every fault scenario checks, and the failure report. Sourced after processes.sh.
#
# A failed check prints one line naming what did not hold, then the tail of every process's
# log, and exits 1 (the EXIT trap stops the processes and removes the namespaces).

fail() {
    local log
    echo "FAIL [$FAULTS_SCENARIO]: $*" >&2
    for log in "$FAULTS_LOGS"/*.log; do
        [[ -e $log ]] || continue
        echo "--- last lines of $log" >&2
        tail -n 15 "$log" >&2
    done
    exit 1
}

journal() { echo "$FAULTS_STATE/rounds.jsonl"; }

# Rounds the coordinator has journaled (complete lines: it writes each round as one line).
journal_count() {
    [[ -e $(journal) ]] || { echo 0; return; }
    wc -l <"$(journal)"
}

# Waits until the journal holds at least COUNT rounds.
wait_for_journal() {
    local count=$1 seconds=$2 message=$3
    wait_until "$seconds" "$message" journal_has "$count"
}
journal_has() { (($(journal_count) >= $1)); }

# "[Peer] round" lines of NAME's log that averaged with at least one other peer.
shared_rounds() { grep -cE 'peers=([2-9]|[1-9][0-9]+) .*\[Peer\] round$' "$FAULTS_LOGS/$1.log" || true; }

# Waits until NAME has logged at least COUNT rounds averaged with others.
wait_for_shared_rounds() {
    local name=$1 count=$2 seconds=$3
    wait_until "$seconds" "$name averaged fewer than $count rounds with other peers" shared_rounds_reach "$name" "$count"
}
shared_rounds_reach() { (($(shared_rounds "$1") >= $2)); }

# The coordinator's /api/status, from inside the coordinator's namespace.
coordinator_status() {
    on_host "${FAULTS_HOST_OF[coordinator]}" curl -fsS --max-time 5 \
        "http://$(host_address "${FAULTS_HOST_OF[coordinator]}"):$HTTP_PORT/api/status"
}

# Every step the journal holds, once and in order: 0, 1, 2, …
assert_journal_contiguous() {
    jq -se 'map(.step) == [range(0; length)]' "$(journal)" >/dev/null \
        || fail "the journal skips or repeats steps: $(jq -sc 'map(.step)' "$(journal)")"
}

# For every step, the peers that averaged it together logged the same state hash, unless the
# round was degraded: a member had a part fail (its owner died, stalled or lost frames while
# sending the average), so members that received that part and members that skipped it hold
# different states. The agreement check repairs that before the next round, so every step
# after a degraded one must agree again.
assert_peers_agree() {
    local step rest
    while read -r step rest; do
        [[ -n $step ]] || continue
        if is_degraded_step "$step"; then
            echo "note: step $step was degraded (a part failed) and left its members with different states:$rest"
        else
            fail "peers that averaged step $step together disagree:$rest"
        fi
    done < <(round_lines | awk '
        $4 >= 2 { hashes[$1] = hashes[$1] " " $2 "=" $3; if (!(($1, $3) in seen)) { seen[$1, $3] = 1; count[$1]++ } }
        END { for (step in count) if (count[step] > 1) print step, hashes[step] }' | sort -n)
}

# "step peer hash peers failed-parts" for every round line of every peer's log (a peer that
# stepped alone logs no failed parts).
round_lines() {
    local log
    for log in "$FAULTS_LOGS"/peer-*.log; do
        sed -nE '/\[Peer\] round$/{s/.* peers=([0-9]+) .*state=([0-9a-f]+) step=([0-9]+) \[Peer\] round$/\3 \2 \1 &/p}' "$log" \
            | awk -v peer="$(basename "$log" .log)" '{ failed = 0; if (match($0, /failed\.parts=[0-9]+/)) failed = substr($0, RSTART + 13, RLENGTH - 13); print $1, peer, $2, $3, failed }'
    done
}

# Steps in which some peer had a part fail.
degraded_steps() { round_lines | awk '$5 > 0 { print $1 }' | sort -un; }
is_degraded_step() { degraded_steps | grep -qx "$1"; }

# Steps after which peers may hold different states until the repair: degraded rounds, and
# rounds a peer ended alone (nobody else gathered with it, or it left everyone out), whose
# update only it applied.
forking_steps() { round_lines | awk '$5 > 0 || $4 == 1 { print $1 }' | sort -un; }

# The dashboard counts no step where peers announced different states, except at most one
# after each forking step (before the repair).
assert_no_hash_mismatches() {
    local status mismatches allowed
    status=$(coordinator_status) || fail "the coordinator's /api/status does not answer"
    mismatches=$(jq .hash_mismatches <<<"$status")
    allowed=$(forking_steps | wc -l)
    ((mismatches <= allowed)) \
        || fail "the coordinator counted $mismatches step(s) with mismatched state hashes ($allowed round(s) degraded or ended alone)"
}

# The step of the newest checkpoint the coordinator reports (-1 when none).
checkpoint_step() {
    coordinator_status 2>/dev/null | jq '.last_checkpoint_step // -1' || echo -1
}
checkpoint_after() { (($(checkpoint_step) > $1)); }

# The coordinator writes a checkpoint after step STEP (within 90 s), and it loads as a model.
assert_checkpoint_loads() {
    local after=$1 path
    wait_until 90 "the coordinator wrote no checkpoint after step $after" checkpoint_after "$after"
    path=$(coordinator_status | jq -r .last_checkpoint_path)
    head -c 4096 "$FAULTS_ROOT/Sources/cohort/Resources/tinyshakespeare.txt" >"$FAULTS_LOGS/eval.txt"
    "$COHORT" eval --checkpoint "$path" --data "$FAULTS_LOGS/eval.txt" --threads 1 >"$FAULTS_LOGS/eval.out" 2>&1 \
        || fail "the newest checkpoint $path does not load: $(tail -n 1 "$FAULTS_LOGS/eval.out")"
}

# No process crashed: every one not deliberately killed is still running, and each leaves
# cleanly (exit 0) on SIGTERM.
assert_clean_exit() {
    local name
    for name in "${!FAULTS_PIDS[@]}"; do
        process_alive "$name" || fail "$name is no longer running"
    done
    for name in "${!FAULTS_PIDS[@]}"; do
        terminate_process "$name"
        [[ $EXIT_STATUS == 0 ]] || fail "$name did not exit cleanly on SIGTERM (status $EXIT_STATUS)"
        unset "FAULTS_PIDS[$name]"
    done
    ! grep -lE "Fatal error|Segmentation fault|Illegal instruction" "$FAULTS_LOGS"/*.log \
        || fail "a process log reports a crash"
}

# What must hold after every scenario: training went on past the fault (the journal grew by
# at least 3 rounds since MARK, the number of rounds journaled when the fault happened), peers
# agree, the history is intact, a checkpoint written after the fault loads, and no process crashed.
assert_run_healthy() {
    local mark=$1
    wait_for_journal $((mark + 3)) 90 "the run stopped training: the journal did not grow by 3 rounds after the fault"
    assert_checkpoint_loads "$mark"
    assert_journal_contiguous
    assert_peers_agree
    assert_no_hash_mismatches
    assert_clean_exit
}
