# Starting, signalling and stopping `cohort` processes in the hosts' namespaces. Sourced by the
# scenarios after netns.sh. Every process writes to $FAULTS_LOGS/<name>.log; names are the
# scenario's own ("coordinator", "peer-1", …).

# The build `make faults` makes; COHORT=.build/release/cohort runs the suite on a release build.
COHORT=${COHORT:-$FAULTS_ROOT/.build/debug/cohort}
FAULTS_RUN=faults
COORDINATOR_PORT=7000
PEER_PORT=7001
HTTP_PORT=8080
declare -A FAULTS_PIDS=()
declare -A FAULTS_HOST_OF=()

# A tiny model that trains a round in about a second on a shared core (the end-to-end test's).
TINY_SETTINGS='{"model": {"hidden_size": 16, "layer_count": 1, "head_count": 2, "context_length": 16},
 "batch_size": 4, "temperature": 0.02, "warmup_steps": 2, "steps": 100000}'

# Starts `cohort ARGS…` on host HOST as NAME, in the background, with its log.
start_process() {
    local name=$1 host=$2
    shift 2
    [[ -z ${FAULTS_PIDS[$name]:-} ]] || ! process_alive "$name" || { echo "start_process: $name is already running" >&2; return 1; }
    echo "--- started $(date +%T): cohort $*" >>"$FAULTS_LOGS/$name.log"
    # `ip netns exec` execs the command, so $! is cohort's own pid (signals reach it directly).
    ip netns exec "$(host_ns "$host")" "$COHORT" "$@" >>"$FAULTS_LOGS/$name.log" 2>&1 &
    FAULTS_PIDS[$name]=$!
    FAULTS_HOST_OF[$name]=$host
}

# Starts the coordinator of an open run (the scenarios are about faults, not admission) on HOST
# with the settings file SETTINGS and extra flags. Peers gather
# for up to 4 s, longer than a DHT request's 2 s timeout, so that they still find each other
# while a contact is unreachable (a round ends the wait early once every expected peer declared).
start_coordinator() {
    local host=$1 settings=$2 mark=0
    shift 2
    [[ ! -e $FAULTS_LOGS/coordinator.log ]] || mark=$(log_mark coordinator)
    start_process coordinator "$host" coordinator --run "$FAULTS_RUN" --open \
        --listen "$(host_address "$host"):$COORDINATOR_PORT" --http "$(host_address "$host"):$HTTP_PORT" \
        --state-dir "$FAULTS_STATE" --config "$settings" --matchmaking-seconds 4 "$@"
    wait_for_new_log coordinator "$mark" "peers join with" 60 "the coordinator did not start listening"
}

# Starts peer NAME on HOST, joining the coordinator on host 0, listening on its own address.
start_peer() {
    local name=$1 host=$2
    shift 2
    start_process "$name" "$host" peer --join "$(host_address 0):$COORDINATOR_PORT" \
        --listen "$(host_address "$host"):$PEER_PORT" --threads 1 "$@"
}

process_alive() { kill -0 "${FAULTS_PIDS[$1]}" 2>/dev/null; }

signal_process() { kill "-$2" "${FAULTS_PIDS[$1]}"; }

# SIGKILL and reap; the process is no longer expected to be running.
kill_process() {
    kill -KILL "${FAULTS_PIDS[$1]}" 2>/dev/null || true
    wait "${FAULTS_PIDS[$1]}" 2>/dev/null || true
    unset "FAULTS_PIDS[$1]"
}

# SIGTERM, then waits up to 30 s; sets EXIT_STATUS to the exit status ("timeout" if it had to
# be killed). Not for a subshell: only this shell can reap its children.
terminate_process() {
    local pid=${FAULTS_PIDS[$1]} deadline=$((SECONDS + 30))
    kill -CONT "$pid" 2>/dev/null || true
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            kill -KILL "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
            EXIT_STATUS=timeout
            return
        fi
        sleep 0.2
    done
    EXIT_STATUS=0
    wait "$pid" || EXIT_STATUS=$?
}

# Stops every process still running (SIGTERM, then SIGKILL); for the EXIT trap.
stop_all_processes() {
    local name
    for name in "${!FAULTS_PIDS[@]}"; do
        kill -CONT "${FAULTS_PIDS[$name]}" 2>/dev/null || true
        kill -TERM "${FAULTS_PIDS[$name]}" 2>/dev/null || true
    done
    local deadline=$((SECONDS + 15))
    for name in "${!FAULTS_PIDS[@]}"; do
        while kill -0 "${FAULTS_PIDS[$name]}" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
        kill -KILL "${FAULTS_PIDS[$name]}" 2>/dev/null || true
        wait "${FAULTS_PIDS[$name]}" 2>/dev/null || true
    done
}

# Waits up to SECONDS for REGEX (extended) in NAME's log; fails with MESSAGE otherwise.
wait_for_log() {
    local name=$1 pattern=$2 seconds=$3 message=$4
    wait_until "$seconds" "$message" grep -Eq "$pattern" "$FAULTS_LOGS/$name.log"
}

# The number of lines in NAME's log, to wait for lines written after this moment.
log_mark() { wc -l <"$FAULTS_LOGS/$1.log"; }

# Waits up to SECONDS for REGEX in the lines NAME logged after MARK (from log_mark).
wait_for_new_log() {
    local name=$1 mark=$2 pattern=$3 seconds=$4 message=$5
    wait_until "$seconds" "$message" new_log_matches "$name" "$mark" "$pattern"
}
new_log_matches() {
    PATTERN=$3 awk -v mark="$2" 'NR > mark && $0 ~ ENVIRON["PATTERN"] { found = 1; exit } END { exit !found }' "$FAULTS_LOGS/$1.log"
}

# Runs COMMAND… every half second until it succeeds, at most SECONDS; fails with MESSAGE.
wait_until() {
    local seconds=$1 message=$2 deadline
    shift 2
    deadline=$((SECONDS + seconds))
    until "$@"; do
        ((SECONDS < deadline)) || fail "$message (waited ${seconds} s)"
        sleep 0.5
    done
}

# Returns as soon as NAME logs its next "averaging" line for a group of MEMBERS peers (its
# group formed and the all-reduce starts), so that a fault injected right after lands in the
# middle of a round with every peer in it.
wait_for_round_start() {
    local name=$1 members=$2 seconds=$3
    grep -qm1 "peers=$members step=[0-9]* \[Peer\] averaging$" < <(timeout "$seconds" tail -n0 -F "$FAULTS_LOGS/$name.log" 2>/dev/null) \
        || fail "$name started no averaging round with $members peers within $seconds s"
}

# The step of NAME's newest "averaging" line.
last_averaging_step() {
    sed -nE 's/.* step=([0-9]+) \[Peer\] averaging$/\1/p' "$FAULTS_LOGS/$1.log" | tail -n 1
}
