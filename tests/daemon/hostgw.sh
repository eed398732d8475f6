#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/daemon/hostgw.sh: the host-gw backend: three tartand nodes with
# {"Network":"10.5.0.0/16","Backend":{"Type":"host-gw"}} route pod traffic between them
# through the underlay, with pods made the way a bridge CNI plugin makes them (TAP; root).
#
# Asserts: each lease value is flanneld's host-gw value, byte for byte
# ({"PublicIP":"<node>","PublicIPv6":null,"BackendType":"host-gw"}); each node has the
# bridge cni0, up, with the MTU of its eth0 (one node has 1400, so the value is read, not
# assumed) and exactly the address <subnet>.1/24; `ip route show proto 84` in each node lists
# exactly the two other subnets via their public IPs on eth0; with IP forwarding on (tartand
# does not turn it on, flanneld does not either) every pod pings every pod on the other nodes;
# a route of another protocol added by hand stays through several resyncs; a tartan route
# deleted by hand is back within 3 s (--resync-interval 1); a node that leaves (SIGTERM, exit
# status 0, then its key deleted) has its route removed on the others within 3 s; a fresh node
# whose bridge holds a stale address of the cluster network (10.5.250.1/24, as left from an
# older subnet) loses it at start and gets <subnet>.1/24, its routes and the others' routes
# to it (a joining peer's route, placeholder or node, is on the others within 1 s); SIGTERM
# ends each daemon with exit status 0. The "within N s" are targets, reported and not
# asserted (each check waits up to 20 s): speed is bench/'s.
#
# 10.5.250.0/24 is held by a leased placeholder peer (192.0.2.50, no host behind it) from
# before the fresh node starts, so the fresh node can never be given that subnet and the
# stale address is really stale.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/etcd.sh
. "$here/../lib/etcd.sh"
# shellcheck source=tests/lib/netns.sh
. "$here/../lib/netns.sh"
# shellcheck source=tests/lib/tartand.sh
. "$here/../lib/tartand.sh"
# shellcheck source=tests/lib/pods.sh
. "$here/../lib/pods.sh"

P=$FLANNEL_PREFIX
HOSTGW_CONFIG='{"Network":"10.5.0.0/16","Backend":{"Type":"host-gw"}}'
STALE_SUBNET=10.5.250.0/24
STALE_ADDR=10.5.250.1/24
PLACEHOLDER_IP=192.0.2.50

declare -A ip=([n1]=192.0.2.11 [n2]=192.0.2.12 [n3]=192.0.2.13 [n4]=192.0.2.14)
declare -A mtu=([n1]=1500 [n2]=1400 [n3]=1500 [n4]=1500)
declare -A subnet=()
# peers[NODE]: the "<subnet> <public ip>" words of the host-gw leases NODE must route to
declare -A peers=()

tartan_net_setup

# gw_of SUBNET: the bridge address of a node holding 10.5.X.0/24: 10.5.X.1/24
gw_of()
{
	printf '%s.1/24\n' "${1%.0/24}"
}

# routes84 NODE: tartan's routes in NODE, one per line, sorted
routes84()
{
	netns_exec "$1" ip -4 route show proto 84 | sed 's/ *$//' | sort
}

