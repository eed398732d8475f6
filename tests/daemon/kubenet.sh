#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# functions run through wait_until look unreachable to shellcheck:
# shellcheck disable=SC2317
#
# tests/daemon/kubenet.sh: kubenet mode and the nftables masquerade (TAP; root).
#
# Kubenet mode: nodes n1 (--pod-cidr=10.244.1.0/24, --hairpin-mode=hairpin-veth) and n2
# (10.244.2.0/24, the default promiscuous-bridge) without etcd; the underlay namespace stands
# for the cloud: it forwards, and the test gives it a route per pod CIDR to its node (as GCE's
# route controller does); an 'outside' namespace (203.0.113.2) sits behind it. Asserted: both
# run in mode kubenet; cbr0 holds exactly the gateway (an address added by hand goes); the
# MTU is the smallest of the up interfaces (n1's eth0 set to 1400); forwarding is on; the
# kubenet conf, the tartan list and the rkt conf name the bridge, the range and the MTU, and
# hairpinMode follows --hairpin-mode, as the bridge's promiscuous mode does; pods attached
# through the rkt conf by Debian's bridge + host-local and through the tartan plugin reach
# each other across the nodes; a tartan pod's port has hairpin on in n1; cbr0 deleted by hand in
# n1 is made again with both pods' ports, hairpin on again, and the pods reach n2's; kubenet's
# masquerade rule is in table ip tartan-ipv4: a pod's traffic reaches the outside from the node's
# address, and a pod on the other node sees the pod's own address; the table deleted by hand
# is back within a few resyncs; a table of others is untouched. Then n1 is restarted with
# 10.244.3.0/24 (the cloud route moved too): the bridge holds exactly 10.244.3.1/24, the
# confs say the new range, the old tartan pod's address is released (logged) and gone from
# tartanctl pods, a new pod gets a 10.244.3.x address and reaches n2's pods.
#
# Flannel mode with --ip-masq (n3, host-gw, etcd): flannel's rule set for the node's real
# subnet; it stays after SIGTERM; started again without --ip-masq and stopped, nothing of
# tartan's is left in `nft list ruleset` (and the foreign table is still there).

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/etcd.sh
. "$here/../lib/etcd.sh"
# shellcheck source=tests/lib/netns.sh
. "$here/../lib/netns.sh"
# shellcheck source=tests/lib/tartand.sh
. "$here/../lib/tartand.sh"

: "${TARTAN_CNI:=$(dirname "${TARTAND:-.}")/../cni/tartan}"
CNI_BIN=/usr/lib/cni

tartan_net_setup
[[ -x $TARTAN_CNI && -x $CNI_BIN/bridge && -x $CNI_BIN/host-local ]] ||
	tap_bail "needs the tartan plugin ($TARTAN_CNI) and Debian's containernetworking-plugins"
command -v nft >/dev/null || tap_bail "needs nft (nftables)"
U=${NETNS[u]}

# -- the cloud: the underlay forwards, with a route per node's pod CIDR; the outside behind it
netns_node n1 192.0.2.11/24 || tap_bail "no n1"
netns_node n2 192.0.2.12/24 || tap_bail "no n2"
_netns_add o || tap_bail "no outside namespace"
O=${NETNS[o]}
ip -n "$U" link add vout type veth peer name eth0 netns "$O"
ip -n "$U" addr add 203.0.113.1/24 dev vout
ip -n "$U" link set vout up
ip -n "$O" addr add 203.0.113.2/24 dev eth0
ip -n "$O" link set eth0 up
ip -n "$O" route add default via 203.0.113.1
ip netns exec "$U" sysctl -qw net.ipv4.ip_forward=1
ip -n "$U" route add 10.244.1.0/24 via 192.0.2.11
ip -n "$U" route add 10.244.2.0/24 via 192.0.2.12
for n in n1 n2; do
	netns_exec "$n" ip route add default via "$NETNS_UNDERLAY_IP"
	netns_exec "$n" sysctl -qw net.ipv4.ip_forward=0
done
netns_exec n1 ip link set eth0 mtu 1400
# someone else's table: tartand must leave it alone
netns_exec n1 nft -f - <<'EOF'
table ip othertable {
	chain c {
		ip saddr 192.0.2.99 drop
	}
}
EOF

kubenet_start()
{
	tartand_start "$1" -- --pod-cidr="$2" --resync-interval=1 "${@:3}" ||
		tap_bail "could not start tartand in $1"
	wait_until 10 tstatus_is "$1" mode kubenet || tap_bail "$1: not in kubenet mode: $(tstatus "$1" 2>&1)"
}
kubenet_start n1 10.244.1.0/24 --hairpin-mode=hairpin-veth
kubenet_start n2 10.244.2.0/24
tap_ok "n1 and n2 run in kubenet mode"

