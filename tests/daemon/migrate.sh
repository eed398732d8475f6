#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# functions run through on_exit, wait_until and tap_check look unreachable to shellcheck:
# shellcheck disable=SC2317
#
# tests/daemon/migrate.sh: a node left by flanneld is taken over by tartand with the same
# subnet, and no pod loses its address or its traffic (TAP; root). Real etcd, real kernel,
# Debian's bridge + host-local (/usr/lib/cni, containernetworking-plugins) and the tartan
# plugin (TARTAN_CNI) run as a runtime runs them.
#
# Each part has two nodes on one underlay: m1, set up as flanneld (etcd mode) and flannel's
# CNI plugin leave a node, with no daemon running; m2, a tartand node of the same network.
# m1's state, exactly as flanneld leaves it:
#  - its lease, written with etcdctl as flanneld writes it: an etcd lease of 24 h, the key
#    <prefix>/subnets/10.X.77.0-24 put with it, the value byte for byte flanneld's JSON;
#  - subnet.env, byte for byte as flanneld writes it, at the path tartand gets as
#    --subnet-file;
#  - the routes to m2's subnet as flanneld's backend makes them (host-gw: via m2's public IP
#    on eth0; vxlan: flannel.1 -- vxlan id 1, local <m1>, dev eth0, dstport 8472, nolearning,
#    a fixed MAC, MTU 1450, <subnet>.0/32 -- with m2's neighbour, FDB entry and onlink route);
#  - two pods attached by Debian's bridge plugin with host-local, the conf named "cbr0" as
#    kube-flannel's conflist makes it (bridge cni0, isGateway, isDefaultGateway, the MTU of
#    subnet.env, ranges [[{subnet}]], routes to the network), host-local's dataDir
#    $TARTAN_WORK/<m1>/cni-networks (so its store is .../cni-networks/cbr0); the bridge plugin
#    made cni0 with <subnet>.1/24.
# m2 runs tartand with a pod on its cni0 (tests/lib/pods.sh's add_pod).
#
# Part A: host-gw ({"Network":"10.5.0.0/16","Backend":{"Type":"host-gw"}}), m1 holding
# 10.5.77.0/24. Part B: vxlan ({"Network":"10.6.0.0/16","Backend":{"Type":"vxlan"}}, its own
# prefix), m1 holding 10.6.77.0/24 with VtepMAC 0e:00:00:00:00:41.
#
# Asserts, in each part:
# - before: m2 runs with 1 peer; m1's two pods ping m2's pod and back;
# - tartand is started on m1 with the same public IP, --subnet-file at flanneld's subnet.env
#   and --cni-data-dir at host-local's dataDir; right after the start, and again once it runs
#   and a few seconds later, m1's pods ping m2's pod and back;
# - it holds the SAME subnet under the same key; the key's value is flanneld's byte for byte
#   (host-gw: {"PublicIP":..,"PublicIPv6":null,"BackendType":"host-gw"}; vxlan: with
#   BackendData {"VNI":1,"VtepMAC":<flannel's MAC>}); subnet.env is flanneld's byte for byte;
# - cni0 holds exactly <subnet>.1/24 and keeps the MAC the bridge plugin gave it (the
#   gateway's MAC in the old pods' ARP caches); the old pods' eth0 still hold their addresses and are
#   still ports of cni0; host-local's files for them are untouched;
# - vxlan: flannel.1 keeps flannel's MAC, and m2's neighbour and FDB entries for m1 (written
#   by m2's tartand from the lease) still name that MAC;
# - three new pods through the tartan plugin (the conflist tartand wrote) get addresses of
#   the subnet, all distinct and none of the old pods' (tartan's store does not know
#   host-local's cbr0 store: --cni-data-dir is what keeps them apart), and ping m2's pod;
# - no error line in the daemons' logs; SIGTERM ends them with exit status 0.
#
# Everything lives in namespaces made here (nodes, underlay, pods), deleted at exit, also on
# failure.

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
# shellcheck source=tests/lib/cni-plugin.sh
. "$here/../lib/cni-plugin.sh"

VXLAN_PORT=8472

