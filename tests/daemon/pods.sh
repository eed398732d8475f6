#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# functions run through on_exit, wait_until and tap_check look unreachable to shellcheck:
# shellcheck disable=SC2317
#
# tests/daemon/pods.sh: pods attached by the tartan CNI plugin (served by tartand) and by
# Debian's reference plugins with the confs tartand writes, on three host-gw nodes
# ({"Network":"10.5.0.0/16","Backend":{"Type":"host-gw"}}) in network namespaces, against a
# real etcd (TAP; root). The plugin binary comes in as TARTAN_CNI, Debian's plugins from
# /usr/lib/cni (containernetworking-plugins 1.1.1).
#
# Every plugin runs exactly as a runtime runs it: inside the node's namespace, env -i with
# only PATH, CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS=/var/run/netns/<pod namespace>,
# CNI_IFNAME=eth0, CNI_PATH and CNI_ARGS (IgnoreUnknown=1;K8S_POD_NAMESPACE=..;K8S_POD_NAME=..,
# as kubelet passes it), and its conf on stdin: from the conflist tartand wrote, each plugin
# gets its own object with the list's name and cniVersion added, capabilities dropped,
# runtimeConfig holding the capability arguments it declares (portMappings for portmap),
# and prevResult for chained plugins, CHECK and DEL (0.4.0 and later), as libcni does; the
# rkt conf (a single-plugin .conf) is passed as written.
#
# Asserts:
# - each node runs with 2 peers and wrote <cni-conf-dir>/10-tartan.conflist (the tartan
#   plugin with the node's socket, then portmap with capabilities portMappings, at a
#   cniVersion Debian's portmap supports) and <rkt-net-dir>/10-rkt.kubernetes.io.conf
#   (cniVersion 0.3.1, bridge cni0 with the node's MTU -- n2 has 1400, so it is read --,
#   host-local on the node's subnet, gateway .1, dataDir <state-dir>/networks);
# - for each cniVersion 0.3.1, 0.4.0, 1.0.0 and 1.1.0 (the conflist's cniVersion rewritten),
#   on n1: ADD prints a result of that version (ips[] with "version":"4" for 0.3.1 and 0.4.0,
#   without it after), the gateway .1, a default route via .1 and eth0 in the pod's
#   namespace; the pod's eth0 holds the address (in n1's subnet, not .1), has cni0's MTU and
#   a default route via .1 (any route protocol: tartand's is boot); the host end is a port of
#   cni0; the IPAM file <ip> holds "<id>\r\neth0"; the same ADD repeated without a DEL
#   succeeds with the same address, leaving one host end and one address file (the same
#   checks pass again); CHECK with the ADD result as prevResult
#   succeeds (0.4.0 and later; for 0.3.1 it is refused with code 1, as the spec says), fails
#   with code 3 and a message naming the route once the pod's default route is deleted, and
#   succeeds again once it is back; DEL
#   succeeds, prints nothing, and removes the pod's eth0, the host end and the IPAM file;
#   DEL again succeeds; a second pod's DEL without CNI_NETNS succeeds and removes the same;
#   afterwards cni0 has no port and the store no address file. STATUS (1.1.0) succeeds,
#   printing nothing; VERSION answers each asked version with supportedVersions
#   ["0.3.1","0.4.0","1.0.0","1.1.0"].
# - a runtime in a private mount namespace (unshare -m --propagation private) where the pod's
#   namespace is bind-mounted on a tmpfs only it sees: ADD (the pod's eth0 gets the result's
#   address), CHECK and DEL through that path succeed, since the plugin passes the namespace
#   as an fd; n1's log has one info line per request ("pod ADD ctr-m1 tartan-test/m1 eth0
#   <addr> ok <ms> ms", CHECK, DEL, STATUS) and the netlink steps at debug; 15 rounds of
#   ADD, CHECK and DEL, clients that send an fd with half a line and hang up, and lines with
#   two fds (refused with a message) leave no namespace fd open in tartand; a client that
#   sends no "netnsFd" (an older plugin) gets the path opened by tartand (ADD, DEL succeed).
# - GC (1.1.0) with cni.dev/valid-attachments naming two of three pods releases exactly the
#   third: its IPAM file and veth are gone, the others' stay and pass CHECK.
# - input errors through the plugin, each with the spec's code, exit 1 and an error object
#   on stdout, and nothing half-created (n1's links, the pod's links and the store unchanged):
#   bad JSON (6), unsupported cniVersion (1), missing CNI_CONTAINERID (4), a container id with
#   '/' (4), CNI_IFNAME of 16 bytes (4) or with '/' (4), CNI_NETNS a regular file (4) or a
#   path that does not exist (3); the refused ADD is logged at warning with its code and
#   message.
# - pods attached through the conflist's tartan plugin (its cniVersion as written) on each
#   node ping each other across the nodes; on n1 the chain goes on with Debian's portmap
#   (prevResult = tartan's result, runtimeConfig.portMappings
#   [{hostPort:30080,containerPort:8080,protocol:tcp}]): a TCP connection from the underlay's
#   namespace to n1's 192.0.2.11:30080 reaches a listener in the pod on 8080; DEL in reverse
#   order removes portmap's DNAT rule and the pod. portmap's CHECK is not run: Debian's 1.1.1
#   fails it for every IPv4-only pod (containernetworking/plugins#819); tartan's CHECK with
#   the chain's final result is.
# - the rkt conf as written, run with Debian's bridge + host-local (CNI_PATH=/usr/lib/cni):
#   three rkt pods and three tartan-plugin pods made alternately on n2 (which holds the
#   tartan-plugin pod t2 already) get addresses of n2's subnet, the seven all distinct, each
#   IPAM file naming its own container, the store holding exactly those seven; the rkt pods
#   (bridge's ipMasq on, as the conf says without --ip-masq) ping tartan-plugin pods on n1
#   and n3; a GC through n2's conflist listing its tartan pods but one releases that one
#   only: the rkt pods' addresses (host-local's, in the same store) stay.
# - subnet change of n3: its daemon stopped (SIGTERM), its lease key deleted, its old subnet
#   held by a placeholder lease put with etcdctl (PublicIP 192.0.2.99), its subnet.env
#   deleted, started again: it gets a new subnet, cni0 holds exactly the new .1/24, the rkt
#   conf holds the new subnet, the conflist is still there, the log reports the old
#   allocations of both kinds (tartan-plugin and host-local) released and their files are
#   gone; the old tartan pod's DEL succeeds; a new tartan-plugin pod and a new rkt pod get
#   addresses of the new subnet and ping pods on n1 and n2.
# - no error line in any daemon's log; SIGTERM ends each daemon with exit status 0.
#
# Everything lives in namespaces made here (nodes, underlay, pods), deleted at exit, also on
# failure; iptables rules (bridge's ipMasq, portmap) are only ever made inside the nodes.

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