# bridge_addrs NODE: the IPv4 addresses on cbr0
bridge_addrs()
{
	netns_exec "$1" ip -4 -o addr show dev cbr0 | awk '{ print $4 }' | sort | xargs
}
bridge_addrs_are()
{
	[[ $(bridge_addrs "$1") == "$2" ]]
}
wait_until 5 bridge_addrs_are n1 10.244.1.1/24 || true
tap_is "$(bridge_addrs n1)" 10.244.1.1/24 "n1: cbr0 holds exactly the gateway"
netns_exec n1 ip addr add 10.99.0.1/24 dev cbr0
wait_until 5 bridge_addrs_are n1 10.244.1.1/24 || true
tap_is "$(bridge_addrs n1)" 10.244.1.1/24 "n1: an address added to cbr0 by hand is removed"
tap_is "$(netns_exec n1 cat /proc/sys/net/ipv4/ip_forward)" 1 "n1: forwarding turned on"
tap_check "n1: the log says forwarding was turned on" tlog_has n1 'turned on IPv4 forwarding'
tap_is "$(tstatus n1 mtu)" 1400 "n1: MTU 1400, the smallest of the up interfaces"
tap_is "$(tstatus n2 mtu)" 1500 "n2: MTU 1500"

D1=${TARTAND_DIR[n1]}
conf_get()
{
	jget "$(cat "$1")" "$2"
}
tap_is "$(conf_get "$D1/net.d/20-kubenet.conf" '[d["name"], d["type"], d["bridge"], d["mtu"], d["hairpinMode"], d["ipMasq"], d["ipam"]["subnet"], d["ipam"]["gateway"], d["ipam"]["routes"]]')" \
	'["kubenet", "bridge", "cbr0", 1400, true, false, "10.244.1.0/24", "10.244.1.1", [{"dst": "0.0.0.0/0"}]]' \
	"n1: the kubenet conf (hairpinMode for hairpin-veth)"
tap_is "$(conf_get "${TARTAND_DIR[n2]}/net.d/20-kubenet.conf" 'd["hairpinMode"]')" false \
	"n2: hairpinMode false for promiscuous-bridge"
tap_is "$(conf_get "$D1/rkt.d/10-rkt.kubernetes.io.conf" '[d["name"], d["bridge"], d["mtu"], d["ipMasq"], d["ipam"]["subnet"]]')" \
	'["rkt.kubernetes.io", "cbr0", 1400, false, "10.244.1.0/24"]' "n1: the rkt conf on the same bridge and range"
tap_is "$(conf_get "$D1/net.d/10-tartan.conflist" 'd["plugins"][0]["type"]')" tartan "n1: the tartan conf list"
tap_check "n1: no subnet.env in kubenet mode" test ! -e "$D1/subnet.env"
promisc()
{
	netns_exec "$1" ip -d link show dev cbr0 | grep -q PROMISC
}
tap_check "n2: cbr0 is promiscuous (promiscuous-bridge)" promisc n2
tap_check_fails "n1: cbr0 is not promiscuous (hairpin-veth)" promisc n1

# -- pods. PODNS[name], PODIP[name], PODHOST[name] (host end)
declare -A PODNS=() PODIP=() PODHOST=()
pod_made=()
pods_cleanup_all()
{
	local ns
	for ns in "${pod_made[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
}
on_exit pods_cleanup_all

# cni_add NODE PLUGIN CONF POD: a runtime's ADD of pod POD (a new namespace) in NODE
cni_add()
{
	local node=$1 plugin=$2 conf=$3 pod=$4 ns out
	ns=${NETNS_TAG}$pod
	ip netns add "$ns" && pod_made+=("$ns")
	ip -n "$ns" link set lo up
	out=$(netns_exec "$node" env -i PATH=/usr/bin:/bin CNI_COMMAND=ADD CNI_CONTAINERID="ctr-$pod" \
		CNI_NETNS="/var/run/netns/$ns" CNI_IFNAME=eth0 CNI_PATH="$CNI_BIN:$(dirname "$TARTAN_CNI")" \
		"$plugin" <"$conf") || {
		echo "ADD of $pod in $node failed: $out" >&2
		return 1
	}
	PODNS[$pod]=$ns
	PODIP[$pod]=$(jget "$out" 'd["ips"][0]["address"].split("/")[0]')
	PODHOST[$pod]=$(jget "$out" '[i["name"] for i in d["interfaces"] if "sandbox" not in i][0]')
}
# tartan_conf NODE FILE: the conf a runtime gives the tartan plugin, from the node's list
tartan_conf()
{
	"$PYTHON3" -c '
import json, sys
l = json.load(open(sys.argv[1]))
json.dump(dict(l["plugins"][0], name=l["name"], cniVersion=l["cniVersion"]), open(sys.argv[2], "w"))
' "${TARTAND_DIR[$1]}/net.d/10-tartan.conflist" "$2"
}
# pod_add DESC NODE PLUGIN CONF POD: cni_add in this shell (its variables stay), as a TAP line
pod_add()
{
	local desc=$1
	shift
	if cni_add "$@" 2>"$TARTAN_WORK/add.err"; then
		tap_ok "$desc"
	else
		tap_fail "$desc" "$(cat "$TARTAN_WORK/add.err")"
	fi
}
tartan_conf n1 "$TARTAN_WORK/t1.json"
tartan_conf n2 "$TARTAN_WORK/t2.json"
pod_add "n1: pod a attached through the rkt conf by bridge + host-local" \
	n1 "$CNI_BIN/bridge" "$D1/rkt.d/10-rkt.kubernetes.io.conf" a