# want_routes NODE: the routes NODE must have, in routes84's form
want_routes()
{
	local words=() i
	read -r -a words <<<"${peers[$1]:-}"
	for ((i = 0; i < ${#words[@]}; i += 2)); do
		printf '%s via %s dev eth0\n' "${words[i]}" "${words[i + 1]}"
	done | sort
}

routes_ok()
{
	[[ $(routes84 "$1") == "$(want_routes "$1")" ]]
}

# bridge_addrs NODE: the IPv4 addresses of cni0 in NODE, sorted
bridge_addrs()
{
	netns_exec "$1" ip -4 -o addr show dev cni0 | awk '{ print $4 }' | sort
}

bridge_addrs_are()
{
	[[ $(bridge_addrs "$1" 2>/dev/null) == "$2" ]]
}

# has_route NODE ROUTE...: ROUTE (ip route show's words) is in NODE's main table
has_route()
{
	local node=$1 out
	shift
	out=$(netns_exec "$node" ip -4 route show "$@") || return 1
	[[ -n $out ]]
}

# check_node NODE WHAT: bridge and routes of a running node
check_node()
{
	local n=$1 what=$2 link want
	want=$(gw_of "${subnet[$n]}")
	if wait_until 10 bridge_addrs_are "$n" "$want"; then
		tap_ok "$what: cni0 holds exactly $want"
	else
		tap_fail "$what: cni0 holds exactly $want" "expected IPv4 addresses: $want" \
			"saw: $(bridge_addrs "$n" 2>&1 | tr '\n' ' ')" \
			"ip addr: $(netns_exec "$n" ip addr 2>&1)"
	fi
	link=$(netns_exec "$n" ip -o link show dev cni0 2>&1 || true)
	tap_like "$link" '<([A-Z_-]+,)*UP[,>]' "$what: cni0 is up" || true
	tap_is "$(link_mtu "$n" cni0 2>&1)" "${mtu[$n]}" "$what: cni0's MTU is eth0's, ${mtu[$n]}" || true
	# its own MAC, 0a:58 and the gateway address (the bridge plugin's form), not a port's
	local gw=${want%/*} a b c d
	IFS=. read -r a b c d <<<"$gw"
	tap_is "$(netns_exec "$n" cat /sys/class/net/cni0/address 2>&1)" \
		"$(printf '0a:58:%02x:%02x:%02x:%02x' "$a" "$b" "$c" "$d")" \
		"$what: cni0's MAC is 0a:58 and its gateway address $gw" || true
	if wait_until 10 routes_ok "$n"; then
		tap_ok "$what: ip route show proto 84 lists exactly its peers ($(want_routes "$n" |
			paste -sd ';'))"
	else
		tap_fail "$what: ip route show proto 84 lists exactly its peers" \
			"expected:" "$(want_routes "$n")" "saw:" "$(routes84 "$n" 2>&1)" \
			"ip route: $(netns_exec "$n" ip -4 route 2>&1)"
	fi
}

# check_routes NODE WHAT TARGET: tartan's routes in NODE come to be what want_routes says;
# how fast is reported against TARGET s, not asserted (speed is bench/'s): it waits up to 20 s
check_routes()
{
	local n=$1 what=$2 t0=$EPOCHREALTIME
	if wait_until 20 routes_ok "$n"; then
		tap_ok "$what (after $(elapsed "$t0") s, target $3 s)"
	else
		tap_fail "$what (waited 20 s)" "expected:" "$(want_routes "$n")" \
			"saw:" "$(routes84 "$n" 2>&1)"
	fi
}

# elapsed T0: seconds since EPOCHREALTIME T0, to a tenth
elapsed()
{
	local now=${EPOCHREALTIME//[!0-9]/} t0=${1//[!0-9]/}
	printf '%d.%d' $(((now - t0) / 1000000)) $(((now - t0) / 100000 % 10))
}

# set_peers: peers[] from the nodes in $@ (running) and the placeholder if put
set_peers()
{
	local n m
	for n in "$@"; do
		peers[$n]=""
		for m in "$@"; do
			[[ $m == "$n" ]] || peers[$n]+=" ${subnet[$m]} ${ip[$m]}"
		done
		[[ -z ${placeholder:-} ]] || peers[$n]+=" $STALE_SUBNET $PLACEHOLDER_IP"
	done
}

start_node()
{
	local n=$1
	tartand_start "$n" -- --resync-interval 1 --bridge cni0 \
		"--cni-conf-dir=$TARTAN_WORK/$n/cni" --rkt-net-dir= ||
		tap_bail "could not start tartand in $n"
}

# -- three nodes
for n in n1 n2 n3; do
	netns_node "$n" "${ip[$n]}/24" || tap_bail "could not make node namespace $n"
	# flanneld leaves forwarding to the host's set-up, and so does tartand
	netns_exec "$n" sysctl -qw net.ipv4.ip_forward=1 || tap_bail "could not enable forwarding in $n"
done
netns_exec n2 ip link set eth0 mtu 1400 || tap_bail "could not set n2's MTU"

tap_check "host-gw config put" ectl put "$P/config" "$HOSTGW_CONFIG"
for n in n1 n2 n3; do
	start_node "$n"
done
for n in n1 n2 n3; do
	if wait_until 20 tstatus_is "$n" peers 2 && tstatus_is "$n" state running; then
		tap_ok "$n: running with 2 peers"
	else
		tap_fail "$n: running with 2 peers" "saw: $(tstatus "$n" 2>&1)" \
			"daemon alive: $(tartand_alive "$n" && echo yes || echo no)"
	fi
	subnet[$n]=$(tstatus "$n" subnet 2>/dev/null || true)
	[[ ${subnet[$n]} =~ ^10\.5\.[0-9]+\.0/24$ ]] ||
		tap_bail "$n has no subnet (status subnet '${subnet[$n]}')"
done
tap_diag "subnets: n1 ${subnet[n1]}, n2 ${subnet[n2]}, n3 ${subnet[n3]}"

for n in n1 n2 n3; do
	key=$(subnet_key "${subnet[$n]}")
	tap_is "$(key_value "$key" 2>&1 || true)" \
		"{\"PublicIP\":\"${ip[$n]}\",\"PublicIPv6\":null,\"BackendType\":\"host-gw\"}" \
		"$n: $key holds flanneld's host-gw lease value" || true
done

set_peers n1 n2 n3
for n in n1 n2 n3; do
	check_node "$n" "$n"
done

# -- pods, and traffic between them across the nodes
for n in n1 n2 n3; do
	for k in 0 1; do
		add_pod "$n" "$k" || tap_bail "could not make pod $k in $n"
	done
done
ping_matrix
tap_is "$(link_mtu n2 cni0 2>&1)" 1400 "n2: cni0 keeps MTU 1400 with pods attached" || true

# -- a route of another protocol is left alone
tap_check "n1: route 10.99.0.0/24 via $NETNS_UNDERLAY_IP added by hand" \
	netns_exec n1 ip route add 10.99.0.0/24 via "$NETNS_UNDERLAY_IP"
sleep 3
tap_check "n1: the hand-made route is still there after 3 resyncs" \
	has_route n1 10.99.0.0/24 via "$NETNS_UNDERLAY_IP" dev eth0 || true
check_routes n1 "n1: tartan's routes unchanged next to it" 1

# -- a tartan route deleted by hand comes back at the next resync
tap_check "n1: tartan's route to n2's ${subnet[n2]} deleted by hand" \
	netns_exec n1 ip route del "${subnet[n2]}" via "${ip[n2]}" dev eth0 proto 84
check_routes n1 "n1: the deleted route to ${subnet[n2]} is back" 3
if wait_until 5 pod_ping n1p0 "${pod_ip[n2p0]}"; then
	tap_ok "n1p0 reaches n2p0 again"
else
	tap_fail "n1p0 reaches n2p0 again" "$(pod_ping n1p0 "${pod_ip[n2p0]}" 2>&1)"
fi

# -- nothing alarming so far
for n in n1 n2 n3; do
	tap_is "$(tlog_errors "$n")" "" "$n: no error in the log" || true
done

# -- n3 leaves: its daemon stops, then its key is deleted
tartand_stop n3 TERM || true
tap_is "$TARTAND_RC" 0 "n3: tartand exits 0 on SIGTERM" || true
tap_check "n3's key deleted with etcdctl" ectl del "$(subnet_key "${subnet[n3]}")"
set_peers n1 n2
for n in n1 n2; do
	check_routes "$n" "$n: the route to departed n3's ${subnet[n3]} is gone" 3
done

# -- a fresh node whose bridge holds a stale address of the cluster network
placeholder_put()
{
	local id
	id=$(ectl lease grant 600 | awk '/granted/ { print $2 }')
	[[ -n $id ]] || return 1
	ectl put "$(subnet_key "$STALE_SUBNET")" \
		"{\"PublicIP\":\"$PLACEHOLDER_IP\",\"PublicIPv6\":null,\"BackendType\":\"host-gw\"}" \
		--lease="$id" >/dev/null
}
tap_check "placeholder lease for $STALE_SUBNET put (peer $PLACEHOLDER_IP)" placeholder_put
placeholder=1
set_peers n1 n2
for n in n1 n2; do
	check_routes "$n" "$n: a route to the joining placeholder peer" 1
done

netns_node n4 "${ip[n4]}/24" || tap_bail "could not make node namespace n4"
netns_exec n4 sysctl -qw net.ipv4.ip_forward=1 || tap_bail "could not enable forwarding in n4"
stale_bridge()
{
	netns_exec n4 ip link add cni0 type bridge &&
		netns_exec n4 ip addr add "$STALE_ADDR" dev cni0 &&
		netns_exec n4 ip link set cni0 up
}
tap_check "n4: cni0 made by hand with the stale $STALE_ADDR, before tartand starts" stale_bridge
tap_is "$(bridge_addrs n4 2>&1)" "$STALE_ADDR" "n4: cni0 holds only $STALE_ADDR before the start" ||
	true
start_node n4
if wait_until 20 tstatus_is n4 peers 3 && tstatus_is n4 state running; then
	tap_ok "n4: running with 3 peers"
else
	tap_fail "n4: running with 3 peers" "saw: $(tstatus n4 2>&1)" \
		"daemon alive: $(tartand_alive n4 && echo yes || echo no)"
fi
subnet[n4]=$(tstatus n4 subnet 2>/dev/null || true)
[[ ${subnet[n4]} =~ ^10\.5\.[0-9]+\.0/24$ ]] || tap_bail "n4 has no subnet ('${subnet[n4]}')"
tap_diag "n4 holds ${subnet[n4]}"
set_peers n1 n2 n4
check_node n4 "n4 (stale address before the start)"
for n in n1 n2; do
	check_routes "$n" "$n: a route to the joining n4's ${subnet[n4]}" 1
done
add_pod n4 0 || tap_bail "could not make a pod in n4"
for b in n1p0 n2p1; do
	if wait_until 5 pod_ping n4p0 "${pod_ip[$b]}"; then
		tap_ok "pod n4p0 (${pod_ip[n4p0]}) pings pod $b (${pod_ip[$b]})"
	else
		tap_fail "pod n4p0 (${pod_ip[n4p0]}) pings pod $b (${pod_ip[$b]})" \
			"$(pod_ping n4p0 "${pod_ip[$b]}" 2>&1)" \
			"routes in n4: $(netns_exec n4 ip -4 route 2>&1)"
	fi
done

# -- host-gw needs the public IP on the external interface (flanneld refuses too)
netns_node n5 192.0.2.15/24 || tap_bail "could not make node namespace n5"
tartand_start n5 -- --resync-interval 1 --bridge cni0 --public-ip 192.0.2.99 \
	"--cni-conf-dir=$TARTAN_WORK/n5/cni" --rkt-net-dir= || tap_bail "could not start tartand in n5"
if wait_until 10 tlog_has n5 'public IP 192\.0\.2\.99 is not an address of eth0'; then
	tap_ok "n5: a public IP that is not on eth0 is refused for host-gw, with a log line"
else
	tap_fail "n5: a public IP that is not on eth0 is refused for host-gw, with a log line" \
		"log: $(tlog n5 2>&1)"
fi
tap_is "$(tstatus n5 state 2>&1)" waiting-for-config "n5: it waits instead of joining" || true
tap_is "$(ectl get --prefix "$P/subnets/" | grep -c '192\.0\.2\.99' || true)" 0 \
	"n5: no lease names 192.0.2.99" || true
tartand_stop n5 TERM || true
tap_is "$TARTAND_RC" 0 "n5: tartand exits 0 on SIGTERM" || true

tap_check "n1: the hand-made route is still there at the end" \
	has_route n1 10.99.0.0/24 via "$NETNS_UNDERLAY_IP" dev eth0 || true
for n in n1 n2 n4; do
	tap_check "$n: tartand still runs" tartand_alive "$n" || true
	tartand_stop "$n" TERM || true
	tap_is "$TARTAND_RC" 0 "$n: tartand exits 0 on SIGTERM" || true
done

tap_done
