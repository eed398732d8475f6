#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/demo.sh: a tartan cluster on one machine. It installs what is missing, builds
# tartan, and then, all inside network namespaces it creates (the host's own network is not
# touched):
#   - an underlay namespace with a bridge (192.0.2.0/24) and a private etcd 3.4 on it,
#   - three node namespaces, each with tartand (flannel's host-gw backend by default), which
#     writes its CNI conf list (10-tartan.conflist) into the node's conf dir,
#   - two pods per node, attached through the tartan CNI plugin as a container runtime does
#     it: the plugin found by the conf's "type" in CNI_PATH, run in the node with CNI_COMMAND=
#     ADD, CNI_CONTAINERID, CNI_NETNS (the pod's namespace), CNI_IFNAME=eth0, CNI_ARGS (the
#     pod's Kubernetes namespace and name) and CNI_PATH, and on stdin the tartan plugin's object
#     from the conf list plus the list's "name" and "cniVersion"; tartand makes the pod's veth
#     and gives it an address from the node's subnet,
# then prints the leases tartan wrote to etcd, the address the plugin returned for each pod, a
# ping matrix from every pod to every pod on the other nodes, `tartanctl status` and
# `tartanctl pods` of each node, and deletes every pod through the plugin (CNI DEL, with the
# ADD's result as prevResult) before it stops the nodes. Everything is removed at exit.
#
#	bash tests/demo.sh              (as root)
#
#	bash tests/demo.sh --backend vxlan
#
# Options: --backend host-gw|vxlan (flannel's backends; host-gw by default), --keep-going (do
# not stop at the first failed ping).

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
backend=host-gw
keep_going=0
while (($#)); do
	case $1 in
	--backend) backend=$2; shift 2 ;;
	--backend=*) backend=${1#*=}; shift ;;
	--keep-going) keep_going=1; shift ;;
	*) echo "usage: bash tests/demo.sh [--backend host-gw|vxlan] [--keep-going]" >&2; exit 2 ;;
	esac
done
if [[ $backend != host-gw && $backend != vxlan ]]; then
	echo "demo: backend '$backend': tartand has host-gw and vxlan" >&2
	exit 2
fi

# shellcheck source=tests/lib/setup.sh
. "$here/lib/setup.sh"
step=0
heading()
{
	step=$((step + 1))
	printf '\n=== %d. %s\n' "$step" "$*"
}

heading "build tartan ($TARTAN_BUILD)"
build_main
export TARTAND=$TARTAN_BUILD/daemon/tartand TARTANCTL=$TARTAN_BUILD/ctl/tartanctl
# where a runtime looks for the plugins a conf names: tartan's, then Debian's
cni_path=$TARTAN_BUILD/cni:/usr/lib/cni

# shellcheck source=tests/lib/etcd.sh
. "$here/lib/etcd.sh"
# shellcheck source=tests/lib/netns.sh
. "$here/lib/netns.sh"
# shellcheck source=tests/lib/tartand.sh
. "$here/lib/tartand.sh"

heading "underlay namespace with etcd on $NETNS_UNDERLAY_IP"
tartan_net_setup >/dev/null
echo "etcd: $ETCD_ENDPOINT_e"

heading "the network config, as flannel's: $FLANNEL_PREFIX/config"
config="{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"Type\":\"$backend\"}}"
echo "$config"
ectl put "$FLANNEL_PREFIX/config" "$config" >/dev/null

nodes=(n1 n2 n3)
heading "three nodes, tartand in each (--iface eth0, backend $backend)"
for i in 0 1 2; do
	n=${nodes[$i]}
	netns_node "$n" "192.0.2.$((11 + i))/24" >/dev/null
	# a node routes its pods' traffic: forwarding on, inside the node's namespace only
	netns_exec "$n" sysctl -qw net.ipv4.ip_forward=1
	# the CNI confs in the node's own dirs, not the host's /etc/cni/net.d and /etc/rkt/net.d
	tartand_start "$n" -- --resync-interval 2 --cni-conf-dir "$TARTAN_WORK/$n/net.d" \
		--rkt-net-dir "$TARTAN_WORK/$n/rkt.d" >/dev/null