declare -A ip=([a1]=192.0.2.41 [a2]=192.0.2.42 [b1]=192.0.2.43 [b2]=192.0.2.44)
declare -A prefix=([a1]=$FLANNEL_PREFIX [a2]=$FLANNEL_PREFIX
	[b1]=/tartan-migrate/network [b2]=/tartan-migrate/network)
declare -A subnet=([a1]=10.5.77.0/24 [b1]=10.6.77.0/24)
declare -A network=([a1]=10.5.0.0/16 [b1]=10.6.0.0/16)
declare -A mtu=([a1]=1500 [b1]=1450)
declare -A backend=([a1]=host-gw [a2]=host-gw [b1]=vxlan [b2]=vxlan)
declare -A f_mac=([b1]=0e:00:00:00:00:41)

cni_plugin_setup bridge host-local

# ---------------------------------------------------------------------------------------------
# Helpers (the plugins' and the pods' are tests/lib/cni-plugin.sh's)

gw_of()
{
	printf '%s.1/24\n' "${1%.0/24}"
}

# tartan_conf NODE OUT: the first plugin of the conflist tartand wrote, as libcni passes it
tartan_conf()
{
	"$PYTHON3" -c 'import json, sys
lst = json.load(open(sys.argv[1]))
p = dict(lst["plugins"][0])
p.pop("capabilities", None)
p["cniVersion"] = lst["cniVersion"]
p["name"] = lst["name"]
json.dump(p, open(sys.argv[2], "w"))' "$TARTAN_WORK/$1/net.d/10-tartan.conflist" "$2"
}

# f_lease_put NODE VALUE: flanneld's lease: an etcd lease of 24 h, the key put with it
f_lease_put()
{
	local n=$1 id
	id=$(ectl lease grant 86400 | awk '/granted/ { print $2 }')
	[[ -n $id ]] || return 1
	ectl put --lease="$id" "$(subnet_key "${subnet[$n]}" "${prefix[$n]}")" "$2" >/dev/null
}

# f_value NODE: flanneld's lease value for NODE
f_value()
{
	local n=$1
	if [[ ${backend[$n]} == vxlan ]]; then
		printf '{"PublicIP":"%s","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"%s"}}' \
			"${ip[$n]}" "${f_mac[$n]}"
	else
		printf '{"PublicIP":"%s","PublicIPv6":null,"BackendType":"host-gw"}' "${ip[$n]}"
	fi
}

# f_vtep NODE: flannel.1 as flanneld makes it
f_vtep()
{
	local n=$1
	netns_exec "$n" ip link add flannel.1 address "${f_mac[$n]}" mtu "${mtu[$n]}" type vxlan \
		id 1 local "${ip[$n]}" dev eth0 dstport "$VXLAN_PORT" nolearning &&
		netns_exec "$n" ip addr add "${subnet[$n]%/24}/32" dev flannel.1 &&
		netns_exec "$n" ip link set flannel.1 up
}

# f_route NODE PEER: flanneld's route (and vxlan entries) for PEER's lease
f_route()
{
	local n=$1 peer=$2 psub=${subnet[$2]} pmac
	if [[ ${backend[$n]} == vxlan ]]; then
		pmac=$(jget "$(key_value "$(subnet_key "$psub" "${prefix[$n]}")")" \
			'd["BackendData"]["VtepMAC"]') || return 1
		netns_exec "$n" ip neigh replace "${psub%/24}" lladdr "$pmac" dev flannel.1 \
			nud permanent &&
			netns_exec "$n" bridge fdb replace "$pmac" dev flannel.1 dst "${ip[$peer]}" \
				self permanent &&
			netns_exec "$n" ip route replace "$psub" via "${psub%/24}" dev flannel.1 onlink
	else
		netns_exec "$n" ip route replace "$psub" via "${ip[$peer]}" dev eth0
	fi
}

# f_cbr0 NODE OUT: the conf kube-flannel's CNI plugin hands to bridge + host-local
f_cbr0()
{
	local n=$1
	cat >"$2" <<EOF
{"cniVersion":"0.3.1","name":"cbr0","type":"bridge","bridge":"cni0","mtu":${mtu[$n]},
 "isGateway":true,"isDefaultGateway":true,"ipMasq":false,"hairpinMode":true,
 "ipam":{"type":"host-local","dataDir":"$TARTAN_WORK/$n/cni-networks",
  "ranges":[[{"subnet":"${subnet[$n]}"}]],"routes":[{"dst":"${network[$n]}"}]}}
EOF
}

