#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/daemon/flannel-wire.sh: wire compatibility with flanneld: tartand nodes and a
# "flanneld-style" node F in one cluster, for host-gw and for vxlan. F runs no daemon: its
# lease is written with etcdctl the way flanneld writes it (a 24 h etcd lease, `put --lease`,
# the value byte for byte as flanneld marshals it) and its data plane is made with ip(8) and
# bridge(8) the way flanneld and the bridge CNI plugin make it, from the tartand nodes' leases
# as read from etcd (flannel-compat.md sections 1.3, 1.4, 4.1, 4.2). So each side only sees
# what the other put in etcd and on the wire.
#
# Part A, host-gw ({"Network":"10.5.0.0/16","Backend":{"Type":"host-gw"}}, prefix
# /coreos.com/network): two tartand nodes a1, a2 and F (af) holding 10.5.77.0/24 with
# {"PublicIP":"<F>","PublicIPv6":null,"BackendType":"host-gw"}; F has the bridge cni0 with
# 10.5.77.1/24 and a route to each tartand subnet via the node's public IP on eth0.
# Asserts: each tartand node runs with 2 peers (the other and F); F parses each tartand lease
# as flanneld does (host-gw, PublicIP = the node's address, no BackendData) and the value is
# flanneld's byte for byte; `ip route show proto 84` in each tartand node is exactly the other
# node's subnet and 10.5.77.0/24, each via its public IP on eth0; a pod on every node pings
# the pods on the other two (tartand <-> F both ways, and tartand <-> tartand); no error in
# the daemons' logs; SIGTERM ends them with exit status 0.
#
# Part B, vxlan ({"Network":"10.6.0.0/16","Backend":{"Type":"vxlan"}}, its own prefix
# /tartan-wire/network): two tartand nodes b1, b2 and F (bf) holding 10.6.77.0/24 with
# {"PublicIP":"<F>","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,
# "VtepMAC":"0e:00:00:00:00:77"}}; F's flannel.1 (vxlan id 1, local <F>, dev eth0, dstport
# 8472, nolearning, MAC 0e:00:00:00:00:77, MTU eth0's - 50, 10.6.77.0/32), its cni0 (MTU as
# flannel.1's, 10.6.77.1/24) and, for each tartand lease, the neighbour <subnet>.0 -> VtepMAC,
# the FDB entry VtepMAC -> PublicIP and the route <subnet> via <subnet>.0 onlink.
# Asserts: each tartand node runs with 2 peers; its lease value is flanneld's vxlan value
# byte for byte and its VtepMAC is the MAC of its flannel.1; its flannel.1 is a vxlan device
# with id 1, local = its public IP, dev eth0, dstport 8472, nolearning, MTU eth0's - 50 and
# exactly the address <subnet>.0/32; it holds exactly F's and the other node's entries: the
# permanent neighbours, the permanent FDB entries (self) and the proto 84 onlink routes via
# flannel.1; a pod on every node pings the pods on the other two; a 1450-byte packet with DF
# set (the full vxlan MTU) crosses between a tartand pod and F's pod both ways; F's flannel.1
# received and sent packets (the pings did cross VXLAN); no error in the logs; SIGTERM ends
# the daemons with exit status 0.

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

HOSTGW_PREFIX=$FLANNEL_PREFIX
HOSTGW_CONFIG='{"Network":"10.5.0.0/16","Backend":{"Type":"host-gw"}}'
VXLAN_PREFIX=/tartan-wire/network
VXLAN_CONFIG='{"Network":"10.6.0.0/16","Backend":{"Type":"vxlan"}}'
# F's subnets and VTEP: fixed, as a flanneld node that was there first would hold them
F_HOSTGW_SUBNET=10.5.77.0/24
F_VXLAN_SUBNET=10.6.77.0/24
F_VTEP_MAC=0e:00:00:00:00:77
VXLAN_PORT=8472