done
for n in "${nodes[@]}"; do
	wait_until 15 tstatus_is "$n" state running || {
		echo "demo: $n did not get a lease" >&2
		tlog "$n" >&2
		exit 1
	}
	echo "$n: subnet $(tstatus "$n" subnet), public IP $(tstatus "$n" public_ip)"
done

heading "the leases in etcd (flanneld's keys and values)"
ectl get --prefix "$FLANNEL_PREFIX/subnets/" | paste - -

heading "two pods on each node, attached through the tartan CNI plugin"
declare -A pod_ip=() pod_ns=() pod_node=() pod_id=() pod_conf=()
pods=()

# runtime_conf NODE: the stdin a runtime gives the list's first plugin (libcni: the plugin's
# object plus the list's "name" and "cniVersion"), from the conf list tartand wrote; prints
# the file it is in
runtime_conf()
{
	local list=$TARTAN_WORK/$1/net.d/10-tartan.conflist conf=$TARTAN_WORK/$1/tartan.json
	wait_until 10 test -s "$list" || {
		echo "demo: $1: tartand wrote no $list" >&2
		return 1
	}
	"$PYTHON3" -c '
import json, sys
l = json.load(open(sys.argv[1]))
p = dict(l["plugins"][0], name=l["name"], cniVersion=l["cniVersion"])
assert p["type"] == "tartan", p
json.dump(p, open(sys.argv[2], "w"))
' "$list" "$conf" || return 1
	echo "$conf"
}

# cni VERB POD CONF: run the plugin CONF names with CNI_COMMAND=VERB, as a runtime on POD's node
# does: found in CNI_PATH, a clean environment, CONF on stdin; prints the plugin's stdout
cni()
{
	local verb=$1 pod=$2 conf=$3 type dir dirs=() plugin=""
	type=$(jget "$(<"$conf")" 'd["type"]')
	IFS=: read -r -a dirs <<<"$cni_path"
	for dir in "${dirs[@]}"; do
		if [[ -x $dir/$type ]]; then
			plugin=$dir/$type
			break
		fi
	done
	if [[ -z $plugin ]]; then
		echo "demo: no plugin \"$type\" in CNI_PATH $cni_path" >&2
		return 1
	fi
	netns_exec "${pod_node[$pod]}" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		CNI_COMMAND="$verb" CNI_CONTAINERID="${pod_id[$pod]}" \
		CNI_NETNS="/var/run/netns/${pod_ns[$pod]}" CNI_IFNAME=eth0 \
		CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=demo;K8S_POD_NAME=$pod" \
		CNI_PATH="$cni_path" "$plugin" <"$conf"
}

