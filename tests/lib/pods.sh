# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# tests/lib/pods.sh: pods on tartand nodes, made the way the bridge CNI plugin (host-local
# IPAM, isGateway) makes them, and traffic between them (needs root).
#
# Source it after tests/lib/etcd.sh and tests/lib/netns.sh (it uses wait_until, on_exit,
# the TAP helpers and netns_exec):
#
#	add_pod n1 0                  # pod n1p0 on n1's cni0, address <bridge net>+10/<len>
#	add_pod n1 1                  # pod n1p1, <bridge net>+11
#	POD_BRIDGE=br1 add_pod n2 0   # on another bridge
#	pod_ping n1p0 "${pod_ip[n2p0]}"
#	ping_matrix                   # TAP: every pod pings every pod on another node
#	ping_matrix n1p0 n2p0         # only among these pods
#
# add_pod NODE K makes pod NODEpK: a namespace of its own with loopback up and eth0, the far
# end of a veth whose near end (vethK in NODE) is a port of the bridge. The address, gateway
# and prefix length come from the bridge's one IPv4 address (which tartand puts there:
# <subnet>.1/24), the pod's MTU from the bridge's MTU (the MTU the flannel CNI plugin passes
# on from subnet.env): nothing about the backend is assumed. K is 0..9.
#
# State, for the test to read: pods (names, in creation order), pod_ns[POD] (namespace),
# pod_node[POD], pod_ip[POD]; link_mtu NODE DEV is a helper the tests use too.
#
# Cleanup: the pod namespaces are not netns.sh's; this file registers (with on_exit, when
# sourced) pods_cleanup, which deletes them, and with them the veth pairs (a pair goes when
# either end's namespace goes). It runs before netns.sh's cleanup, which deletes the nodes.
#
# Call add_pod in the test's own shell, never inside $(...) or a pipeline: it records state
# in variables of that shell.

if [[ -n ${_TARTAN_PODS_SH:-} ]]; then
	return 0
fi
_TARTAN_PODS_SH=1

if [[ -z ${_TARTAN_NETNS_SH:-} ]]; then
	echo "Bail out! tests/lib/pods.sh: source tests/lib/etcd.sh and tests/lib/netns.sh first"
	exit 1
fi

: "${POD_BRIDGE:=cni0}"

declare -ga pods=() pod_ns_made=()
declare -gA pod_ns=() pod_node=() pod_ip=()

pods_cleanup()
{
	local -
	set +e
	local ns
	for ns in "${pod_ns_made[@]}"; do
		ip netns del "$ns" 2>/dev/null || echo "# could not delete pod namespace $ns" >&2
	done
	pod_ns_made=()
}

# link_mtu NODE DEV: the MTU of DEV in NODE
link_mtu()
{
	netns_exec "$1" ip -o link show dev "$2" | sed -n 's/.* mtu \([0-9]*\) .*/\1/p'
}

_pod_ip2int()
{
	local a b c d
	IFS=. read -r a b c d <<<"$1"
	echo $(((a << 24) | (b << 16) | (c << 8) | d))
}

_pod_int2ip()
{
	echo "$(($1 >> 24 & 255)).$(($1 >> 16 & 255)).$(($1 >> 8 & 255)).$(($1 & 255))"
}

# add_pod NODE K [BRIDGE]: pod NODEpK on BRIDGE (default POD_BRIDGE, cni0) of NODE (see the
# top of this file).
add_pod()
{
	local -
	set +e
	local node=$1 k=$2 br=${3:-$POD_BRIDGE} pod=$1p$2 ns addrs gw len mask net host mtu
	[[ $k =~ ^[0-9]$ ]] || { echo "add_pod: K must be 0..9, not '$k'" >&2; return 1; }
	[[ -z ${pod_ns[$pod]:-} ]] || { echo "add_pod: pod $pod exists already" >&2; return 1; }
	# one namespace per pod, numbered in creation order so that the name stays short
	ns=${NETNS_TAG}p${#pod_ns_made[@]}
	((${#ns} <= 15)) || { echo "add_pod: namespace name $ns is too long" >&2; return 1; }
	addrs=$(netns_exec "$node" ip -4 -o addr show dev "$br" | awk '{ print $4 }')
	if [[ ! $addrs =~ ^([0-9.]+)/([0-9]+)$ ]]; then
		echo "add_pod: $node's $br must hold one IPv4 address, it holds: '$addrs'" >&2
		return 1
	fi
	gw=${BASH_REMATCH[1]}
	len=${BASH_REMATCH[2]}
	mask=$(((0xffffffff << (32 - len)) & 0xffffffff))
	net=$(($(_pod_ip2int "$gw") & mask))
	host=$((net + 10 + k))
	if (((host & mask) != net)) || ((host == $(_pod_ip2int "$gw"))); then
		echo "add_pod: no room for pod $k in $addrs" >&2
		return 1
	fi
	mtu=$(link_mtu "$node" "$br")
	[[ -n $mtu ]] || { echo "add_pod: no MTU for $br in $node" >&2; return 1; }
	ip netns add "$ns" || return 1
	pod_ns_made+=("$ns")
	pods+=("$pod")
	pod_ns[$pod]=$ns
	pod_node[$pod]=$node
	pod_ip[$pod]=$(_pod_int2ip "$host")
	ip -n "$ns" link set lo up || return 1
	netns_exec "$node" ip link add "veth$k" mtu "$mtu" type veth peer name "pod$k" \
		mtu "$mtu" || return 1
	netns_exec "$node" ip link set "pod$k" netns "$ns" || return 1
	netns_exec "$node" ip link set "veth$k" master "$br" || return 1
	netns_exec "$node" ip link set "veth$k" up || return 1
	ip -n "$ns" link set "pod$k" name eth0 || return 1
	ip -n "$ns" addr add "${pod_ip[$pod]}/$len" dev eth0 || return 1
	ip -n "$ns" link set eth0 up || return 1
	ip -n "$ns" route add default via "$gw" || return 1
}

# pod_ping POD ADDR: one ping from POD to ADDR, 1 s to answer
pod_ping()
{
	ip netns exec "${pod_ns[$1]}" ping -c 1 -W 1 "$2"
}

# ping_matrix [POD...]: every pod (default: all) pings every pod of the list on another node,
# one TAP result per pair; 5 s of retries for each pair while all went well, 1 s once one
# failed (so a broken network does not take minutes). Returns 0: the results are the TAP lines.
ping_matrix()
{
	local -
	set +e
	local a b limit=5 list=("$@") desc
	((${#list[@]})) || list=("${pods[@]}")
	for a in "${list[@]}"; do
		for b in "${list[@]}"; do
			[[ ${pod_node[$a]} != "${pod_node[$b]}" ]] || continue
			desc="pod $a (${pod_ip[$a]}) pings pod $b (${pod_ip[$b]})"
			if wait_until "$limit" pod_ping "$a" "${pod_ip[$b]}"; then
				tap_ok "$desc"
			else
				limit=1
				tap_fail "$desc" "no echo reply within the retries; last ping:" \
					"$(pod_ping "$a" "${pod_ip[$b]}" 2>&1)" \
					"routes in ${pod_node[$a]}: $(netns_exec "${pod_node[$a]}" ip -4 route 2>&1)" \
					"routes in ${pod_node[$b]}: $(netns_exec "${pod_node[$b]}" ip -4 route 2>&1)"
			fi
		done
	done
	return 0
}

on_exit pods_cleanup