declare -A ip=([a1]=192.0.2.21 [a2]=192.0.2.22 [af]=192.0.2.27
	[b1]=192.0.2.31 [b2]=192.0.2.32 [bf]=192.0.2.37)
declare -A subnet=([af]=$F_HOSTGW_SUBNET [bf]=$F_VXLAN_SUBNET)
declare -A prefix=([a1]=$HOSTGW_PREFIX [a2]=$HOSTGW_PREFIX [af]=$HOSTGW_PREFIX
	[b1]=$VXLAN_PREFIX [b2]=$VXLAN_PREFIX [bf]=$VXLAN_PREFIX)
# the VtepMAC each vxlan node's lease announces
declare -A vtep_mac=([bf]=$F_VTEP_MAC)

tartan_net_setup

# -- helpers

# net_of SUBNET: 10.6.3.0/24 -> 10.6.3.0
net_of()
{
	printf '%s\n' "${1%/*}"
}

# gw_of SUBNET: the bridge address of a node holding 10.X.Y.0/24: 10.X.Y.1/24
gw_of()
{
	printf '%s.1/24\n' "${1%.0/24}"
}

# f_lease_put NODE VALUE: NODE's lease as flanneld (>= v0.18) creates it: an etcd lease of
# 24 h, then the key put with it.
f_lease_put()
{
	local node=$1 value=$2 id
	id=$(ectl lease grant 86400 | awk '/granted/ { print $2 }')
	[[ -n $id ]] || return 1
	ectl put --lease="$id" "$(subnet_key "${subnet[$node]}" "${prefix[$node]}")" "$value" \
		>/dev/null
}

# f_leases PREFIX: the leases under PREFIX as flanneld reads them (key regex, value JSON),
# one per line: "<subnet> <PublicIP> <BackendType|-> <VNI|-> <VtepMAC|-> <BackendData|->".
f_leases()
{
	local out
	out=$(ectl get --prefix "$1/subnets/" -w json) || return 1
	"$PYTHON3" -c '
import base64, json, re, sys
d = json.loads(sys.argv[1])
for kv in d.get("kvs", []):
    key = base64.b64decode(kv["key"]).decode()
    m = re.search(r"(\d+\.\d+\.\d+\.\d+)-(\d+)$", key)
    if not m:
        continue
    v = json.loads(base64.b64decode(kv.get("value", "")).decode())
    bd = v.get("BackendData")
    print("%s/%s %s %s %s %s %s" % (m.group(1), m.group(2), v["PublicIP"],
          v.get("BackendType") or "-",
          bd.get("VNI", "-") if bd else "-", bd.get("VtepMAC", "-") if bd else "-",
          "-" if bd is None else json.dumps(bd, separators=(",", ":"))))
' "$out"
}

# f_lease_of PREFIX SUBNET: f_leases' line of SUBNET
f_lease_of()
{
	local out
	out=$(f_leases "$1") || return 1
	awk -v s="$2" '$1 == s' <<<"$out"
}

# f_node_setup NODE: F's namespace, with forwarding on (flanneld's hosts do it in their set-up)
f_node_setup()
{
	local n=$1
	netns_node "$n" "${ip[$n]}/24" || tap_bail "could not make node namespace $n"
	netns_exec "$n" sysctl -qw net.ipv4.ip_forward=1 || tap_bail "could not enable forwarding in $n"
}

# f_bridge NODE MTU: cni0 as the bridge CNI plugin makes it for flannel: <subnet>.1/24, the
# MTU of subnet.env
f_bridge()
{
	local n=$1
	netns_exec "$n" ip link add cni0 mtu "$2" type bridge &&
		netns_exec "$n" ip addr add "$(gw_of "${subnet[$n]}")" dev cni0 &&
		netns_exec "$n" ip link set cni0 up
}

# vtep_addrs NODE: the IPv4 addresses of flannel.1 in NODE, one per line
vtep_addrs()
{
	netns_exec "$1" ip -4 -o addr show dev flannel.1 | awk '{ print $4 }'
}