pod_add "n1: pod b attached through the tartan plugin" n1 "$TARTAN_CNI" "$TARTAN_WORK/t1.json" b
pod_add "n2: pod c attached through the rkt conf" \
	n2 "$CNI_BIN/bridge" "${TARTAND_DIR[n2]}/rkt.d/10-rkt.kubernetes.io.conf" c
pod_add "n2: pod d attached through the tartan plugin" n2 "$TARTAN_CNI" "$TARTAN_WORK/t2.json" d
tap_like "${PODIP[a]} ${PODIP[b]} ${PODIP[c]} ${PODIP[d]}" \
	'^10\.244\.1\.[0-9]+ 10\.244\.1\.[0-9]+ 10\.244\.2\.[0-9]+ 10\.244\.2\.[0-9]+$' \
	"the pods' addresses are in their node's pod CIDR"
tap_check "n1: the rkt pod and the tartan pod got different addresses" test "${PODIP[a]}" != "${PODIP[b]}"
pod_ping()
{
	ip netns exec "${PODNS[$1]}" ping -c 1 -W 1 "$2" >/dev/null
}
for pair in a:c a:d b:c b:d c:a d:b; do
	x=${pair%:*} y=${pair#*:}
	tap_check "pod $x (${PODIP[$x]}) reaches pod $y (${PODIP[$y]}) across the nodes" \
		wait_until 5 pod_ping "$x" "${PODIP[$y]}"
done
tap_like "$(netns_exec n1 bridge -d link show dev "${PODHOST[b]}")" 'hairpin on' \
	"n1: the tartan pod's port has hairpin on"

# -- cbr0 deleted by hand: made again with both pods' ports, hairpin on again (hairpin-veth)
cbr0_ports()
{
	netns_exec n1 ip -o link show master cbr0 | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' |
		sort | paste -sd ' '
}
ports_n1=$(cbr0_ports)
tap_like "$ports_n1" '^[^ ]+ [^ ]+$' "n1: cbr0 has the two pods' ports ($ports_n1)"
cbr0_back()
{
	bridge_addrs_are n1 10.244.1.1/24 && [[ $(cbr0_ports) == "$ports_n1" ]]
}
netns_exec n1 ip link del cbr0
tap_check "n1: cbr0 deleted by hand is made again with 10.244.1.1/24 and both ports" \
	wait_until 20 cbr0_back
for p in $ports_n1; do
	tap_like "$(netns_exec n1 bridge -d link show dev "$p")" 'hairpin on' \
		"n1: port $p has hairpin on again"
done
for pair in a:c b:d; do
	x=${pair%:*} y=${pair#*:}
	tap_check "pod $x reaches pod $y again after cbr0 was made again" \
		wait_until 5 pod_ping "$x" "${PODIP[$y]}"
done

# -- masquerade, kubenet's rule
tap_like "$(netns_exec n1 nft list table ip tartan-ipv4)" \
	'fib daddr type != local ip daddr != 10\.0\.0\.0/8 masquerade' "n1: kubenet's masquerade rule"
# udp_source NS PORT POD ADDR: the source address a datagram from POD to ADDR:PORT arrives with
udp_source()
{
	local out=$TARTAN_WORK/udp.$2
	rm -f "$out"
	ip netns exec "$1" "$PYTHON3" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.settimeout(10)
data, peer = s.recvfrom(100)
open(sys.argv[2], "w").write(peer[0])
' "$2" "$out" &
	local srv=$!
	sleep 0.3
	for _ in 1 2 3 4 5; do
		ip netns exec "${PODNS[$3]}" "$PYTHON3" -c '
import socket, sys
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", (sys.argv[1], int(sys.argv[2])))
' "$4" "$2"
		[[ -s $out ]] && break
		sleep 0.3
	done
	wait "$srv" 2>/dev/null || true
	cat "$out" 2>/dev/null || echo none
}
tap_is "$(udp_source "$O" 4001 b 203.0.113.2)" 192.0.2.11 \
	"pod b's traffic to the outside arrives from n1's address"
tap_is "$(udp_source "${PODNS[d]}" 4002 b "${PODIP[d]}")" "${PODIP[b]}" \
	"pod b's traffic to pod d on n2 keeps pod b's address"
netns_exec n1 nft delete table ip tartan-ipv4
table_back()
{
	netns_exec n1 nft list table ip tartan-ipv4 >/dev/null 2>&1
}
tap_check "n1: the table deleted by hand is back at a resync" wait_until 5 table_back
tap_like "$(netns_exec n1 nft list table ip othertable)" 'ip saddr 192\.0\.2\.99 drop' \
	"n1: the foreign table is untouched"

# -- another pod CIDR for n1
tartand_stop n1 TERM || true
tap_is "$TARTAND_RC" 0 "n1: tartand exits 0 on SIGTERM"
ip -n "$U" route replace 10.244.3.0/24 via 192.0.2.11
ip -n "$U" route del 10.244.1.0/24
kubenet_start n1 10.244.3.0/24 --hairpin-mode=hairpin-veth
wait_until 5 bridge_addrs_are n1 10.244.3.1/24 || true
tap_is "$(bridge_addrs n1)" 10.244.3.1/24 "n1 restarted with 10.244.3.0/24: cbr0 holds exactly its gateway"
tap_is "$(tstatus n1 subnet)" 10.244.3.0/24 "n1: status says 10.244.3.0/24"
tap_is "$(conf_get "$D1/net.d/20-kubenet.conf" 'd["ipam"]["subnet"]')" 10.244.3.0/24 "n1: the kubenet conf moved"
tap_is "$(conf_get "$D1/rkt.d/10-rkt.kubernetes.io.conf" 'd["ipam"]["subnet"]')" 10.244.3.0/24 "n1: the rkt conf moved"
tap_check "n1: the old range's addresses were released and logged" tlog_has n1 "${PODIP[b]//./\\.}.*released|released.*${PODIP[b]//./\\.}"
tap_is "$(jget "$(tctl n1 --json pods)" '[p["address"] for p in d["pods"]]')" '[]' \
	"n1: tartanctl pods no longer lists the old pod"
pod_add "n1: pod e attached through the tartan plugin" n1 "$TARTAN_CNI" "$TARTAN_WORK/t1.json" e
tap_like "${PODIP[e]}" '^10\.244\.3\.' "n1: pod e has an address of the new range"
tap_check "pod e reaches pod d on n2" wait_until 5 pod_ping e "${PODIP[d]}"
tap_check "pod c on n2 reaches pod e" wait_until 5 pod_ping c "${PODIP[e]}"

# -- flannel mode with --ip-masq
netns_node n3 192.0.2.13/24 || tap_bail "no n3"
tap_check "host-gw config put" ectl put "$FLANNEL_PREFIX/config" \
	'{"Network":"10.5.0.0/16","Backend":{"Type":"host-gw"}}'
tartand_start n3 -- --ip-masq --resync-interval=1 || tap_bail "could not start tartand in n3"
wait_until 15 tstatus_is n3 state running || tap_bail "n3 not running: $(tstatus n3 2>&1)"
S3=$(tstatus n3 subnet)
masq_has_subnet()
{
	netns_exec n3 nft list table ip tartan-ipv4 2>/dev/null | grep -q "ip saddr ${S3} ip daddr 10.5.0.0/16 return"
}
tap_check "n3 (--ip-masq): flannel's rules for its subnet $S3" wait_until 5 masq_has_subnet
tap_like "$(netns_exec n3 nft list table ip tartan-ipv4)" \
	'ip saddr 10\.5\.0\.0/16 ip daddr != 224\.0\.0\.0/4 masquerade fully-random' \
	"n3: traffic leaving the network is masqueraded, multicast is not"
table_back3()
{
	netns_exec n3 nft list table ip tartan-ipv4 >/dev/null 2>&1
}
tartand_stop n3 TERM || true
tap_check "n3: the table stays when tartand stops with --ip-masq" table_back3
tartand_start n3 -- --resync-interval=1 || tap_bail "could not start tartand in n3"
wait_until 15 tstatus_is n3 state running || tap_bail "n3 not running: $(tstatus n3 2>&1)"
tartand_stop n3 TERM || true
tap_is "$TARTAND_RC" 0 "n3: tartand without --ip-masq exits 0 on SIGTERM"
tap_is "$(netns_exec n3 nft list ruleset | grep -c tartan || true)" 0 \
	"n3: after a clean stop without --ip-masq, nothing of tartan's in nft list ruleset"

tap_done