# both_ping A B: pod A pings pod B and back
both_ping()
{
	pod_ping "$1" "${pod_ip[$2]}" >/dev/null 2>&1 && pod_ping "$2" "${pod_ip[$1]}" >/dev/null 2>&1
}

# pings WHEN LIMIT PEER PODS...: TAP: each pod and PEER ping each other within LIMIT s
pings()
{
	local when=$1 limit=$2 peer=$3 p
	shift 3
	for p in "$@"; do
		if wait_until "$limit" both_ping "$p" "$peer"; then
			tap_ok "$when: pod $p (${pod_ip[$p]}) and pod $peer (${pod_ip[$peer]}) ping each other"
		else
			tap_fail "$when: pod $p (${pod_ip[$p]}) and pod $peer (${pod_ip[$peer]}) ping each other" \
				"$(pod_ping "$p" "${pod_ip[$peer]}" 2>&1 | tail -2)" \
				"routes in ${pod_node[$p]}: $(netns_exec "${pod_node[$p]}" ip -4 route 2>&1)"
		fi
	done
}

# pod_addr POD: the IPv4 address/len of the pod's eth0
pod_addr()
{
	ip -n "${pod_ns[$1]}" -4 -o addr show dev eth0 | awk '{ print $4 }'
}

cni0_addrs()
{
	netns_exec "$1" ip -4 -o addr show dev cni0 | awk '{ print $4 }'
}

# bridge_ready NODE: tartand put <subnet>.1/24 on NODE's cni0 (add_pod reads it)
bridge_ready()
{
	[[ $(cni0_addrs "$1") == "$(gw_of "${subnet[$1]}")" ]]
}

link_mac()
{
	netns_exec "$1" cat "/sys/class/net/$2/address"
}

# ---------------------------------------------------------------------------------------------
# One part: PART BACKEND_CONFIG (nodes PART1 flanneld-style, PART2 tartand)