# routes84 NODE: tartan's routes in NODE, one per line, sorted
routes84()
{
	netns_exec "$1" ip -4 route show proto 84 | sed 's/ *$//' | sort
}

# lines_are WANT CMD...: CMD's output, trailing blanks stripped and sorted, is WANT
lines_are()
{
	local want=$1 out
	shift
	out=$("$@" | sed 's/ *$//' | sort) || return 1
	[[ $out == "$want" ]]
}

# wait_lines WHAT LIMIT WANT CMD...: TAP: CMD's output (see lines_are) is WANT within LIMIT s
wait_lines()
{
	local what=$1 limit=$2 want=$3
	shift 3
	if wait_until "$limit" lines_are "$want" "$@"; then
		tap_ok "$what"
	else
		tap_fail "$what" "command: $*" "expected:" "$want" "saw:" \
			"$("$@" 2>&1 | sed 's/ *$//' | sort)"
	fi
}

start_node()
{
	local n=$1
	tartand_start "$n" --prefix "${prefix[$n]}" -- --resync-interval 1 --bridge cni0 \
		"--cni-conf-dir=$TARTAN_WORK/$n/cni" --rkt-net-dir= ||
		tap_bail "could not start tartand in $n"
}

# running_with_peers NODE N RE: NODE runs with N peers; its subnet (matching RE) in subnet[]
running_with_peers()
{
	local n=$1
	if wait_until 20 tstatus_is "$n" peers "$2" && tstatus_is "$n" state running; then
		tap_ok "$n: running with $2 peers (the other tartand node and F)"
	else
		tap_fail "$n: running with $2 peers" "saw: $(tstatus "$n" 2>&1)" \
			"daemon alive: $(tartand_alive "$n" && echo yes || echo no)"
	fi
	subnet[$n]=$(tstatus "$n" subnet 2>/dev/null || true)
	[[ ${subnet[$n]} =~ $3 ]] || tap_bail "$n has no subnet (status subnet '${subnet[$n]}')"
}

# bridge_ready NODE: tartand put <subnet>.1/24 on cni0 (add_pod reads it)
bridge_ready()
{
	[[ $(netns_exec "$1" ip -4 -o addr show dev cni0 | awk '{ print $4 }') == \
		"$(gw_of "${subnet[$1]}")" ]]
}

add_pod_ready()
{
	local n=$1
	wait_until 10 bridge_ready "$n" || tap_bail "$n: cni0 never got $(gw_of "${subnet[$n]}")" \
		"($(netns_exec "$n" ip -4 -o addr 2>&1 | tr '\n' ' '))"
	add_pod "$n" 0 || tap_bail "could not make a pod in $n"
}

stop_nodes()
{
	local n
	for n in "$@"; do
		tap_is "$(tlog_errors "$n")" "" "$n: no error in the log" || true
		tap_check "$n: tartand still runs" tartand_alive "$n" || true
		tartand_stop "$n" TERM || true
		tap_is "$TARTAND_RC" 0 "$n: tartand exits 0 on SIGTERM" || true
	done
}

# =============================================================================================
# Part A: host-gw

for n in a1 a2; do
	netns_node "$n" "${ip[$n]}/24" || tap_bail "could not make node namespace $n"
	netns_exec "$n" sysctl -qw net.ipv4.ip_forward=1 || tap_bail "could not enable forwarding in $n"
done
f_node_setup af

tap_check "A: host-gw config put under $HOSTGW_PREFIX" \
	ectl put "$HOSTGW_PREFIX/config" "$HOSTGW_CONFIG" || tap_bail "no config"
F_HOSTGW_VALUE="{\"PublicIP\":\"${ip[af]}\",\"PublicIPv6\":null,\"BackendType\":\"host-gw\"}"
tap_check "af: flanneld-style lease $(subnet_key "$F_HOSTGW_SUBNET") put on a 24 h etcd lease" \
	f_lease_put af "$F_HOSTGW_VALUE" || tap_bail "no lease for F"
