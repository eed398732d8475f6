#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# functions run through on_exit, wait_until and tap_check look unreachable to shellcheck:
# shellcheck disable=SC2317
#
# tests/runtime/containerd.sh: Debian's containerd 1.6 and `ctr run --cni` attaching containers
# through tartan on two host-gw nodes n1 and n2 in network namespaces, against a real etcd
# (TAP; root). containerd runs privately (tests/lib/runtime.sh: own config, root, state and
# socket in the temp dir, a mount namespace with a tmpfs on /run); ctr runs in a node's
# network namespace with the node's conf dir on /etc/cni/net.d (private mount namespace); the
# image is an OCI tarball written by oci-image.py from a busybox-static rootfs.
#
# Asserts:
# - containerd answers and imports the image;
# - a container on n1 (ctr run --rm --cni) gets an address of n1's subnet, pings a container
#   on n2 and gets its `nc` answer;
# - when that `ctr run --rm` ends, its DEL freed the address: tartanctl pods does not list
#   it, the IPAM store has no file for it, cni0 has no port left;
# - tartand of n1 down when a task is killed: `ctr run --rm` still ends (its DEL, measured)
#   and once tartand is back the address is free (not listed, no IPAM file, no veth);
# - no error line in either daemon's log.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/etcd.sh
. "$here/../lib/etcd.sh"
# shellcheck source=tests/lib/netns.sh
. "$here/../lib/netns.sh"
# shellcheck source=tests/lib/tartand.sh
. "$here/../lib/tartand.sh"
# shellcheck source=tests/lib/runtime.sh
. "$here/../lib/runtime.sh"

P=$FLANNEL_PREFIX
HOSTGW_CONFIG='{"Network":"10.5.0.0/16","Backend":{"Type":"host-gw"}}'
declare -A ip=([n1]=192.0.2.11 [n2]=192.0.2.12)
declare -A subnet=() store=() ctr_pid=()

netns_require
runtime_require containerd ctr runc containerd-shim-runc-v2 busybox nsenter unshare
[[ -n ${TARTAN_CNI:-} && -x ${TARTAN_CNI:-} ]] ||
	tap_bail "TARTAN_CNI is not set to the tartan plugin binary (got '${TARTAN_CNI:-}')"
[[ -x $RT_CNI_BIN/portmap ]] || tap_bail "$RT_CNI_BIN/portmap missing (containernetworking-plugins)"

tartan_net_setup

node_up()
{
	local n=$1 s
	if ! wait_until 20 tstatus_is "$n" peers 1 || ! tstatus_is "$n" state running; then
		tap_bail "$n does not run with 1 peer: $(tstatus "$n" 2>&1)"
	fi
	s=$(tstatus "$n" subnet)
	[[ $s =~ ^10\.5\.[0-9]+\.0/24$ ]] || tap_bail "$n has no subnet ('$s')"
	subnet[$n]=$s
	store[$n]=$TARTAN_WORK/$n/state/networks/rkt.kubernetes.io
}

start_node()
{
	tartand_start "$1" -- --resync-interval 5 || tap_bail "could not start tartand in $1"
}

# bg_run NODE NAME CMD...: `ctr run --rm --cni` in the background (ctr_pid[NAME]), until
# the task runs
bg_run()
{
	local node=$1 name=$2
	shift 2
	ctrn "$node" run --rm --cni "$RT_IMAGE" "$name" "$@" </dev/null \
		>"$TARTAN_WORK/$name.out" 2>&1 &
	ctr_pid[$name]=$!
	wait_until 20 ctd_running "$name"
}

ctd_running()
{
	[[ $(ctd_task_status "$1") == RUNNING ]]
}

ctd_ip()
{
	ctd_exec "$1" ip -4 -o addr show dev eth0 | awk '{ split($4, a, "/"); print a[1] }'
}

# ---------------------------------------------------------------------------------------------

for n in n1 n2; do
	netns_node "$n" "${ip[$n]}/24" || tap_bail "could not make node namespace $n"
	netns_exec "$n" sysctl -qw net.ipv4.ip_forward=1 || tap_bail "no forwarding in $n"
done
ectl put "$P/config" "$HOSTGW_CONFIG" >/dev/null || tap_bail "could not put the config"
for n in n1 n2; do
	start_node "$n"
