#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/demo.sh: a tartan cluster on one machine. It installs what is missing, builds
# tartan, and then, all inside network namespaces it creates (the host's own network is not
# touched):
#   - an underlay namespace with a bridge (192.0.2.0/24) and a private etcd 3.4 on it,
#   - three node namespaces, each with tartand (flannel's host-gw backend by default),
#   - two pods per node: namespaces with a veth on the node's bridge and an address from the
#     node's subnet, as a bridge CNI plugin would set them up,
# then prints the leases tartan wrote to etcd, a ping matrix from every pod to every pod on
# the other nodes, and `tartanctl status` of each node. Everything is removed at exit.
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
	tartand_start "$n" -- --resync-interval 2 >/dev/null
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

heading "two pods on each node's bridge"
declare -A pod_ip=() pod_ns=()
pods=()
for n in "${nodes[@]}"; do
	subnet=$(tstatus "$n" subnet)
	base=${subnet%.0/24}
	for k in 1 2; do
		p=$n-p$k
		ns=${NETNS[$n]:0:11}p$k
		ip netns add "$ns"
		on_exit "ip netns del $ns 2>/dev/null"
		# the veth is made in the node with its pod end in the pod's namespace, with the
		# bridge's MTU (vxlan: 50 bytes less than eth0's, for the encapsulation)
		mtu=$(netns_exec "$n" cat /sys/class/net/cni0/mtu)
		netns_exec "$n" ip link add "v$k" mtu "$mtu" type veth peer name eth0 mtu "$mtu" \
			netns "$ns"
		netns_exec "$n" ip link set "v$k" master cni0 up
		ip netns exec "$ns" ip link set lo up
		ip netns exec "$ns" ip link set eth0 up
		ip netns exec "$ns" ip addr add "$base.$((9 + k))/24" dev eth0
		ip netns exec "$ns" ip route add default via "$base.1"
		pod_ip[$p]=$base.$((9 + k))
		pod_ns[$p]=$ns
		pods+=("$p")
		echo "$p: ${pod_ip[$p]} on $n's cni0"
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

heading "clean up"
for n in "${nodes[@]}"; do
	tartand_stop "$n" TERM >/dev/null || true
done
echo "nodes stopped; namespaces, etcd and temp dirs are removed at exit"
if ((failed)); then
	echo "demo: $failed pings failed" >&2
	exit 1
fi
echo "demo: all pods reach each other across nodes"
tap_done >/dev/null 2>&1 || true
