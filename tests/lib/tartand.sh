# SPDX-License-Identifier: Apache-2.0
#
# tests/lib/tartand.sh: run tartand nodes in network namespaces against an etcd in the
# underlay namespace, and look at them with tartanctl and etcdctl (needs root).
#
# Source it after tests/lib/etcd.sh and tests/lib/netns.sh:
#
#	tartan_net_setup                    # underlay 'u' + etcd 'e' on 192.0.2.254 (in u)
#	netns_node n1 192.0.2.11/24
#	ectl put /coreos.com/network/config '{"Network":"10.5.0.0/16","Backend":{"Type":"alloc"}}'
#	tartand_start n1                    # --iface eth0 --public-ip 192.0.2.11, files in
#	                                    # $TARTAN_WORK/n1/: subnet.env, state/, tartand.sock
#	wait_until 10 tstatus_is n1 state running
#	tstatus n1 subnet                   # prints 10.5.X.0/24
#	tartand_stop n1 TERM; echo "$TARTAND_RC"
#
# Environment: TARTAND and TARTANCTL (paths of the binaries, set by meson), ETCDCTL
# (default: etcdctl from PATH), PYTHON3 (default /usr/bin/python3, else python3 from PATH).
#
# A node's daemon writes its log (stderr) to TARTAND_LOG[NODE]; each start appends a
# marker line and sets TARTAND_LOG_FROM[NODE] to the line it starts at, so tlog NODE shows
# only the current run. At exit, if something failed, the tail of every node's log and the
# etcd keys are printed as TAP comments (stderr).

if [[ -n ${_TARTAN_TARTAND_SH:-} ]]; then
	return 0
fi
_TARTAN_TARTAND_SH=1

if [[ -z ${_TARTAN_NETNS_SH:-} ]]; then
	echo "Bail out! tests/lib/tartand.sh: source tests/lib/etcd.sh and tests/lib/netns.sh first"
	exit 1
fi

: "${ETCDCTL:=etcdctl}"
# The system's python3 directly: a version manager's shim in PATH (pyenv) costs a few
# hundred ms per call, which adds up in polling loops.
if [[ -z ${PYTHON3:-} && -x /usr/bin/python3 ]]; then
	PYTHON3=/usr/bin/python3
fi
: "${PYTHON3:=python3}"
FLANNEL_PREFIX=/coreos.com/network
ALLOC_CONFIG='{"Network":"10.5.0.0/16","Backend":{"Type":"alloc"}}'

declare -gA TARTAND_PID=() TARTAND_DIR=() TARTAND_LOG=() TARTAND_LOG_FROM=() TARTAND_SOCK=()
declare -gA TARTAND_ENV=()
TARTAND_RC=""
TARTAN_WORK=""

# tartan_net_setup: check the binaries, make TARTAN_WORK, the underlay namespace 'u' and an
# etcd 'e' listening on NETNS_UNDERLAY_IP inside it; bails out (TAP) on failure.
tartan_net_setup()
{
	local b
	netns_require
	for b in TARTAND TARTANCTL; do
		if [[ -z ${!b:-} || ! -x ${!b} ]]; then
			tap_bail "$b is not set to an executable (got '${!b:-}'); meson sets it"
		fi
	done
	command -v "$ETCDCTL" >/dev/null 2>&1 || tap_bail "$ETCDCTL not found (etcd-client)"
	command -v "$PYTHON3" >/dev/null 2>&1 || tap_bail "$PYTHON3 not found"
	tmpdir_new TARTAN_WORK || tap_bail "mktemp failed"
	netns_underlay u || tap_bail "could not make the underlay namespace"
	ETCD_NETNS=${NETNS[u]} ETCD_LISTEN_IP=$NETNS_UNDERLAY_IP etcd_start e ||
		tap_bail "could not start etcd in namespace ${NETNS[u]}"
	on_exit _tartand_on_exit
}

# ectl ARGS...: etcdctl (API v3) against the test's etcd, from inside the underlay.
ectl()
{
	ip netns exec "${NETNS[u]}" env ETCDCTL_API=3 "$ETCDCTL" --endpoints "$ETCD_ENDPOINT_e" \
		--dial-timeout 2s --command-timeout 5s "$@"
}

# jget JSON EXPR: evaluate the python expression EXPR on the parsed JSON (as d); print a
# string as is, anything else as JSON (true, null, 3, [...]). Fails on bad JSON or EXPR.
jget()
{
	"$PYTHON3" -c '
import json, sys
d = json.loads(sys.argv[1])
r = eval(sys.argv[2], {"d": d})
print(r if isinstance(r, str) else json.dumps(r, sort_keys=True))
' "$1" "$2"
}