part()
{
	local P=$1 config=$2 m1=${1}1 m2=${1}2 k p out conf store new_pods=() addrs=() a
	local -A before=() filetext=()
	local PFX=${prefix[${1}1]}

	tap_diag "part $P: ${backend[$m1]}"
	for n in "$m1" "$m2"; do
		netns_node "$n" "${ip[$n]}/24" || tap_bail "could not make node namespace $n"
		netns_exec "$n" sysctl -qw net.ipv4.ip_forward=1 ||
			tap_bail "could not enable forwarding in $n"
	done
	tap_check "$P: config put under $PFX" ectl put "$PFX/config" "$config" || tap_bail "no config"

	# m1 as flanneld leaves it
	mkdir -p "$TARTAN_WORK/$m1"
	tap_check "$m1: flanneld's lease $(subnet_key "${subnet[$m1]}" "$PFX") on a 24 h etcd lease" \
		f_lease_put "$m1" "$(f_value "$m1")" || tap_bail "no lease for $m1"
	subnet_env_text "${network[$m1]}" "${subnet[$m1]}" "${mtu[$m1]}" \
		>"$TARTAN_WORK/$m1/subnet.env"
	if [[ ${backend[$m1]} == vxlan ]]; then
		tap_check "$m1: flannel.1 made as flanneld makes it, MAC ${f_mac[$m1]}" f_vtep "$m1" ||
			tap_bail "no flannel.1 in $m1"
	fi

	# m2: tartand
	tartand_start "$m2" --prefix "$PFX" -- --resync-interval 1 ||
		tap_bail "could not start tartand in $m2"
	if wait_until 20 tstatus_is "$m2" peers 1 && tstatus_is "$m2" state running; then
		tap_ok "$m2: tartand runs with 1 peer ($m1's lease)"
	else
		tap_fail "$m2: tartand runs with 1 peer" "saw: $(tstatus "$m2" 2>&1)"
	fi
	subnet[$m2]=$(tstatus "$m2" subnet 2>/dev/null || true)
	[[ ${subnet[$m2]} =~ ^10\.[56]\.[0-9]+\.0/24$ ]] || tap_bail "$m2 has no subnet"
	wait_until 10 bridge_ready "$m2" ||
		tap_bail "$m2: cni0 never got $(gw_of "${subnet[$m2]}")"
	add_pod "$m2" 0 || tap_bail "could not make a pod in $m2"
	tap_check "$m1: flanneld's route to $m2's subnet ${subnet[$m2]}" f_route "$m1" "$m2" ||
		tap_bail "no route in $m1"

	# m1's pods, through bridge + host-local as flannel's CNI plugin runs them
	conf=$T/$P-cbr0.conf
	f_cbr0 "$m1" "$conf"
	store=$TARTAN_WORK/$m1/cni-networks/cbr0
	for k in 0 1; do
		p=${m1}o$k
		mkpod "$p" "$m1"
		out=$T/$p.add
		run_plugin "$CNI_BIN/bridge" "$CNI_BIN" ADD "$p" "$conf" "$out"
		if ((RC != 0)); then
			tap_bail "$p: bridge ADD failed ($RC): $(cat "$out" "$out.err")"
		fi
		a=$(jval "$out" 'd["ips"][0]["address"]')
		pod_ip[$p]=${a%/*}
		pods+=("$p")
		before[$p]=$a
		filetext[$p]=$(cat "$store/${pod_ip[$p]}")
		tap_ok "$p: attached by bridge + host-local (cbr0): ${before[$p]}"
	done
	tap_is "$(cni0_addrs "$m1")" "$(gw_of "${subnet[$m1]}")" \
		"$m1: the bridge plugin made cni0 with $(gw_of "${subnet[$m1]}")" || true
	pings "before the takeover" 5 "${m2}p0" "${m1}o0" "${m1}o1"
	local br_mac
	br_mac=$(link_mac "$m1" cni0)
	tap_diag "$m1: cni0's MAC $br_mac (addr_assign_type $(netns_exec "$m1" cat /sys/class/net/cni0/addr_assign_type))"

	# the takeover
	local f_lease
	f_lease=$(key_lease "$(subnet_key "${subnet[$m1]}" "$PFX")")
	tartand_start "$m1" --prefix "$PFX" -- --resync-interval 1 \
		--cni-data-dir "$TARTAN_WORK/$m1/cni-networks" || tap_bail "could not start tartand in $m1"
	pings "right after tartand's start" 5 "${m2}p0" "${m1}o0" "${m1}o1"
	if wait_until 20 tstatus_is "$m1" peers 1 && tstatus_is "$m1" state running; then
		tap_ok "$m1: tartand runs with 1 peer"
	else
		tap_fail "$m1: tartand runs with 1 peer" "saw: $(tstatus "$m1" 2>&1)"
	fi
	tap_is "$(tstatus "$m1" subnet 2>&1)" "${subnet[$m1]}" \
		"$m1: tartand holds flanneld's subnet ${subnet[$m1]}" || true
	tap_is "$(ectl get --prefix "$PFX/subnets/" --keys-only | grep -c . || true)" 2 \
		"$P: still exactly two leases in etcd" || true
	tap_is "$(key_value "$(subnet_key "${subnet[$m1]}" "$PFX")" 2>&1)" "$(f_value "$m1")" \
		"$m1: the lease's value is flanneld's, byte for byte" || true
	tap_diag "$m1: etcd lease before $f_lease, now $(key_lease "$(subnet_key "${subnet[$m1]}" "$PFX")")"
	tap_is "$(cat "$TARTAN_WORK/$m1/subnet.env")" \
		"$(subnet_env_text "${network[$m1]}" "${subnet[$m1]}" "${mtu[$m1]}")" \
		"$m1: subnet.env is flanneld's, byte for byte" || true
	pings "once tartand runs" 5 "${m2}p0" "${m1}o0" "${m1}o1"
	sleep 3
	pings "3 s later" 5 "${m2}p0" "${m1}o0" "${m1}o1"
	tap_is "$(cni0_addrs "$m1")" "$(gw_of "${subnet[$m1]}")" \
		"$m1: cni0 holds exactly $(gw_of "${subnet[$m1]}")" || true
	tap_is "$(link_mac "$m1" cni0)" "$br_mac" \
		"$m1: cni0 keeps its MAC $br_mac (the gateway's MAC in the old pods' ARP caches)" ||
		true
	for k in 0 1; do
		p=${m1}o$k
		tap_is "$(pod_addr "$p")" "${before[$p]}" "$p: eth0 still holds ${before[$p]}" || true
		tap_is "$(cat "$store/${pod_ip[$p]}" 2>&1)" "${filetext[$p]}" \
			"$p: host-local's file $store/${pod_ip[$p]} untouched" || true
	done
	tap_is "$(netns_exec "$m1" ip -o link show master cni0 | grep -c . || true)" 2 \
		"$m1: the two old pods' veths are still ports of cni0" || true
	if [[ ${backend[$m1]} == vxlan ]]; then
		tap_is "$(link_mac "$m1" flannel.1)" "${f_mac[$m1]}" \
			"$m1: flannel.1 keeps flanneld's MAC ${f_mac[$m1]}" || true
		tap_like "$(netns_exec "$m2" ip neigh show dev flannel.1 "${subnet[$m1]%/24}")" \
			"lladdr ${f_mac[$m1]} PERMANENT" \
			"$m2: its neighbour for $m1 still names ${f_mac[$m1]}" || true
		tap_like "$(netns_exec "$m2" bridge fdb show dev flannel.1 | grep "^${f_mac[$m1]} " || true)" \
			"dst ${ip[$m1]}" "$m2: its FDB entry for ${f_mac[$m1]} still goes to ${ip[$m1]}" ||
			true
	fi

	# new pods through tartan: never the old pods' addresses
	tartan_conf "$m1" "$T/$P-tartan.conf"
	for k in 0 1 2; do
		p=${m1}t$k
		mkpod "$p" "$m1"
		out=$T/$p.add
		run_plugin "$TARTAN_CNI" "$TARTAN_CNI_PATH" ADD "$p" "$T/$P-tartan.conf" "$out"
		if ((RC != 0)); then
			tap_fail "$p: ADD through the tartan plugin" "exit $RC: $(cat "$out" "$out.err")"
			continue
		fi
		a=$(jval "$out" 'd["ips"][0]["address"]')
		pod_ip[$p]=${a%/*}
		pods+=("$p")
		new_pods+=("$p")
		addrs+=("${pod_ip[$p]}")
		if in_net "$a" "${subnet[$m1]}" && [[ ${pod_ip[$p]} != "${pod_ip[${m1}o0]}" &&
			${pod_ip[$p]} != "${pod_ip[${m1}o1]}" ]]; then
			tap_ok "$p: tartan gave $a, in ${subnet[$m1]}, not an old pod's"
		else
			tap_fail "$p: tartan gave $a, in ${subnet[$m1]}, not an old pod's" \
				"old pods: ${pod_ip[${m1}o0]} ${pod_ip[${m1}o1]}"
		fi
	done
	tap_is "$(printf '%s\n' "${addrs[@]}" "${pod_ip[${m1}o0]}" "${pod_ip[${m1}o1]}" | sort -u |
		grep -c .)" 5 "$m1: the five pods' addresses are distinct" || true
	pings "new tartan pod" 5 "${m2}p0" "${new_pods[@]}"
	pings "old pods after the new ones" 5 "${m2}p0" "${m1}o0" "${m1}o1"

	for n in "$m1" "$m2"; do
		tap_is "$(tlog_errors "$n")" "" "$n: no error in the log" || true
		tap_check "$n: tartand still runs" tartand_alive "$n" || true
		tartand_stop "$n" TERM || true
		tap_is "$TARTAND_RC" 0 "$n: tartand exits 0 on SIGTERM" || true
	done
}

part a '{"Network":"10.5.0.0/16","Backend":{"Type":"host-gw"}}'
part b '{"Network":"10.6.0.0/16","Backend":{"Type":"vxlan"}}'

tap_done