P=$FLANNEL_PREFIX
HOSTGW_CONFIG='{"Network":"10.5.0.0/16","Backend":{"Type":"host-gw"}}'
VERSIONS=(0.3.1 0.4.0 1.0.0 1.1.0)
PLACEHOLDER_IP=192.0.2.99
PORTMAPS='{"portMappings":[{"hostPort":30080,"containerPort":8080,"protocol":"tcp"}]}'

declare -A ip=([n1]=192.0.2.11 [n2]=192.0.2.12 [n3]=192.0.2.13)
declare -A mtu=([n1]=1500 [n2]=1400 [n3]=1500)

netns_require
command -v iptables >/dev/null || tap_bail "iptables missing (bridge's ipMasq and portmap run it)"
cni_plugin_setup bridge host-local portmap

# ---------------------------------------------------------------------------------------------
# Helpers (the plugins' and the pods' are tests/lib/cni-plugin.sh's)

# list_version LIST VERSION OUT: LIST with its cniVersion rewritten to VERSION
list_version()
{
	"$PYTHON3" -c 'import json, sys
d = json.load(open(sys.argv[1]))
d["cniVersion"] = sys.argv[2]
json.dump(d, open(sys.argv[3], "w"), indent=2)' "$1" "$2" "$3"
}

# result_summary FILE: the parts of an ADD result every check looks at, in one line
result_summary()
{
	jval "$1" '"cniVersion=%s ips=%d version=%s gateway=%s routes=%s ifname=%s sandbox=%s" % (
	d.get("cniVersion"), len(d["ips"]), d["ips"][0].get("version", "-"), d["ips"][0].get("gateway"),
	",".join("%s>%s" % (r["dst"], r.get("gw", "-")) for r in d.get("routes", [])),
	d["interfaces"][d["ips"][0]["interface"]]["name"],
	d["interfaces"][d["ips"][0]["interface"]].get("sandbox"))'
}

# (iproute2 may say "Peer netns reference is invalid." on stderr for a veth: not an answer)
pod_mtu()
{
	ip -n "${pod_ns[$1]}" -o link show dev eth0 2>/dev/null | sed -n 's/.* mtu \([0-9]*\) .*/\1/p'
}

pod_default()
{
	ip -n "${pod_ns[$1]}" -4 route show default | sed 's/ *$//'
}

pod_has_eth0()
{
	ip -n "${pod_ns[$1]}" link show dev eth0 >/dev/null 2>&1
}

# ports NODE: the ports of cni0 in NODE, sorted, space-separated
ports()
{
	netns_exec "$1" ip -o link show master cni0 | awk -F': ' '{ print $2 }' | sed 's/@.*//' |
		sort | paste -sd ' '
}

# port_on NODE DEV: DEV exists in NODE and is a port of cni0
port_on()
{
	[[ $(netns_exec "$1" ip -o link show dev "$2" 2>/dev/null) == *" master cni0 "* ]]
}

# owner NODE ADDR: the exact content of NODE's IPAM file for ADDR, as a Python bytes literal
owner()
{
	"$PYTHON3" -c 'import sys; print(repr(open(sys.argv[1], "rb").read()))' "${store[$1]}/$2"
}

bridge_addrs()
{
	netns_exec "$1" ip -4 -o addr show dev cni0 | awk '{ print $4 }' | sort | paste -sd ' '
}

bridge_addrs_are()
{
	[[ $(bridge_addrs "$1" 2>/dev/null) == "$2" ]]
}