# tartand_start NODE [--dir DIR] [--prefix PREFIX] [--gate FIFO] [-- TARTAND_ARGS...]
#
# Start tartand in namespace NODE with --iface eth0 --public-ip NETNS_ADDR[NODE], the etcd of
# tartan_net_setup, --etcd-prefix PREFIX (default /coreos.com/network) and its files in DIR
# (default $TARTAN_WORK/NODE): subnet.env, state/, tartand.sock, tartand.log, the CNI
# confs in net.d/ and rkt.d/, other CNI networks' host-local stores looked for in
# cni-networks/ (never the host's /etc/cni/net.d or /var/lib/cni; flags after -- override). With --gate,
# the daemon is exec'ed only once a line can be read from FIFO (the caller holds FIFO open
# read-write and writes a line to let it go): two daemons released at one instant.
# Sets TARTAND_PID[NODE] and friends. TARTAND_ENV[NODE] (a string of NAME=VALUE words) is put
# in the daemon's environment.
tartand_start()
{
	local -
	set +e
	local node=$1 dir="" prefix=$FLANNEL_PREFIX gate="" cmd=() pid envs=()
	shift
	while (($#)); do
		case $1 in
		--dir) dir=$2; shift 2 ;;
		--prefix) prefix=$2; shift 2 ;;
		--gate) gate=$2; shift 2 ;;
		--) shift; break ;;
		*) echo "tartand_start: unknown option $1" >&2; return 1 ;;
		esac
	done
	[[ -n $dir ]] || dir=$TARTAN_WORK/$node
	if [[ -n ${TARTAND_PID[$node]:-} ]] && _pid_alive "${TARTAND_PID[$node]}"; then
		echo "tartand_start: $node runs already (pid ${TARTAND_PID[$node]})" >&2
		return 1
	fi
	mkdir -p "$dir/state" || return 1
	TARTAND_DIR[$node]=$dir
	TARTAND_LOG[$node]=$dir/tartand.log
	TARTAND_SOCK[$node]=$dir/tartand.sock
	touch "${TARTAND_LOG[$node]}"
	echo "=== tartan test: starting tartand in $node $(date +%T.%N) ===" >>"${TARTAND_LOG[$node]}"
	TARTAND_LOG_FROM[$node]=$(($(wc -l <"${TARTAND_LOG[$node]}") + 1))
	[[ -z ${TARTAND_ENV[$node]:-} ]] || read -r -a envs <<<"${TARTAND_ENV[$node]}"
	cmd=(env "${envs[@]}" "$TARTAND"
		--etcd-endpoints "$ETCD_ENDPOINT_e"
		--etcd-prefix "$prefix"
		--iface eth0
		--public-ip "${NETNS_ADDR[$node]}"
		--subnet-file "$dir/subnet.env"
		--state-dir "$dir/state"
		--socket "${TARTAND_SOCK[$node]}"
		--cni-conf-dir "$dir/net.d"
		--rkt-net-dir "$dir/rkt.d"
		--cni-data-dir "$dir/cni-networks"
		--log-level debug
		"$@")
	if [[ -n $gate ]]; then
		# bash reads the gate and execs the daemon: the PID stays the daemon's
		cmd=(bash -c 'read -r _ <"$0"; exec "$@"' "$gate" "${cmd[@]}")
	fi
	netns_spawn pid "$node" "${TARTAND_LOG[$node]}" "${cmd[@]}" || return 1
	TARTAND_PID[$node]=$pid
}

# tartand_alive NODE: the node's daemon runs.
tartand_alive()
{
	[[ -n ${TARTAND_PID[$1]:-} ]] && _pid_alive "${TARTAND_PID[$1]}"
}

# tartand_stop NODE [SIGNAL] [TIMEOUT]: send SIGNAL (default TERM) to the node's daemon and
# wait up to TIMEOUT seconds (default 10) for it to exit; TARTAND_RC is its exit status
# (128+N when killed by signal N). Returns 1 (after a SIGKILL) if it did not exit in time.
tartand_stop()
{
	local -
	set +e
	local node=$1 sig=${2:-TERM} timeout=${3:-10} pid=${TARTAND_PID[$1]:-} rc=0
	TARTAND_RC=""
	if [[ -z $pid ]]; then
		echo "tartand_stop: no daemon in $node" >&2
		return 1
	fi
	kill -s "$sig" "$pid" 2>/dev/null
	if ! wait_until "$timeout" _pid_dead "$pid"; then
		echo "tartand_stop: $node (pid $pid) still runs ${timeout} s after SIG$sig" >&2
		kill -s KILL "$pid" 2>/dev/null
		rc=1
	fi
	wait "$pid" 2>/dev/null
	TARTAND_RC=$?
	TARTAND_PID[$node]=""
	return $rc
}

_pid_dead()
{
	! _pid_alive "$1"
}

