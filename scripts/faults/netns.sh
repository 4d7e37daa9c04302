# Topology of the fault-injection suite: a switch namespace holding a Linux bridge, and one
# namespace per host, each joined to the bridge by a veth pair. Sourced by the scenarios.
#
#   host namespace  $(host_ns N)   interface eth0, address $(host_address N) (10.77.0.10+N/24)
#   switch          $(switch_ns)   bridge br0, one port sw<N> per host
#
# Nothing touches the root namespace: the hosts reach only each other, never the outside.
# Names carry this shell's pid, so two suites on one machine cannot collide.

FAULTS_PREFIX="cf$$"
FAULTS_SUBNET="10.77.0"
FAULTS_HOSTS=()

switch_ns() { echo "$FAULTS_PREFIX-switch"; }
host_ns() { echo "$FAULTS_PREFIX-h$1"; }
host_address() { echo "$FAULTS_SUBNET.$((10 + $1))"; }
switch_port() { echo "sw$1"; }

# Runs a command inside host N's namespace.
on_host() {
    local host=$1
    shift
    ip netns exec "$(host_ns "$host")" "$@"
}

# Creates the switch and hosts 0..count-1.
topology_up() {
    local count=$1 host
    ip netns add "$(switch_ns)"
    ip -n "$(switch_ns)" link add br0 type bridge
    ip -n "$(switch_ns)" link set br0 up
    for ((host = 0; host < count; host++)); do
        ip netns add "$(host_ns "$host")"
        FAULTS_HOSTS+=("$host")
        ip link add "$(switch_port "$host")" netns "$(switch_ns)" type veth peer name eth0 netns "$(host_ns "$host")"
        ip -n "$(switch_ns)" link set "$(switch_port "$host")" master br0 up
        ip -n "$(host_ns "$host")" addr add "$(host_address "$host")/24" dev eth0
        ip -n "$(host_ns "$host")" link set eth0 up
        ip -n "$(host_ns "$host")" link set lo up
    done
    wait_for_links "$count"
}

# Waits until every host reaches host 0 through the bridge (a connection to a closed port
# there is refused rather than lost).
wait_for_links() {
    local count=$1 host deadline=$((SECONDS + 10))
    for ((host = 1; host < count; host++)); do
        until [[ $(on_host "$host" timeout 1 bash -c "exec 3<>/dev/tcp/$(host_address 0)/9" 2>&1) == *"Connection refused"* ]]; do
            ((SECONDS < deadline)) || { echo "topology: host $host cannot reach host 0 through the bridge after 10 s" >&2; return 1; }
            sleep 0.2
        done
    done
}

# Makes every host created so far send with TCP congestion control CC. A namespace may only pick
# an algorithm the root namespace allows, so CC joins that list until topology_down.
FAULTS_ALLOWED_CONGESTION_CONTROL=""
use_congestion_control() {
    local cc=$1 host allowed=/proc/sys/net/ipv4/tcp_allowed_congestion_control
    grep -qw -- "$cc" /proc/sys/net/ipv4/tcp_available_congestion_control ||
        { echo "this kernel has no TCP congestion control '$cc' (it has: $(cat /proc/sys/net/ipv4/tcp_available_congestion_control))" >&2; return 1; }
    if ! grep -qw -- "$cc" "$allowed"; then
        FAULTS_ALLOWED_CONGESTION_CONTROL=$(cat "$allowed")
        sysctl -qw net.ipv4.tcp_allowed_congestion_control="$FAULTS_ALLOWED_CONGESTION_CONTROL $cc"
    fi
    for host in "${FAULTS_HOSTS[@]}"; do on_host "$host" sysctl -qw net.ipv4.tcp_congestion_control="$cc"; done
}

# Removes every namespace this shell created; the veth pairs and the bridge go with them.
topology_down() {
    local host
    if [[ -n $FAULTS_ALLOWED_CONGESTION_CONTROL ]]; then
        sysctl -qw net.ipv4.tcp_allowed_congestion_control="$FAULTS_ALLOWED_CONGESTION_CONTROL" || true
        FAULTS_ALLOWED_CONGESTION_CONTROL=""
    fi
    for host in "${FAULTS_HOSTS[@]}"; do
        ip netns del "$(host_ns "$host")" 2>/dev/null || true
    done
    ip netns del "$(switch_ns)" 2>/dev/null || true
    FAULTS_HOSTS=()
}

# Takes host N's link down (a partition) or brings it back (heal).
link_down() { ip -n "$(switch_ns)" link set "$(switch_port "$1")" down; }
link_up() { ip -n "$(switch_ns)" link set "$(switch_port "$1")" up; }

# Limits host N to RATE (tc units, e.g. 8mbit) in both directions: its own uplink inside its
# namespace, and the switch port towards it.
limit_bandwidth() {
    local host=$1 rate=$2
    tc -n "$(host_ns "$host")" qdisc replace dev eth0 root tbf rate "$rate" burst 32kb latency 400ms
    tc -n "$(switch_ns)" qdisc replace dev "$(switch_port "$host")" root tbf rate "$rate" burst 32kb latency 400ms
}

# Makes host N refuse every inbound connection (a NAT without port forwarding): new inbound TCP
# connections are dropped, connections the host opened itself keep working.
refuse_inbound() {
    on_host "$1" nft -f - <<'RULES'
table inet refuse_inbound {
    chain input {
        type filter hook input priority 0; policy accept;
        ct state established,related accept
        iifname "lo" accept
        tcp flags & (syn | ack) == syn drop
    }
}
RULES
}