# check_pod POD RESULT WHAT: the pod's side and the store agree with an ADD result; sets
# pod_ip[POD]
check_pod()
{
	local pod=$1 res=$2 what=$3 node=${pod_node[$1]} addr host
	addr=$(jval "$res" 'd["ips"][0]["address"]' 2>/dev/null || true)
	host=$(host_end "$res" 2>/dev/null || true)
	pod_ip[$pod]=${addr%/*}
	if [[ $addr == */24 ]] && in_net "$addr" "${subnet[$node]}" && [[ ${addr%/*} != "${gw[$node]}" ]]; then
		tap_ok "$what: address $addr is a pod address of $node's ${subnet[$node]}"
	else
		tap_fail "$what: address is a pod address of $node's ${subnet[$node]}" "saw: '$addr'"
	fi
	tap_is "$(pod_addr "$pod" 2>&1)" "$addr" "$what: the pod's eth0 holds $addr" || true
	tap_is "$(pod_mtu "$pod" 2>&1)" "$(link_mtu "$node" cni0)" \
		"$what: the pod's eth0 has cni0's MTU (${mtu[$node]})" || true
	tap_like "$(pod_default "$pod" 2>&1)" "^default via ${gw[$node]//./\\.} dev eth0( proto [a-z0-9]+)?$" \
		"$what: the pod's default route is via ${gw[$node]}" || true
	tap_check "$what: the host end $host is a port of cni0 in $node" port_on "$node" "$host" ||
		true
	tap_is "$(owner "$node" "${addr%/*}" 2>&1)" "b'${pod_id[$pod]}\\r\\neth0'" \
		"$what: IPAM file ${addr%/*} holds '${pod_id[$pod]}\\r\\neth0'" || true
}

# gone POD NODE ADDR HOST WHAT: after DEL, nothing of the attachment is left
gone()
{
	local pod=$1 node=$2 addr=$3 host=$4 what=$5
	tap_check_fails "$what: the pod has no eth0" pod_has_eth0 "$pod" || true
	tap_check_fails "$what: the host end $host is gone" \
		netns_exec "$node" ip link show dev "$host" || true
	tap_check_fails "$what: the IPAM file $addr is gone" test -e "${store[$node]}/$addr" || true
}

# ping_ok FROM ADDR DESC: TAP: FROM (a pod) pings ADDR within 5 s
ping_ok()
{
	if wait_until 5 pod_ping "$1" "$2"; then
		tap_ok "$3"
	else
		tap_fail "$3" "$(pod_ping "$1" "$2" 2>&1)" \
			"routes in ${pod_node[$1]}: $(netns_exec "${pod_node[$1]}" ip -4 route 2>&1)"
	fi
}

rkt_conf_summary()
{
	jval "$1" '"cniVersion=%s name=%s type=%s bridge=%s mtu=%s isGateway=%s ipam=%s subnet=%s gateway=%s dataDir=%s routes=%s" % (
	d["cniVersion"], d["name"], d["type"], d["bridge"], d["mtu"], d["isGateway"], d["ipam"]["type"],
	d["ipam"]["subnet"], d["ipam"]["gateway"], d["ipam"].get("dataDir"),
	[r["dst"] for r in d["ipam"]["routes"]])'
}

rkt_conf_want()
{
	printf 'cniVersion=0.3.1 name=rkt.kubernetes.io type=bridge bridge=cni0 mtu=%s isGateway=True ipam=host-local subnet=%s gateway=%s dataDir=%s routes=%s' \
		"${mtu[$1]}" "${subnet[$1]}" "${gw[$1]}" "$TARTAN_WORK/$1/state/networks" "['0.0.0.0/0']"
}

rkt_conf_is()
{
	[[ $(rkt_conf_summary "${rktconf[$1]}" 2>/dev/null) == "$(rkt_conf_want "$1")" ]]
}

# ---------------------------------------------------------------------------------------------
# Three host-gw nodes

for n in n1 n2 n3; do
	netns_node "$n" "${ip[$n]}/24" || tap_bail "could not make node namespace $n"
	netns_exec "$n" sysctl -qw net.ipv4.ip_forward=1 || tap_bail "could not enable forwarding in $n"
done
netns_exec n2 ip link set eth0 mtu 1400 || tap_bail "could not set n2's MTU"
tap_check "host-gw config put" ectl put "$P/config" "$HOSTGW_CONFIG"
for n in n1 n2 n3; do
	start_node "$n" --cni-conf-dir "$TARTAN_WORK/$n/cni" --rkt-net-dir "$TARTAN_WORK/$n/rkt"
done
for n in n1 n2 n3; do
	node_up "$n" 2
done
tap_diag "subnets: n1 ${subnet[n1]}, n2 ${subnet[n2]}, n3 ${subnet[n3]}"

echo '{"cniVersion":"1.0.0"}' >"$T/version.json"
RUN_NODE=n1 ref portmap VERSION - "$T/version.json" "$T/portmap-version.out"
for n in n1 n2 n3; do
	tap_check "$n: $(basename "${conflist[$n]}") written" wait_until 10 test -s "${conflist[$n]}"
	tap_is "$(jval "${conflist[$n]}" '"name=%s plugins=%s socket=%s caps=%s" % (d["name"],
		[p["type"] for p in d["plugins"]], d["plugins"][0]["socket"],
		d["plugins"][1].get("capabilities"))' 2>&1)" \
		"name=tartan plugins=['tartan', 'portmap'] socket=${TARTAND_SOCK[$n]} caps={'portMappings': True}" \
		"$n: the conflist is tartan (the node's socket) then portmap (portMappings)" || true
	lv=$(jval "${conflist[$n]}" 'd["cniVersion"]' 2>/dev/null || true)
	tap_is "$(jval "$T/portmap-version.out" "'$lv' in d['supportedVersions']" 2>&1)" True \
		"$n: the conflist's cniVersion $lv is one Debian's portmap supports" || true
	if wait_until 10 rkt_conf_is "$n"; then
		tap_ok "$n: the rkt conf has the node's subnet ${subnet[$n]} and MTU ${mtu[$n]}"
	else
		tap_fail "$n: the rkt conf has the node's subnet and MTU" \
			"expected: $(rkt_conf_want "$n")" "saw:      $(rkt_conf_summary "${rktconf[$n]}" 2>&1)"
	fi
	tap_is "$(link_mtu "$n" cni0 2>&1)" "${mtu[$n]}" "$n: cni0's MTU is ${mtu[$n]}" || true
done

# ---------------------------------------------------------------------------------------------
# Every supported version through the tartan plugin, on n1

for v in "${VERSIONS[@]}"; do
	tag=${v//./}
	lst=$T/list-$v.conflist
	list_version "${conflist[n1]}" "$v" "$lst"
	plugin_conf "$lst" 0 >"$T/conf-$v.json"
	a=a$tag b=b$tag
	mkpod "$a" n1
	mkpod "$b" n1

	tartan ADD "$a" "$T/conf-$v.json" "$T/add-$a.json"
	plugin_ok "$v: ADD of pod $a succeeds" "$T/add-$a.json" ||
		tap_bail "cannot go on without the pod"
	ipv=4
	[[ $v == 0.* ]] || ipv=-
	tap_is "$(result_summary "$T/add-$a.json" 2>&1)" \
		"cniVersion=$v ips=1 version=$ipv gateway=${gw[n1]} routes=0.0.0.0/0>${gw[n1]} ifname=eth0 sandbox=/var/run/netns/${pod_ns[$a]}" \
		"$v: the result is a $v result (ips version: $ipv), gateway and default route via ${gw[n1]}" ||
		tap_diag "result: $(cat "$T/add-$a.json")"
	check_pod "$a" "$T/add-$a.json" "$v: pod $a"
	# an ADD repeated without a DEL (a runtime retrying after a timeout) finds the host end
	# there (EEXIST): it starts afresh, same address, one pair, one address file
	tartan ADD "$a" "$T/conf-$v.json" "$T/add-again-$a.json"
	plugin_ok "$v: ADD of pod $a repeated without a DEL succeeds" "$T/add-again-$a.json" ||
		tap_bail "cannot go on without the pod"
	tap_is "$(jval "$T/add-again-$a.json" 'd["ips"][0]["address"]' 2>&1) $(ports n1) $(addr_files n1)" \
		"$(jval "$T/add-$a.json" 'd["ips"][0]["address"]') $(host_end "$T/add-$a.json") ${pod_ip[$a]}" \
		"$v: the repeated ADD answers the same address; one host end on cni0, one address file" ||
		true
	check_pod "$a" "$T/add-again-$a.json" "$v: pod $a after the repeated ADD"
	cp "$T/add-again-$a.json" "$T/add-$a.json"
	host=$(host_end "$T/add-$a.json")
	addr=${pod_ip[$a]}

	plugin_conf "$lst" 0 --prev "$T/add-$a.json" >"$T/conf-$v-prev.json"
	if [[ $v == 0.3.1 ]]; then
		# CHECK and prevResult came with 0.4.0: a runtime sends neither for 0.3.1
		tartan CHECK "$a" "$T/conf-$v.json" "$T/check-$a.out"
		plugin_err "$v: CHECK is refused with code 1 (CHECK came with 0.4.0)" "$T/check-$a.out" 1 ||
			true
		delconf=$T/conf-$v.json
	else
		tartan CHECK "$a" "$T/conf-$v-prev.json" "$T/check-$a.out"
		plugin_ok "$v: CHECK with the ADD result as prevResult succeeds, printing nothing" \
			"$T/check-$a.out" 1 || true
		# drift in the pod: its default route deleted, CHECK says so; put back, it passes
		ip -n "${pod_ns[$a]}" -4 route del default || tap_fail "$v: cannot delete $a's default route"
		tartan CHECK "$a" "$T/conf-$v-prev.json" "$T/check-noroute-$a.out"
		plugin_err "$v: CHECK of pod $a without its default route fails with code 3" \
			"$T/check-noroute-$a.out" 3 || true
		tap_like "$(jval "$T/check-noroute-$a.out" 'd["msg"]' 2>&1)" \
			"^the pod has no default route via ${gw[n1]//./\\.} on eth0$" \
			"$v: CHECK's message names the missing route" || true
		ip -n "${pod_ns[$a]}" -4 route add default via "${gw[n1]}" dev eth0 proto boot ||
			tap_fail "$v: cannot put $a's default route back"
		tartan CHECK "$a" "$T/conf-$v-prev.json" "$T/check-$a.out"
		plugin_ok "$v: CHECK succeeds again with the default route back" "$T/check-$a.out" 1 ||
			true
		delconf=$T/conf-$v-prev.json
	fi
	tartan DEL "$a" "$delconf" "$T/del-$a.out"
	plugin_ok "$v: DEL of pod $a succeeds, printing nothing" "$T/del-$a.out" 1 || true
	gone "$a" n1 "$addr" "$host" "$v: after DEL of $a"
	tartan DEL "$a" "$delconf" "$T/del2-$a.out"
	plugin_ok "$v: DEL of pod $a again succeeds" "$T/del2-$a.out" 1 || true

	tartan ADD "$b" "$T/conf-$v.json" "$T/add-$b.json"
	plugin_ok "$v: ADD of pod $b succeeds" "$T/add-$b.json" || tap_bail "cannot go on without the pod"
	host=$(host_end "$T/add-$b.json")
	addr=$(jval "$T/add-$b.json" 'd["ips"][0]["address"]')
	addr=${addr%/*}
	tap_check "$v: pod $b's host end $host is on cni0 and its IPAM file $addr exists" \
		eval "port_on n1 '$host' && test -e '${store[n1]}/$addr'" || true
	[[ $v == 0.3.1 ]] || plugin_conf "$lst" 0 --prev "$T/add-$b.json" >"$T/conf-$v-prev-b.json"
	[[ $v == 0.3.1 ]] && cp "$T/conf-$v.json" "$T/conf-$v-prev-b.json"
	tartan DEL "$b" "$T/conf-$v-prev-b.json" "$T/del-$b.out" -CNI_NETNS
	plugin_ok "$v: DEL of pod $b without CNI_NETNS succeeds" "$T/del-$b.out" 1 || true
	gone "$b" n1 "$addr" "$host" "$v: after DEL of $b without CNI_NETNS"

	tap_is "$(ports n1)" "" "$v: no port left on n1's cni0" || true
	tap_is "$(addr_files n1)" "" "$v: no address file left in n1's store" || true
done

plugin_conf "$T/list-1.1.0.conflist" 0 >"$T/conf-status.json"
RUN_NODE=n1 tartan STATUS - "$T/conf-status.json" "$T/status.out"
plugin_ok "1.1.0: STATUS succeeds, printing nothing" "$T/status.out" 1 || true
for v in "${VERSIONS[@]}"; do
	RUN_NODE=n1 tartan VERSION - "$T/conf-$v.json" "$T/version-$v.out" -CNI_PATH
	tap_is "$(jval "$T/version-$v.out" '"%s %s" % (d["cniVersion"], d["supportedVersions"])' 2>&1)" \
		"$v ['0.3.1', '0.4.0', '1.0.0', '1.1.0']" \
		"VERSION asked with $v: answers $v, supports 0.3.1, 0.4.0, 1.0.0 and 1.1.0" || true
done

# ---------------------------------------------------------------------------------------------
# A runtime in a mount namespace of its own (podman under `ip netns exec`, a runtime in a
# container without propagation on /run/netns): the pod's namespace file exists only there,
# on a tmpfs mounted in that mount namespace. The plugin opens it there and passes the fd;
# tartand, in the host's mount namespace, could not open the path (it would answer code 3,
# "does not exist").

mkpod m1 n1
PRIV=$T/private-netns
mkdir -p "$PRIV"
plugin_conf "${conflist[n1]}" 0 >"$T/conf-m1.json"
# run as the runtime: in a private mount namespace, with the pod's namespace bind-mounted on a
# tmpfs only it sees; ADD, then CHECK with the ADD result, the pod's address seen from
# outside between them, then DEL
cat >"$T/private-runtime.sh" <<'EOF'
set -u
priv=$1 podns=$2 node=$3 plugin=$4 conf=$5 prevconf=$6 out=$7 path=$8
shift 8
mount -t tmpfs tmpfs "$priv" || exit 1
: >"$priv/pod-netns"
mount --bind "/run/netns/$podns" "$priv/pod-netns" || exit 1
run()
{
	ip netns exec "$node" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@" CNI_CONTAINERID=ctr-m1 \
		CNI_NETNS="$priv/pod-netns" CNI_IFNAME=eth0 CNI_PATH="$path" \
		CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=tartan-test;K8S_POD_NAME=m1" \
		timeout 30 "$plugin"
}
run CNI_COMMAND=ADD "$@" <"$conf" >"$out/add.json" 2>"$out/add.err"
echo $? >"$out/add.rc"
ip -n "$podns" -4 -o addr show dev eth0 | awk '{ print $4 }' >"$out/addr"
python3 "$out/../plugin_conf.py" "$prevconf" 0 --prev "$out/add.json" >"$out/check.conf"
run CNI_COMMAND=CHECK "$@" <"$out/check.conf" >"$out/check.out" 2>"$out/check.err"
echo $? >"$out/check.rc"
run CNI_COMMAND=DEL "$@" <"$out/check.conf" >"$out/del.out" 2>"$out/del.err"
echo $? >"$out/del.rc"
EOF
mkdir -p "$T/m1"
unshare -m --propagation private bash "$T/private-runtime.sh" "$PRIV" "${pod_ns[m1]}" \
	"${NETNS[n1]}" "$TARTAN_CNI" "$T/conf-m1.json" "${conflist[n1]}" "$T/m1" \
	"$TARTAN_CNI_PATH" ${SAN_ENV[@]+"${SAN_ENV[@]}"} ||
	tap_fail "private mount namespace: the runtime's script could not set up its mounts"
tap_check_fails "private mount namespace: the pod's namespace file is not visible outside it" \
	test -e "$PRIV/pod-netns" || true
RC=$(cat "$T/m1/add.rc" 2>/dev/null || echo none)
plugin_ok "private mount namespace: ADD succeeds" "$T/m1/add.json" || true
m1_addr=$(jval "$T/m1/add.json" 'd["ips"][0]["address"]' 2>/dev/null || echo none)
tap_is "$(cat "$T/m1/addr" 2>&1)" "$m1_addr" \
	"private mount namespace: the pod's eth0 held the ADD's address $m1_addr" || true
RC=$(cat "$T/m1/check.rc" 2>/dev/null || echo none)
plugin_ok "private mount namespace: CHECK succeeds" "$T/m1/check.out" 1 || true
RC=$(cat "$T/m1/del.rc" 2>/dev/null || echo none)
plugin_ok "private mount namespace: DEL succeeds" "$T/m1/del.out" 1 || true
gone m1 n1 "${m1_addr%/*}" "$(host_end "$T/m1/add.json" 2>/dev/null || echo none)" \
	"private mount namespace: after DEL"

# tartand's line per request (info), and its netlink steps at --log-level debug
re_ip='10\.5\.[0-9]+\.[0-9]+'
for l in "pod ADD ctr-m1 tartan-test/m1 eth0 $re_ip ok [0-9.]+ ms" \
	"pod CHECK ctr-m1 tartan-test/m1 eth0 $re_ip ok [0-9.]+ ms" \
	"pod DEL ctr-m1 tartan-test/m1 eth0 $re_ip ok [0-9.]+ ms" \
	"pod STATUS ok [0-9.]+ ms" \
	"debug: pod ADD ctr-m1: veth veth[0-9a-f]{8} on cni0, its peer eth0 in $PRIV/pod-netns" \
	"debug: pod ADD ctr-m1: $re_ip/24 on eth0, up, default route via" \
	"debug: pod DEL ctr-m1: veth veth[0-9a-f]{8} deleted"; do
	tap_check "n1's log: /$l/" tlog_has n1 "$l" || tap_diag "log: $(tlog n1 | grep 'pod ' | tail -5)"
done

# No namespace fd stays open in tartand (an open one pins a dead pod's namespace): after many
# requests with fds, after a client that sends one with half a line and hangs up, and after
# lines carrying two (refused)
ns_fds()
{
	local f n=0
	for f in /proc/"${TARTAND_PID[n1]}"/fd/*; do
		[[ $(readlink "$f" 2>/dev/null) == net:* ]] && n=$((n + 1))
	done
	echo "$n"
}

# each try counts again (wait_until runs its command anew)
no_ns_fds()
{
	[[ $(ns_fds) == 0 ]]
}
plugin_conf "${conflist[n1]}" 0 >"$T/conf-leak.json"
for i in $(seq 1 15); do
	tartan ADD m1 "$T/conf-leak.json" "$T/leak-add.json"
	((RC == 0)) || break
	plugin_conf "${conflist[n1]}" 0 --prev "$T/leak-add.json" >"$T/conf-leak-prev.json"
	tartan CHECK m1 "$T/conf-leak-prev.json" "$T/leak-check.out"
	((RC == 0)) || break
	tartan DEL m1 "$T/conf-leak-prev.json" "$T/leak-del.out"
	((RC == 0)) || break
done
tap_is "$i $RC" "15 0" "fd leak: 15 rounds of ADD, CHECK and DEL with the namespace's fd succeed" ||
	tap_diag "last output: $(cat "$T"/leak-*.err 2>&1)"
cat >"$T/fd-client.py" <<'EOF'
import socket, sys
path, netns, mode = sys.argv[1:]
fd = open(netns, "rb")
s = socket.socket(socket.AF_UNIX)
s.connect(path)
if mode in ("legacy-add", "legacy-del"):
    # a client that sends no fd (an older plugin, socat): tartand opens the path itself
    cmd = "ADD" if mode == "legacy-add" else "DEL"
    line = ('{"command":"cni","cni":{"command":"%s","containerID":"ctr-legacy","netns":"%s",'
            '"ifName":"eth0","path":"/usr/lib/cni","cniVersion":"1.0.0",'
            '"config":{"cniVersion":"1.0.0","name":"tartan","type":"tartan"}}}\n') % (cmd, netns)
    s.sendall(line.encode())
    print(s.makefile().readline().strip())
elif mode == "hangup":
    socket.send_fds(s, [b'{"command":"cni","cni":{"command":"ADD"'], [fd.fileno()])
else:
    socket.send_fds(s, [b'{"command":"cni","cni":{"command":"STATUS"}}\n'], [fd.fileno(), fd.fileno()])
    print(s.makefile().readline().strip())
s.close()
EOF
for i in 1 2 3; do
	netns_exec n1 "$PYTHON3" "$T/fd-client.py" "${TARTAND_SOCK[n1]}" "/run/netns/${pod_ns[m1]}" \
		hangup || tap_fail "fd leak: the hang-up client could not connect"
	two=$(netns_exec n1 "$PYTHON3" "$T/fd-client.py" "${TARTAND_SOCK[n1]}" \
		"/run/netns/${pod_ns[m1]}" two 2>&1 || true)
done
tap_is "$two" '{"ok":false,"error":"more than one file descriptor came with the request"}' \
	"fd leak: a line with two fds is refused" || true
legacy=$(netns_exec n1 "$PYTHON3" "$T/fd-client.py" "${TARTAND_SOCK[n1]}" \
	"/run/netns/${pod_ns[m1]}" legacy-add 2>&1 || true)
tap_like "$legacy" '^\{"ok":true,"result":\{"result":\{"interfaces":' \
	"a request without netnsFd (an older plugin): tartand opens the path itself, ADD succeeds" ||
	true
legacy=$(netns_exec n1 "$PYTHON3" "$T/fd-client.py" "${TARTAND_SOCK[n1]}" \
	"/run/netns/${pod_ns[m1]}" legacy-del 2>&1 || true)
tap_is "$legacy" '{"ok":true,"result":{"result":{}}}' "... and its DEL too" || true
if wait_until 5 no_ns_fds; then
	tap_ok "fd leak: tartand holds no namespace fd after all that"
else
	tap_fail "fd leak: tartand holds no namespace fd after all that" \
		"it holds $(ns_fds)"
fi

# ---------------------------------------------------------------------------------------------
# GC (1.1.0): three pods, two listed as valid

for g in g1 g2 g3; do
	mkpod "$g" n1
	tartan ADD "$g" "$T/conf-1.1.0.json" "$T/add-$g.json"
	plugin_ok "GC: ADD of pod $g succeeds" "$T/add-$g.json" || tap_bail "cannot go on without the pod"
	pod_ip[$g]=$(jval "$T/add-$g.json" 'd["ips"][0]["address"].split("/")[0]')
done
# pod records as an ADD cut short by a crash leaves them (record written, no address yet):
# one of an attachment the GC does not list, one of a listed one; and a file that is no record
write_record()
{
	"$PYTHON3" -c '
import json, sys
d, cid, ifname = sys.argv[1:]
h = 14695981039346656037
for b in (cid + "/" + ifname).encode():
    h = ((h ^ b) * 1099511628211) % (1 << 64)
json.dump({"containerID": cid, "ifName": ifname}, open("%s/%016x.json" % (d, h), "w"))
print("%016x.json" % h)
' "$TARTAN_WORK/n1/state/pods" "$1" "$2"
}
stray_rec=$(write_record ctr-stray eth0)
keep_rec=$(write_record ctr-keep eth0)
echo '{"containerID":"ctr-other","ifName":"eth0"}' >"$TARTAN_WORK/n1/state/pods/other.json"
plugin_conf "$T/list-1.1.0.conflist" 0 \
	--valid '[{"containerID":"ctr-g1","ifname":"eth0"},{"containerID":"ctr-g3","ifname":"eth0"},{"containerID":"ctr-keep","ifname":"eth0"}]' \
	>"$T/conf-gc.json"
RUN_NODE=n1 tartan GC - "$T/conf-gc.json" "$T/gc.out"
plugin_ok "GC listing g1 and g3 as valid succeeds, printing nothing" "$T/gc.out" 1 || true
tap_is "$(test -e "$TARTAN_WORK/n1/state/pods/$stray_rec" && echo kept || echo removed) $(test -e "$TARTAN_WORK/n1/state/pods/$keep_rec" && echo kept || echo removed) $(test -e "$TARTAN_WORK/n1/state/pods/other.json" && echo kept || echo removed)" \
	"removed kept kept" \
	"GC: the record of an unlisted attachment without address goes; a listed one's and a file under another name stay" || true
rm -f "$TARTAN_WORK/n1/state/pods/$keep_rec" "$TARTAN_WORK/n1/state/pods/other.json"
tap_is "$(addr_files n1)" "$(printf '%s\n' "${pod_ip[g1]}" "${pod_ip[g3]}" | sort -V | paste -sd ' ')" \
	"GC: exactly g1's and g3's address files are left" || true
gc_host=$(host_end "$T/add-g2.json")
gone g2 n1 "${pod_ip[g2]}" "$gc_host" "GC: g2 (not listed)"
for g in g1 g3; do
	h=$(host_end "$T/add-$g.json")
	tap_check "GC: $g's host end $h stays on cni0" port_on n1 "$h" || true
	plugin_conf "$T/list-1.1.0.conflist" 0 --prev "$T/add-$g.json" >"$T/conf-$g-prev.json"
	tartan CHECK "$g" "$T/conf-$g-prev.json" "$T/check-$g.out"
	plugin_ok "GC: CHECK of $g still succeeds" "$T/check-$g.out" 1 || true
done
for g in g1 g2 g3; do
	plugin_conf "$T/list-1.1.0.conflist" 0 --prev "$T/add-$g.json" >"$T/conf-$g-prev.json"
	tartan DEL "$g" "$T/conf-$g-prev.json" "$T/del-$g.out"
	plugin_ok "GC: DEL of $g succeeds" "$T/del-$g.out" 1 || true
done
tap_is "$(ports n1) / $(addr_files n1)" " / " "GC: after the DELs n1 has no port and no address file" ||
	true

# ---------------------------------------------------------------------------------------------
# Input errors: each with the spec's code, nothing half-created

mkpod x n1
: >"$T/regular-file"
good=$T/conf-1.0.0.json
printf '{"cniVersion":"1.0.0","name":"tartan","type":"tartan",bad' >"$T/bad.json"
"$PYTHON3" -c 'import json, sys
d = json.load(open(sys.argv[1])); d["cniVersion"] = "0.2.0"; print(json.dumps(d))' "$good" \
	>"$T/old.json"
state_n1()
{
	printf 'n1: %s | pod: %s | store: %s' "$(links n1)" "$(ip -n "${pod_ns[x]}" -o link show |
		awk -F': ' '{ print $2 }' | paste -sd ' ')" "$(addr_files n1)"
}
before=$(state_n1)
# case DESC CODE CONF [VAR=VALUE | -VAR]...
bad_case()
{
	local desc=$1 code=$2 conf=$3
	shift 3
	tartan ADD x "$conf" "$T/err.out" "$@"
	plugin_err "error: $desc: code $code" "$T/err.out" "$code" || true
	tap_is "$(state_n1)" "$before" "error: $desc: nothing created (links, store)" || true
}
bad_case "bad JSON" 6 "$T/bad.json"
bad_case "unsupported cniVersion 0.2.0" 1 "$T/old.json"
bad_case "no CNI_CONTAINERID" 4 "$good" -CNI_CONTAINERID
bad_case "container id 'ctr/x' with '/'" 4 "$good" CNI_CONTAINERID=ctr/x
bad_case "CNI_IFNAME of 16 bytes" 4 "$good" CNI_IFNAME=eth0123456789abc
bad_case "CNI_IFNAME 'eth/0' with '/'" 4 "$good" CNI_IFNAME=eth/0
bad_case "CNI_NETNS a regular file" 4 "$good" "CNI_NETNS=$T/regular-file"
bad_case "CNI_NETNS that does not exist" 3 "$good" "CNI_NETNS=/var/run/netns/${NETNS_TAG}none"
tap_check "n1's log: the refused ADD at warning, with its code and message" \
	tlog_has n1 "warning: pod ADD ctr-x tartan-test/x eth0 - failed \\(code 4\\): CNI_NETNS $T/regular-file is not a network namespace" ||
	true

# ---------------------------------------------------------------------------------------------
# Pods through the conflist as written on every node; on n1 the chain goes on with portmap

for n in n1 n2 n3; do
	t=t${n#n}
	mkpod "$t" "$n"
	plugin_conf "${conflist[$n]}" 0 >"$T/list0-$n.json"
	tartan ADD "$t" "$T/list0-$n.json" "$T/add-$t.json"
	plugin_ok "$n: conflist's tartan ADD of pod $t succeeds" "$T/add-$t.json" ||
		tap_bail "cannot go on without the pod"
	check_pod "$t" "$T/add-$t.json" "$n: pod $t"
done
ping_matrix t1 t2 t3

# the chain on n1: portmap with tartan's result as prevResult
plugin_conf "${conflist[n1]}" 1 --prev "$T/add-t1.json" --runtime "$PORTMAPS" >"$T/pm-add.json"
ref portmap ADD t1 "$T/pm-add.json" "$T/pm-add.out"
plugin_ok "chain: portmap ADD with tartan's result as prevResult succeeds" "$T/pm-add.out" || true
tap_is "$(jval "$T/pm-add.out" 'd["ips"][0]["address"]' 2>&1)" \
	"$(jval "$T/add-t1.json" 'd["ips"][0]["address"]')" "chain: portmap's result keeps t1's address" ||
	true
ip netns exec "${pod_ns[t1]}" timeout 60 "$PYTHON3" -c 'import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8080))
s.listen(8)
while True:
	c, _ = s.accept()
	c.sendall(b"hello from t1\n")
	c.close()' </dev/null >/dev/null 2>&1 &
listener=$!
on_exit "kill $listener 2>/dev/null; wait $listener 2>/dev/null"
# hostport NS ADDR PORT: connect from namespace NS, succeed if t1's listener answers
hostport()
{
	ip netns exec "$1" "$PYTHON3" -c 'import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)
sys.exit(0 if c.recv(100) == b"hello from t1\n" else 1)' "$2" "$3"
}
tap_check "chain: t1's listener answers on ${pod_ip[t1]}:8080" \
	wait_until 5 hostport "${NETNS[n1]}" "${pod_ip[t1]}" 8080 || true
tap_check "chain: from the underlay's namespace, n1's ${ip[n1]}:30080 reaches t1's 8080" \
	wait_until 5 hostport "${NETNS[u]}" "${ip[n1]}" 30080 || true
# portmap CHECK is left out: Debian's 1.1.1 fails it for IPv4-only pods (plugins#819)
plugin_conf "${conflist[n1]}" 0 --prev "$T/pm-add.out" >"$T/chain-0-prev.json"
plugin_conf "${conflist[n1]}" 1 --prev "$T/pm-add.out" --runtime "$PORTMAPS" >"$T/chain-1-prev.json"
tartan CHECK t1 "$T/chain-0-prev.json" "$T/chain-check.out"
plugin_ok "chain: tartan's CHECK with the chain's final result succeeds" "$T/chain-check.out" 1 ||
	true
ref portmap DEL t1 "$T/chain-1-prev.json" "$T/pm-del.out"
plugin_ok "chain: portmap DEL (reverse order) succeeds" "$T/pm-del.out" 1 || true
t1_host=$(host_end "$T/add-t1.json")
tartan DEL t1 "$T/chain-0-prev.json" "$T/chain-del.out"
plugin_ok "chain: tartan DEL succeeds" "$T/chain-del.out" 1 || true
tap_check_fails "chain: portmap's DNAT rule for 30080 is gone" \
	bash -c "ip netns exec ${NETNS[n1]} iptables -w 5 -t nat -S | grep -F -- '--dport 30080'" ||
	true
gone t1 n1 "${pod_ip[t1]}" "$t1_host" "chain: after the DELs"
kill "$listener" 2>/dev/null || true

# t1 again, in the same namespace, for the pings below
tartan ADD t1 "$T/list0-n1.json" "$T/add-t1.json"
plugin_ok "n1: ADD of t1 after its DEL succeeds" "$T/add-t1.json" ||
	tap_bail "cannot go on without the pod"
pod_ip[t1]=$(jval "$T/add-t1.json" 'd["ips"][0]["address"].split("/")[0]')

# ---------------------------------------------------------------------------------------------
# The rkt conf with Debian's bridge + host-local, alternately with tartan-plugin pods, on n2

n2_pods=(t2)
for k in 1 2 3; do
	r=r$k
	mkpod "$r" n2
	ref bridge ADD "$r" "${rktconf[n2]}" "$T/add-$r.json"
	plugin_ok "n2: bridge + host-local ADD of rkt pod $r with the rkt conf as written" \
		"$T/add-$r.json" || tap_bail "cannot go on without the pod"
	check_pod "$r" "$T/add-$r.json" "n2: rkt pod $r"
	n2_pods+=("$r")
	a=s$k
	mkpod "$a" n2
	tartan ADD "$a" "$T/list0-n2.json" "$T/add-$a.json"
	plugin_ok "n2: tartan ADD of pod $a" "$T/add-$a.json" || tap_bail "cannot go on without the pod"
	pod_ip[$a]=$(jval "$T/add-$a.json" 'd["ips"][0]["address"].split("/")[0]')
	tap_check "n2: pod $a's address ${pod_ip[$a]} is in ${subnet[n2]}" in_net "${pod_ip[$a]}" \
		"${subnet[n2]}" || true
	n2_pods+=("$a")
done
all=$(for p in "${n2_pods[@]}"; do echo "${pod_ip[$p]}"; done | sort -V | paste -sd ' ')
uniq_all=$(for p in "${n2_pods[@]}"; do echo "${pod_ip[$p]}"; done | sort -uV | paste -sd ' ')
tap_is "$all" "$uniq_all" "n2: the 7 pods (tartan t2 s1-s3, rkt r1-r3) hold 7 distinct addresses" ||
	true
owners=$(for p in "${n2_pods[@]}"; do echo "${pod_ip[$p]}=$(owner n2 "${pod_ip[$p]}" 2>&1)"; done |
	sort -V | paste -sd ' ')
want_owners=$(for p in "${n2_pods[@]}"; do printf '%s\n' "${pod_ip[$p]}=b'${pod_id[$p]}\\r\\neth0'"; done |
	sort -V | paste -sd ' ')
tap_is "$owners" "$want_owners" "n2: each address file names its own pod's container" || true
tap_is "$(addr_files n2)" "$all" "n2: the store holds exactly these 7 addresses" || true
for r in r1 r2 r3; do
	for b in t1 t3; do
		ping_ok "$r" "${pod_ip[$b]}" "rkt pod $r (${pod_ip[$r]}) pings tartan pod $b (${pod_ip[$b]})"
	done
done
ping_ok t1 "${pod_ip[s3]}" "tartan pod t1 pings tartan pod s3 (${pod_ip[s3]}) on n2"

# A runtime's GC through the tartan conflist lists only its own attachments: the rkt pods'
# addresses (host-local's, in the same store) must survive it; s3, not listed, goes.
valid_n2=$(for p in t2 s1 s2; do printf '{"containerID":"%s","ifname":"eth0"},' "${pod_id[$p]}"; done)
list_version "${conflist[n2]}" 1.1.0 "$T/list-n2-1.1.0.conflist"
plugin_conf "$T/list-n2-1.1.0.conflist" 0 --valid "[${valid_n2%,}]" >"$T/conf-gc-n2.json"
RUN_NODE=n2 tartan GC - "$T/conf-gc-n2.json" "$T/gc-n2.out"
plugin_ok "n2: GC listing tartan pods t2, s1, s2 succeeds" "$T/gc-n2.out" 1 || true
kept=$(for p in t2 s1 s2 r1 r2 r3; do echo "${pod_ip[$p]}"; done | sort -V | paste -sd ' ')
tap_is "$(addr_files n2)" "$kept" \
	"n2: GC released only tartan's unlisted s3; the rkt pods r1-r3 keep their addresses" || true
n2_pods=(t2 s1 s2 r1 r2 r3)

# ---------------------------------------------------------------------------------------------
# Subnet change of n3

mkpod q3 n3
ref bridge ADD q3 "${rktconf[n3]}" "$T/add-q3.json"
plugin_ok "n3: bridge + host-local ADD of rkt pod q3 before the change" "$T/add-q3.json" ||
	tap_bail "cannot go on without the pod"
check_pod q3 "$T/add-q3.json" "n3: rkt pod q3"
old=${subnet[n3]}
old_files=$(addr_files n3)
tap_is "$old_files" "$(printf '%s\n' "${pod_ip[t3]}" "${pod_ip[q3]}" | sort -V | paste -sd ' ')" \
	"n3: the store holds t3's and q3's addresses before the change" || true

tartand_stop n3 TERM || true
tap_is "$TARTAND_RC" 0 "n3: tartand exits 0 on SIGTERM" || true
tap_check "n3's lease key deleted with etcdctl" ectl del "$(subnet_key "$old")"
placeholder_put()
{
	local id
	id=$(ectl lease grant 600 | awk '/granted/ { print $2 }')
	[[ -n $id ]] || return 1
	ectl put "$(subnet_key "$old")" \
		"{\"PublicIP\":\"$PLACEHOLDER_IP\",\"PublicIPv6\":null,\"BackendType\":\"host-gw\"}" \
		--lease="$id" >/dev/null
}
tap_check "placeholder lease for n3's old $old put (PublicIP $PLACEHOLDER_IP)" placeholder_put
tap_check "n3's subnet.env deleted" rm "$TARTAN_WORK/n3/subnet.env"
start_node n3 --cni-conf-dir "$TARTAN_WORK/n3/cni" --rkt-net-dir "$TARTAN_WORK/n3/rkt"
node_up n3 3 "$old"
tap_diag "n3 moved from $old to ${subnet[n3]}"
if wait_until 10 bridge_addrs_are n3 "${gw[n3]}/24"; then
	tap_ok "n3: cni0 holds exactly ${gw[n3]}/24"
else
	tap_fail "n3: cni0 holds exactly ${gw[n3]}/24" "saw: $(bridge_addrs n3 2>&1)"
fi
if wait_until 10 rkt_conf_is n3; then
	tap_ok "n3: the rkt conf is rewritten with the new subnet ${subnet[n3]}"
else
	tap_fail "n3: the rkt conf is rewritten with the new subnet" \
		"expected: $(rkt_conf_want n3)" "saw:      $(rkt_conf_summary "${rktconf[n3]}" 2>&1)"
fi
tap_is "$(jval "${conflist[n3]}" '[p["type"] for p in d["plugins"]]' 2>&1)" "['tartan', 'portmap']" \
	"n3: the conflist is still there" || true
for p in t3 q3; do
	re="released ${pod_ip[$p]//./\\.} of container ${pod_id[$p]} \\(eth0\\)"
	if wait_until 5 tlog_has n3 "$re"; then
		tap_ok "n3: the log reports $p's old ${pod_ip[$p]} released"
	else
		tap_fail "n3: the log reports $p's old ${pod_ip[$p]} released" "log: $(tlog n3 2>&1)"
	fi
done
tap_is "$(addr_files n3)" "" "n3: no address of the old subnet is left in the store" || true

t3_host=$(host_end "$T/add-t3.json")
tartan DEL t3 "$T/list0-n3.json" "$T/del-t3.out"
plugin_ok "n3: DEL of the old pod t3 succeeds" "$T/del-t3.out" 1 || true
gone t3 n3 "${pod_ip[t3]}" "$t3_host" "n3: after DEL of the old t3"

plugin_conf "${conflist[n3]}" 0 >"$T/list0-n3-new.json"
mkpod u3 n3
tartan ADD u3 "$T/list0-n3-new.json" "$T/add-u3.json"
plugin_ok "n3 (new subnet): tartan ADD of pod u3" "$T/add-u3.json" || tap_bail "cannot go on without the pod"
check_pod u3 "$T/add-u3.json" "n3 (new subnet): pod u3"
mkpod w3 n3
ref bridge ADD w3 "${rktconf[n3]}" "$T/add-w3.json"
plugin_ok "n3 (new subnet): bridge + host-local ADD of rkt pod w3 with the rewritten conf" \
	"$T/add-w3.json" || tap_bail "cannot go on without the pod"
check_pod w3 "$T/add-w3.json" "n3 (new subnet): rkt pod w3"
tap_check_fails "n3: u3 and w3 hold different addresses" test "${pod_ip[u3]}" = "${pod_ip[w3]}" ||
	true
for p in u3 w3; do
	for b in t1 s1 r2; do
		ping_ok "$p" "${pod_ip[$b]}" "n3 (new subnet): pod $p (${pod_ip[$p]}) pings pod $b (${pod_ip[$b]}) on ${pod_node[$b]}"
	done
done

# ---------------------------------------------------------------------------------------------
for n in n1 n2 n3; do
	tap_is "$(tlog_errors "$n")" "" "$n: no error in the log" || true
	tartand_stop "$n" TERM || true
	tap_is "$TARTAND_RC" 0 "$n: tartand exits 0 on SIGTERM" || true
done

tap_done
