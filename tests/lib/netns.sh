# SPDX-License-Identifier: Apache-2.0
#
# tests/lib/netns.sh: throw-away network namespaces for integration tests (needs root).
#
# Source it after tests/lib/etcd.sh (it uses on_exit and the TAP helpers there):
#
#	. "$here/../lib/etcd.sh"
#	. "$here/../lib/netns.sh"
#	netns_require                       # skips the test unless root with netns support
#	netns_underlay u                    # bridge br0 with 192.0.2.254/24, loopback up
#	netns_node n1 192.0.2.11/24         # eth0 (a veth to u's bridge) with that address
#	ETCD_NETNS=${NETNS[u]} ETCD_LISTEN_IP=$NETNS_UNDERLAY_IP etcd_start e
#	netns_exec n1 ping -c1 192.0.2.254
#	netns_spawn pid n1 "$log" some-daemon --flag   # background, in n1, killed at exit
#
# Everything lives in the test's own namespaces: the root namespace (its links, routes,
# firewall) is never touched. The veth pairs are created inside the node namespace with their
# peer moved straight into the underlay, so even their names never show up in the root
# namespace, and link names only need to be unique inside one namespace (eth0 in every node,
# v<NODE> on the underlay's bridge).
#
# Namespace names are unique per test run: NETNS_TAG (default t<pid in hex><random 4 hex>)
# followed by the short NAME given here, at most 15 characters in all (NAME: letters and
# digits, up to 4 of them with the default tag). NETNS[NAME] holds the real name.
# NETNS_UNDERLAY_IP is the underlay bridge's address (192.0.2.254, RFC 5737 documentation
# range).
#
# Cleanup (registered with on_exit when this file is sourced, so it runs after the test's
# own on_exit commands): every process started with netns_spawn that still runs is killed by
# its PID (SIGKILL) and reaped, then every namespace made here is deleted, newest first,
# which also destroys its links. It runs on success, failure, set -e exits and signals alike.
#
# Call netns_* in the test's own shell, never inside $(...) or a pipeline: they record state
# in variables of that shell and the spawned processes must stay its children.

if [[ -n ${_TARTAN_NETNS_SH:-} ]]; then
	return 0
fi
_TARTAN_NETNS_SH=1

if [[ -z ${_TARTAN_ETCD_SH:-} ]]; then
	echo "Bail out! tests/lib/netns.sh: source tests/lib/etcd.sh first"
	exit 1
fi

# The documentation range (RFC 5737): never routed anywhere, and only ever configured inside
# the test's namespaces anyway.
NETNS_UNDERLAY_IP=192.0.2.254
NETNS_PREFIXLEN=24

: "${NETNS_TAG:=$(printf 't%x%04x' "$$" "$((RANDOM % 65536))")}"

declare -gA NETNS=() NETNS_ADDR=() _NETNS_UNDERLAY_OF=()
declare -ga _NETNS_CREATED=() _NETNS_PIDS=()
_NETNS_UNDERLAY=""

# netns_require: skip the whole test (TAP "1..0 # SKIP", which meson reports as SKIP) unless
# this can work: root, ip(8), and a kernel and privileges that allow network namespaces. Call
# it before any TAP output.
netns_require()
{
	local -
	set +e
	local probe=${NETNS_TAG}chk why=""
	if ((EUID != 0)); then
		why="network namespace tests need root (EUID is $EUID)"
	elif ! command -v ip >/dev/null 2>&1; then
		why="ip(8) not found (apt-get install iproute2)"
	elif ! ip netns add "$probe" 2>/dev/null; then
		why="cannot create a network namespace (ip netns add failed: no CAP_SYS_ADMIN?)"
	else
		ip netns del "$probe"
		return 0
	fi
	echo "1..0 # SKIP $why"
	exit 0
}