tap_check "af: cni0 made with $(gw_of "$F_HOSTGW_SUBNET"), MTU 1500" f_bridge af 1500 ||
	tap_bail "no bridge in F"

for n in a1 a2; do
	start_node "$n"
done
for n in a1 a2; do
	running_with_peers "$n" 2 '^10\.5\.[0-9]+\.0/24$'
done
tap_diag "A: a1 ${subnet[a1]}, a2 ${subnet[a2]}, af ${subnet[af]}"

# F reads the leases as flanneld does and routes to every host-gw one but its own
for n in a1 a2; do
	tap_is "$(key_value "$(subnet_key "${subnet[$n]}" "$HOSTGW_PREFIX")" 2>&1 || true)" \
		"{\"PublicIP\":\"${ip[$n]}\",\"PublicIPv6\":null,\"BackendType\":\"host-gw\"}" \
		"$n: its lease value is flanneld's host-gw value, byte for byte" || true
	tap_is "$(f_lease_of "$HOSTGW_PREFIX" "${subnet[$n]}" 2>&1)" \
		"${subnet[$n]} ${ip[$n]} host-gw - - -" \
		"af: flanneld's reading of $n's lease: host-gw, PublicIP ${ip[$n]}, no BackendData" ||
		true
done
f_hostgw_routes()
{
	local sub pub type rest
	while read -r sub pub type rest; do
		[[ $sub != "$F_HOSTGW_SUBNET" && $type == host-gw ]] || continue
		netns_exec af ip route replace "$sub" via "$pub" dev eth0 || return 1
	done < <(f_leases "$HOSTGW_PREFIX")
}
tap_check "af: routes to the host-gw leases in etcd, via their PublicIP on eth0" f_hostgw_routes ||
	tap_bail "F has no routes"
tap_is "$(netns_exec af ip -4 route show dev eth0 | grep via | sed 's/ *$//' | sort)" \
	"$(printf '%s via %s\n' "${subnet[a1]}" "${ip[a1]}" "${subnet[a2]}" "${ip[a2]}" | sort)" \
	"af: routes to a1 and a2 in place" || true

for n in a1 a2; do
	[[ $n == a1 ]] && m=a2 || m=a1
	want=$(printf '%s via %s dev eth0\n' "${subnet[$m]}" "${ip[$m]}" \
		"$F_HOSTGW_SUBNET" "${ip[af]}" | sort)
	wait_lines "$n: ip route show proto 84 is exactly $m's ${subnet[$m]} and F's \
$F_HOSTGW_SUBNET, via their public IPs on eth0" 10 "$want" routes84 "$n"
done

add_pod_ready a1
add_pod_ready a2
add_pod af 0 || tap_bail "could not make a pod in af"
ping_matrix a1p0 a2p0 afp0

stop_nodes a1 a2

# =============================================================================================
# Part B: vxlan

for n in b1 b2; do
	netns_node "$n" "${ip[$n]}/24" || tap_bail "could not make node namespace $n"
	netns_exec "$n" sysctl -qw net.ipv4.ip_forward=1 || tap_bail "could not enable forwarding in $n"
done
f_node_setup bf
eth0_mtu=$(link_mtu bf eth0)
vx_mtu=$((eth0_mtu - 50))

tap_check "B: vxlan config put under $VXLAN_PREFIX" \
	ectl put "$VXLAN_PREFIX/config" "$VXLAN_CONFIG" || tap_bail "no config"