for n in "${nodes[@]}"; do
	conf=$(runtime_conf "$n") || exit 1
	if [[ $n == "${nodes[0]}" ]]; then
		echo "the runtime's conf for the tartan plugin, from $n's 10-tartan.conflist:"
		echo "  $(<"$conf")"
	fi
	for k in 1 2; do
		p=$n-p$k
		ns=${NETNS[$n]:0:11}p$k
		ip netns add "$ns"
		on_exit "ip netns del $ns 2>/dev/null"
		pod_ns[$p]=$ns
		pod_node[$p]=$n
		pod_conf[$p]=$conf
		# a container id as containerd makes them: 64 hex digits
		pod_id[$p]=$(printf '%s' "$ns" | sha256sum | cut -c1-64)
		if ! result=$(cni ADD "$p" "$conf"); then
			echo "demo: CNI ADD of $p failed: $result" >&2
			tlog "$n" | tail -n 20 >&2
			exit 1
		fi
		printf '%s\n' "$result" >"$TARTAN_WORK/$n/$p.result"
		addr=$(jget "$result" 'd["ips"][0]["address"]')
		pod_ip[$p]=${addr%/*}
		pods+=("$p")
		# the plugin's result: the address, on the pod's interface, and the host end
		echo "$p: $(jget "$result" '"%s on %s, gateway %s, host end %s" % (d["ips"][0]["address"],
			d["interfaces"][d["ips"][0]["interface"]]["name"], d["ips"][0]["gateway"],
			d["interfaces"][0]["name"])') on $n's cni0"
	done
done

if [[ $backend == host-gw ]]; then
	heading "tartan's routes on each node (host-gw: peer subnet via peer public IP)"
else
	heading "tartan's entries on each node (vxlan: per peer an ARP entry and an FDB entry on" \
		"flannel.1, and a route via the peer's VTEP address)"
fi
for n in "${nodes[@]}"; do
	echo "$n:"
	wait_until 10 bash -c "[[ \$(ip netns exec ${NETNS[$n]} ip route show proto 84 | wc -l) == 2 ]]" || true
	netns_exec "$n" ip route show proto 84 | sed 's/^/  route /'
	if [[ $backend == vxlan ]]; then
		netns_exec "$n" ip neigh show dev flannel.1 | sed 's/^/  neigh /'
		netns_exec "$n" bridge fdb show dev flannel.1 | grep ' dst ' | sed 's/^/  fdb   /'
	fi
done

heading "ping matrix: every pod to every pod on the other nodes"
failed=0
printf '%-8s' ""
for q in "${pods[@]}"; do printf '%-8s' "$q"; done
echo
for p in "${pods[@]}"; do
	printf '%-8s' "$p"
	for q in "${pods[@]}"; do
		if [[ ${p%-p*} == "${q%-p*}" ]]; then
			printf '%-8s' "."
		elif ip netns exec "${pod_ns[$p]}" ping -c1 -W2 -q "${pod_ip[$q]}" >/dev/null 2>&1; then
			printf '%-8s' "ok"
		else
			printf '%-8s' "FAIL"
			failed=$((failed + 1))
		fi
	done
	echo
	if ((failed && !keep_going)); then
		break
	fi
done

heading "tartanctl status on each node"
for n in "${nodes[@]}"; do
	echo "--- $n"
	netns_exec "$n" "$TARTANCTL" --socket "${TARTAND_SOCK[$n]}" status
done

heading "tartanctl pods on each node"
for n in "${nodes[@]}"; do
	echo "--- $n"
	netns_exec "$n" "$TARTANCTL" --socket "${TARTAND_SOCK[$n]}" pods
done

heading "clean up: every pod deleted through the plugin (CNI DEL), then the nodes stopped"
del_failed=0
for p in "${pods[@]}"; do
	n=${pod_node[$p]}
	# libcni passes the ADD's cached result to DEL as prevResult
	"$PYTHON3" -c '
import json, sys
c = json.load(open(sys.argv[1]))
c["prevResult"] = json.load(open(sys.argv[2]))
json.dump(c, open(sys.argv[3], "w"))
' "${pod_conf[$p]}" "$TARTAN_WORK/$n/$p.result" "$TARTAN_WORK/$n/$p.del.json"
	if out=$(cni DEL "$p" "$TARTAN_WORK/$n/$p.del.json") &&
		! ip netns exec "${pod_ns[$p]}" ip link show eth0 >/dev/null 2>&1; then
		echo "$p: deleted (its eth0 is gone)"
	else
		echo "$p: CNI DEL failed or left eth0 behind: $out" >&2
		del_failed=$((del_failed + 1))
	fi
done
for n in "${nodes[@]}"; do
	left=$(jget "$(tctl "$n" --json pods)" 'len(d["pods"])')
	echo "$n: $left pods left (tartanctl pods)"
	if [[ $left != 0 ]]; then
		del_failed=$((del_failed + 1))
	fi
done
for n in "${nodes[@]}"; do
	tartand_stop "$n" TERM >/dev/null || true
done
echo "nodes stopped; namespaces, etcd and temp dirs are removed at exit"
if ((failed)); then
	echo "demo: $failed pings failed" >&2
	exit 1
fi
if ((del_failed)); then
	echo "demo: deleting the pods failed ($del_failed)" >&2
	exit 1
fi
echo "demo: all pods reach each other across nodes"
tap_done >/dev/null 2>&1 || true