# tctl NODE ARGS...: tartanctl on the node's control socket, run inside the node.
tctl()
{
	netns_exec "$1" "$TARTANCTL" --socket "${TARTAND_SOCK[$1]}" "${@:2}"
}

# tstatus NODE [FIELD]: `tartanctl status --json` of NODE, or one field of it (see jget).
tstatus()
{
	local out
	out=$(tctl "$1" --json status) || return 1
	if (($# < 2)); then
		printf '%s\n' "$out"
	else
		jget "$out" "d.get('$2')"
	fi
}

# tstatus_is NODE FIELD VALUE: the field prints as VALUE (strings bare, else JSON).
tstatus_is()
{
	[[ $(tstatus "$1" "$2" 2>/dev/null) == "$3" ]]
}

# tleases NODE: the subnets of `tartanctl leases --json`, sorted, one per line.
tleases()
{
	local out
	out=$(tctl "$1" --json leases) || return 1
	jget "$out" '"\n".join(sorted(l["subnet"] for l in d["leases"]))'
}

# tleases_count_is NODE N: tartanctl leases lists N leases.
tleases_count_is()
{
	local out
	out=$(tctl "$1" --json leases) || return 1
	[[ $(jget "$out" 'len(d["leases"])') == "$2" ]]
}

# tlog NODE: the node's log since its last start.
tlog()
{
	tail -n "+${TARTAND_LOG_FROM[$1]:-1}" "${TARTAND_LOG[$1]}"
}

# tlog_has NODE REGEX: a line of the current run's log matches the extended REGEX.
tlog_has()
{
	local out
	# not a pipe into grep -q: under pipefail the writer's SIGPIPE would fail the check
	out=$(tlog "$1") || return 1
	grep -Eq -- "$2" <<<"$out"
}

# subnet_key SUBNET [PREFIX]: flannel's key of subnet A.B.C.D/L: PREFIX/subnets/A.B.C.D-L.
subnet_key()
{
	local s=$1
	printf '%s/subnets/%s\n' "${2:-$FLANNEL_PREFIX}" "${s/\//-}"
}

# key_lease KEY: the etcd lease ID (decimal) the key is attached to, 0 for none; fails if
# the key does not exist.
key_lease()
{
	local out
	out=$(ectl get "$1" -w json) || return 1
	jget "$out" 'd["kvs"][0].get("lease", 0)'
}

# lease_ttl LEASE_ID: "GRANTED REMAINING" (seconds) of an etcd lease given in decimal.
lease_ttl()
{
	local out
	out=$(ectl lease timetolive "$(printf '%x' "$1")" -w json) || return 1
	jget "$out" '"%d %d" % (d["granted-ttl"], d["ttl"])'
}

# key_value KEY: the key's value, exactly (fails if the key does not exist).
key_value()
{
	local out
	out=$(ectl get "$1" -w json) || return 1
	"$PYTHON3" -c '
import base64, json, sys
d = json.loads(sys.argv[1])
if not d.get("kvs"):
    sys.exit(1)
sys.stdout.write(base64.b64decode(d["kvs"][0].get("value", "")).decode())
' "$out"
}

# key_exists KEY
key_exists()
{
	[[ -n $(ectl get "$1" --keys-only) ]]
}

# subnet_env_text NETWORK SUBNET MTU: flannel's subnet.env for that lease, byte for byte.
subnet_env_text()
{
	"$PYTHON3" -c '
import ipaddress, sys
net, sub, mtu = sys.argv[1:4]
s = ipaddress.ip_network(sub)
sys.stdout.write("FLANNEL_NETWORK=%s\nFLANNEL_SUBNET=%s/%d\nFLANNEL_MTU=%s\nFLANNEL_IPMASQ=false\n"
                 % (net, s.network_address + 1, s.prefixlen, mtu))
' "$1" "$2" "$3"
}

_tartand_on_exit()
{
	local node
	tap_failed || return 0
	for node in "${!TARTAND_LOG[@]}"; do
		[[ -s ${TARTAND_LOG[$node]} ]] || continue
		echo "# ---- tartand $node log (${TARTAND_LOG[$node]}), last 40 lines" >&2
		tail -n 40 "${TARTAND_LOG[$node]}" | sed 's/^/# /' >&2
	done
	if [[ -n ${ETCD_PID_e:-} ]] && _pid_alive "${ETCD_PID_e}"; then
		echo "# ---- etcd keys" >&2
		ectl get --prefix / 2>&1 | head -n 60 | sed 's/^/# /' >&2
	fi
}

# tlog_errors NODE: the error (and worse) lines of the node's current run.
tlog_errors()
{
	tlog "$1" | grep -E '^tartand: (emergency|alert|critical|error):' || true
}