# flanneld's device: vxlan id VNI, local = public IP, dev = ext iface, port, no learning;
# then its MAC (flanneld picks a random locally administered one; fixed here), MTU, the
# subnet's network address /32, up
f_vtep()
{
	netns_exec bf ip link add flannel.1 type vxlan id 1 local "${ip[bf]}" dev eth0 \
		dstport "$VXLAN_PORT" nolearning &&
		netns_exec bf ip link set flannel.1 address "$F_VTEP_MAC" &&
		netns_exec bf ip link set flannel.1 mtu "$vx_mtu" &&
		netns_exec bf ip addr add "$(net_of "$F_VXLAN_SUBNET")/32" dev flannel.1 &&
		netns_exec bf ip link set flannel.1 up
}
tap_check "bf: flannel.1 made as flanneld makes it (VNI 1, port $VXLAN_PORT, MAC $F_VTEP_MAC, \
MTU $vx_mtu, $(net_of "$F_VXLAN_SUBNET")/32)" f_vtep || tap_bail "no vxlan device in F"
F_VXLAN_VALUE="{\"PublicIP\":\"${ip[bf]}\",\"PublicIPv6\":null,\"BackendType\":\"vxlan\",\
\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"$F_VTEP_MAC\"}}"
tap_check "bf: flanneld-style lease $(subnet_key "$F_VXLAN_SUBNET" "$VXLAN_PREFIX") put on a \
24 h etcd lease" f_lease_put bf "$F_VXLAN_VALUE" || tap_bail "no lease for F"
tap_check "bf: cni0 made with $(gw_of "$F_VXLAN_SUBNET"), MTU $vx_mtu" f_bridge bf "$vx_mtu" ||
	tap_bail "no bridge in F"

for n in b1 b2; do
	start_node "$n"
done
for n in b1 b2; do
	running_with_peers "$n" 2 '^10\.6\.[0-9]+\.0/24$'
done
tap_diag "B: b1 ${subnet[b1]}, b2 ${subnet[b2]}, bf ${subnet[bf]}"

# what F reads: each tartand node's VTEP
for n in b1 b2; do
	line=$(f_lease_of "$VXLAN_PREFIX" "${subnet[$n]}" 2>&1 || true)
	read -r _ _ _ _ vtep_mac[$n] _ <<<"$line"
	re="^${subnet[$n]//./\\.} ${ip[$n]//./\\.} vxlan 1 ([0-9a-f]{2}:){5}[0-9a-f]{2} "
	if [[ $line =~ $re ]]; then
		tap_ok "bf: flanneld's reading of $n's lease: vxlan, PublicIP ${ip[$n]}, VNI 1, \
VtepMAC ${vtep_mac[$n]}"
	else
		tap_fail "bf: flanneld's reading of $n's lease: vxlan, PublicIP ${ip[$n]}, VNI 1, a MAC" \
			"saw: $line" "all: $(f_leases "$VXLAN_PREFIX" 2>&1)"
	fi
	tap_is "$(key_value "$(subnet_key "${subnet[$n]}" "$VXLAN_PREFIX")" 2>&1 || true)" \
		"{\"PublicIP\":\"${ip[$n]}\",\"PublicIPv6\":null,\"BackendType\":\"vxlan\",\
\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"${vtep_mac[$n]}\"}}" \
		"$n: its lease value is flanneld's vxlan value, byte for byte" || true
	tap_is "$(netns_exec "$n" cat /sys/class/net/flannel.1/address 2>&1)" "${vtep_mac[$n]}" \
		"$n: the VtepMAC of its lease is the MAC of its flannel.1" || true
	dev=$(netns_exec "$n" ip -d -o link show dev flannel.1 2>&1 || true)
	tap_like "$dev" " mtu $vx_mtu " "$n: flannel.1's MTU is eth0's - 50, $vx_mtu" || true
	tap_like "$dev" "<([A-Z_-]+,)*UP[,>]" "$n: flannel.1 is up" || true
	tap_like "$dev" \
		"vxlan id 1 local ${ip[$n]//./\\.} dev eth0 .*dstport $VXLAN_PORT nolearning " \
		"$n: flannel.1 is vxlan id 1, local ${ip[$n]}, dev eth0, dstport $VXLAN_PORT, nolearning" ||
		true
	wait_lines "$n: flannel.1 holds exactly $(net_of "${subnet[$n]}")/32" 10 \
		"$(net_of "${subnet[$n]}")/32" vtep_addrs "$n"