_netns_check_name()
{
	local -
	set +e
	if [[ ! $1 =~ ^[A-Za-z0-9]+$ ]]; then
		echo "netns: bad name '$1' (letters and digits only)" >&2
		return 1
	fi
	if [[ -n ${NETNS[$1]:-} ]]; then
		echo "netns: '$1' exists already" >&2
		return 1
	fi
	if ((${#NETNS_TAG} + ${#1} > 15)); then
		echo "netns: name '$NETNS_TAG$1' is longer than 15 characters; use a shorter NAME" >&2
		return 1
	fi
}

# _netns_add NAME: create namespace NAME (real name NETNS_TAG+NAME) with its loopback up.
_netns_add()
{
	local -
	set +e
	local real=$NETNS_TAG$1
	_netns_check_name "$1" || return 1
	if ! ip netns add "$real"; then
		echo "netns: ip netns add $real failed" >&2
		return 1
	fi
	NETNS[$1]=$real
	_NETNS_CREATED+=("$real")
	ip -n "$real" link set lo up || return 1
}

# netns_underlay NAME: the shared L2 segment: namespace NAME with loopback up and a bridge br0
# (up) holding NETNS_UNDERLAY_IP/24, e.g. for an etcd the nodes reach at that address. Later
# netns_node calls attach to the last underlay made unless told otherwise.
netns_underlay()
{
	local -
	set +e
	local name=$1 ns
	_netns_add "$name" || return 1
	ns=${NETNS[$name]}
	# A fixed MAC: a bridge without one takes the lowest MAC of its ports, so it would change
	# when a node joins, and nodes that resolved NETNS_UNDERLAY_IP before would send to the
	# old MAC, dropped by the bridge, until their ARP entry expires (tens of seconds).
	ip -n "$ns" link add br0 address 02:00:c0:00:02:fe type bridge || return 1
	ip -n "$ns" addr add "$NETNS_UNDERLAY_IP/$NETNS_PREFIXLEN" dev br0 || return 1
	ip -n "$ns" link set br0 up || return 1
	_NETNS_UNDERLAY=$name
}

# netns_node NAME ADDR/LEN [UNDERLAY]: namespace NAME with loopback up and eth0, one end of
# a veth pair whose other end (v<NAME>) is a port of UNDERLAY's bridge, holding ADDR/LEN
# (NETNS_ADDR[NAME]=ADDR).
# Waits (up to 5 s) until NAME reaches the underlay's address, so that whatever starts next
# finds the link working.
netns_node()
{
	local -
	set +e
	local name=$1 addr=$2 under=${3:-$_NETNS_UNDERLAY} ns uns
	if [[ -z $under || -z ${NETNS[$under]:-} ]]; then
		echo "netns_node: no underlay '$under' (call netns_underlay first)" >&2
		return 1
	fi
	uns=${NETNS[$under]}
	_netns_add "$name" || return 1
	ns=${NETNS[$name]}
	_NETNS_UNDERLAY_OF[$name]=$under
	ip -n "$ns" link add eth0 type veth peer name "v$name" netns "$uns" || return 1
	ip -n "$uns" link set "v$name" master br0 || return 1
	ip -n "$uns" link set "v$name" up || return 1
	ip -n "$ns" addr add "$addr" dev eth0 || return 1
	NETNS_ADDR[$name]=${addr%/*}
	ip -n "$ns" link set eth0 up || return 1
	if ! wait_until 5 ip netns exec "$ns" ping -c 1 -W 1 "$NETNS_UNDERLAY_IP"; then
		echo "netns_node: $name ($addr) cannot reach $NETNS_UNDERLAY_IP on '$under'" >&2
		return 1
	fi
}

# netns_exec NAME CMD [ARGS...]: run CMD in namespace NAME.
netns_exec()
{
	local ns=${NETNS[$1]:-}
	if [[ -z $ns ]]; then
		echo "netns_exec: no namespace '$1'" >&2
		return 1
	fi
	shift
	ip netns exec "$ns" "$@"
}

# netns_spawn VAR NAME LOG CMD [ARGS...]: start CMD in the background in namespace NAME, its
# stdout and stderr appended to LOG and stdin from /dev/null, and store its PID in VAR.
# `ip netns exec` execs CMD in the same process, so the PID is CMD's own: `kill`/`wait` on
# it reach CMD (wait PID gives its exit status). CMD also gets a parent-death SIGKILL, so a
# test shell killed without running its traps leaves nothing behind; the cleanup kills it by
# PID if it still runs at exit.
netns_spawn()
{
	local -
	set +e
	local _var=$1 _ns=${NETNS[$2]:-} _log=$3 _pdeath=()
	shift 3
	if [[ -z $_ns ]]; then
		echo "netns_spawn: no namespace" >&2
		return 1
	fi
	command -v setpriv >/dev/null 2>&1 && _pdeath=(setpriv --pdeathsig KILL --)
	"${_pdeath[@]}" ip netns exec "$_ns" "$@" </dev/null >>"$_log" 2>&1 &
	_NETNS_PIDS+=("$!")
	printf -v "$_var" '%s' "$!"
}

# netns_names: print the real names of the namespaces made here, one per line.
netns_names()
{
	local -
	set +e
	((${#_NETNS_CREATED[@]} == 0)) || printf '%s\n' "${_NETNS_CREATED[@]}"
}

_netns_cleanup()
{
	local -
	set +e
	local pid live=() i
	for pid in "${_NETNS_PIDS[@]}"; do
		_pid_alive "$pid" && live+=("$pid")
	done
	# SIGKILL: the data goes away next, and a clean stop is what the tests check, not this
	_kill_pids KILL "${live[@]}"
	# nodes before the underlay: a node's veth goes with it
	for ((i = ${#_NETNS_CREATED[@]} - 1; i >= 0; i--)); do
		ip netns del "${_NETNS_CREATED[$i]}" 2>/dev/null ||
			echo "# netns: could not delete ${_NETNS_CREATED[$i]}" >&2
	done
	_NETNS_CREATED=()
}

on_exit _netns_cleanup
