# The start of every scenario script: strict mode, paths, the libraries, a fresh log folder
# under runs/faults/<scenario>/, and cleanup of processes and namespaces however it ends.
set -euo pipefail
FAULTS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FAULTS_SCENARIO=$(basename "$0" .sh)
FAULTS_LOGS=$FAULTS_ROOT/runs/faults/$FAULTS_SCENARIO
# The coordinator's state folder: round journal, identity, checkpoints.
FAULTS_STATE=$FAULTS_LOGS/state
source "$FAULTS_ROOT/scripts/faults/netns.sh"
source "$FAULTS_ROOT/scripts/faults/processes.sh"
source "$FAULTS_ROOT/scripts/faults/assert.sh"

# Checks what the scenario needs, creates HOSTS hosts and writes the tiny run's settings.
begin_scenario() {
    local hosts=$1
    [[ $(id -u) == 0 ]] || { echo "$FAULTS_SCENARIO: needs root to create network namespaces" >&2; exit 2; }
    [[ -x $COHORT ]] || { echo "$FAULTS_SCENARIO: $COHORT is missing; run 'swift build' first" >&2; exit 2; }
    local tool
    for tool in ip tc nft curl jq; do
        command -v "$tool" >/dev/null || { echo "$FAULTS_SCENARIO: $tool is missing; scripts/faults/run.sh installs it" >&2; exit 2; }
    done
    rm -rf "$FAULTS_LOGS"
    mkdir -p "$FAULTS_LOGS"
    trap end_scenario EXIT
    topology_up "$hosts"
    echo "$TINY_SETTINGS" >"$FAULTS_LOGS/settings.json"
}

end_scenario() {
    stop_all_processes
    topology_down
}

pass() { echo "PASS [$FAULTS_SCENARIO]: $*"; }