done

# F adds, per vxlan peer, what flanneld adds, in its order: neighbour, FDB, route
f_vxlan_peers()
{
	local sub pub type mac rest
	while read -r sub pub type _ mac rest; do
		[[ $sub != "$F_VXLAN_SUBNET" && $type == vxlan ]] || continue
		netns_exec bf ip neigh replace "$(net_of "$sub")" lladdr "$mac" dev flannel.1 \
			nud permanent || return 1
		netns_exec bf bridge fdb replace "$mac" dev flannel.1 dst "$pub" self permanent ||
			return 1
		netns_exec bf ip route replace "$sub" via "$(net_of "$sub")" dev flannel.1 onlink ||
			return 1
	done < <(f_leases "$VXLAN_PREFIX")
}
tap_check "bf: neighbour, FDB entry and onlink route for each vxlan lease in etcd" f_vxlan_peers ||
	tap_bail "F has no vxlan entries"

# in each tartand node: exactly F's and the other node's entries
for n in b1 b2; do
	[[ $n == b1 ]] && m=b2 || m=b1
	want=$(for p in "$m" bf; do
		printf '%s lladdr %s PERMANENT\n' "$(net_of "${subnet[$p]}")" "${vtep_mac[$p]}"
	done | sort)
	wait_lines "$n: flannel.1's neighbours are exactly F's and $m's VTEPs, permanent" 10 \
		"$want" netns_exec "$n" ip -4 neigh show dev flannel.1
	want=$(for p in "$m" bf; do
		printf '%s dst %s self permanent\n' "${vtep_mac[$p]}" "${ip[$p]}"
	done | sort)
	wait_lines "$n: flannel.1's FDB is exactly F's and $m's VTEPs -> public IPs, permanent" \
		10 "$want" netns_exec "$n" bridge fdb show dev flannel.1
	want=$(for p in "$m" bf; do
		printf '%s via %s dev flannel.1 onlink\n' "${subnet[$p]}" "$(net_of "${subnet[$p]}")"
	done | sort)
	wait_lines "$n: ip route show proto 84 is exactly F's $F_VXLAN_SUBNET and $m's \
${subnet[$m]}, via <subnet>.0 dev flannel.1 onlink" 10 "$want" routes84 "$n"
done

f_counter()
{
	netns_exec bf cat "/sys/class/net/flannel.1/statistics/$1"
}
rx0=$(f_counter rx_packets)
tx0=$(f_counter tx_packets)

add_pod_ready b1
add_pod_ready b2
add_pod bf 0 || tap_bail "could not make a pod in bf"
tap_diag "B: cni0 MTU b1 $(link_mtu b1 cni0), b2 $(link_mtu b2 cni0), bf $(link_mtu bf cni0)"
ping_matrix b1p0 b2p0 bfp0

# a full-size packet of the vxlan MTU, DF set, between a tartand pod and F's pod
big_ping()
{
	ip netns exec "${pod_ns[$1]}" ping -c 1 -W 1 -M "do" -s $((vx_mtu - 28)) "$2"
}
for pair in "b1p0 bfp0" "bfp0 b1p0"; do
	read -r a b <<<"$pair"
	if wait_until 5 big_ping "$a" "${pod_ip[$b]}"; then
		tap_ok "pod $a pings pod $b with $vx_mtu-byte packets, DF set"
	else
		tap_fail "pod $a pings pod $b with $vx_mtu-byte packets, DF set" \
			"$(big_ping "$a" "${pod_ip[$b]}" 2>&1)"
	fi
done

rx1=$(f_counter rx_packets)
tx1=$(f_counter tx_packets)
tap_like "$((rx1 - rx0)) $((tx1 - tx0))" '^[1-9][0-9]* [1-9][0-9]*$' \
	"bf: flannel.1 received and sent packets during the pings (rx +$((rx1 - rx0)), \
tx +$((tx1 - tx0)))" || true

stop_nodes b1 b2

tap_done