done
for n in n1 n2; do
	node_up "$n"
	wait_until 10 test -s "${TARTAND_DIR[$n]}/net.d/10-tartan.conflist" ||
		tap_bail "$n wrote no conflist"
done
tap_diag "subnets: n1 ${subnet[n1]}, n2 ${subnet[n2]}"

if ctd_start; then
	tap_ok "containerd runs and imported $RT_IMAGE from an OCI tarball"
else
	tap_bail "containerd does not run here: $(tail -n 5 "$CTD_DIR/containerd.log" 2>&1)"
fi

bg_run n2 s2 nc -ll -p 8080 -e echo pong ||
	tap_bail "ctr run on n2 failed: $(cat "$TARTAN_WORK/s2.out")"
a_s2=$(ctd_ip s2)
tap_diag "s2 on n2: $a_s2"

t0=$EPOCHREALTIME
out=$(ctrn n1 run --rm --cni "$RT_IMAGE" c1 sh -c \
	"ip -4 -o addr show dev eth0; ping -c 1 -W 2 $a_s2 >/dev/null && echo ping-ok; \
	 nc -w 2 $a_s2 8080 </dev/null" 2>&1) && rc=0 || rc=$?
tap_diag "ctr run --rm --cni c1 on n1: exit $rc after $(rt_ms_since "$t0") ms"
a_c1=$(awk '$2 == "eth0" { split($4, a, "/"); print a[1] }' <<<"$out")
if ((rc == 0)) && [[ -n $a_c1 ]] && rt_in_net "$a_c1" "${subnet[n1]}"; then
	tap_ok "c1 on n1 got $a_c1 of n1's ${subnet[n1]} through tartan"
else
	tap_fail "c1 on n1 got an address of n1's ${subnet[n1]} through tartan" "exit $rc: $out"
fi
tap_like "$out" $'ping-ok\npong' "c1 (n1) pings s2 (n2) at $a_s2 and gets its nc answer" || true
tap_check "the DEL of ctr run --rm freed $a_c1 (not in tartanctl pods)" \
	wait_until 20 rt_pods_lack n1 "$a_c1" || true
tap_check_fails "the IPAM store of n1 has no file $a_c1" test -e "${store[n1]}/$a_c1" || true
tap_is "$(rt_ports n1)" "" "n1's cni0 has no port left" || true

# tartand down while the DEL runs
bg_run n1 c2 sleep 3600 || tap_bail "ctr run c2 on n1 failed: $(cat "$TARTAN_WORK/c2.out")"
a_c2=$(ctd_ip c2)
tap_diag "c2 on n1: $a_c2"
tartand_stop n1 TERM || true
t0=$EPOCHREALTIME
ctr -a "$CTD_DIR/containerd.sock" -n "$CTD_NS" task kill -s KILL c2 >/dev/null
rc=0
wait "${ctr_pid[c2]}" || rc=$?
ms=$(rt_ms_since "$t0")
tap_diag "ctr run --rm c2 ended $ms ms after the kill, exit $rc;" \
	"output: $(cat "$TARTAN_WORK/c2.out")"
if ((rc == 137 && ms < 10000)); then
	tap_ok "with tartand down ctr run --rm ends at once after the kill ($ms ms, exit 137)"
else
	tap_fail "with tartand down ctr run --rm ends at once after the kill (exit 137)" \
		"exit $rc after $ms ms; $(cat "$TARTAN_WORK/c2.out")"
fi
start_node n1
node_up n1
tap_check "after the restart the pending DEL freed $a_c2 (not in tartanctl pods)" \
	wait_until 20 rt_pods_lack n1 "$a_c2" || tap_diag "$(tctl n1 pods 2>&1)"
tap_check_fails "after the restart the IPAM store of n1 has no file $a_c2" \
	test -e "${store[n1]}/$a_c2" || true
tap_is "$(rt_ports n1)" "" "after the restart n1's cni0 has no port left" || true

ctr -a "$CTD_DIR/containerd.sock" -n "$CTD_NS" task kill -s KILL s2 >/dev/null 2>&1 || true
wait "${ctr_pid[s2]}" || true
tap_check "s2's ctr run --rm freed $a_s2 on n2" wait_until 20 rt_pods_lack n2 "$a_s2" || true

for n in n1 n2; do
	tap_is "$(tlog_errors "$n")" "" "no error line in $n's log" || true
done
tap_done
