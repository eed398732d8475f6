#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# functions run through on_exit, wait_until and tap_check look unreachable to shellcheck:
# shellcheck disable=SC2317
#
# tests/runtime/podman.sh: Debian's podman 4.3 (CNI backend, runc, cgroupfs, vfs) attaching
# containers through tartan on two host-gw nodes n1 and n2 in network namespaces, against a
# real etcd (TAP; root). tests/lib/runtime.sh keeps every podman file in the test's temp dir
# and podman reads the conflist tartand writes in the node's conf dir; the image is a
# busybox-static rootfs imported with `podman import` (no registry).
#
# Asserts:
# - both nodes run; podman lists the network "tartan" of each node's conflist;
# - cross-node traffic: a container on n1 pings a container on n2 and gets an answer from
#   its `nc` listener; tartand logs one info line per ADD (id, ifname, address, ok, ms);
# - `-p 30080:8080` on n2: reached from n1's namespace, from the container on n1, and from
#   the container itself (hairpin, on by default);
# - `--ip A --mac-address M` on n1: the container has A and M; `podman network reload` keeps
#   both (podman asks for A twice in runtimeConfig ips then, MAC= in CNI_ARGS) and the
#   container still reaches n2's; an address outside n1's subnet is refused with a message
#   naming it; `podman network reload` of a container without --ip keeps its address too;
# - tartand of n1 down: `podman run` fails with a message saying why (no socket), and
#   `podman rm -f` of a running container returns quickly (measured; bound 10 s, where it
#   took 30 s) and succeeds; once tartand is back, the address is free (not in `tartanctl
#   pods`, no IPAM file) and the container's veth is gone;
# - podman in a mount namespace of its own (the pod's /run/netns/netns-* invisible to
#   tartand) attaches a container that reaches n2's, and its rm (in the same mount
#   namespace) frees the address;
# - 12 parallel `podman run -d` then 12 parallel `podman rm -f`: every container got a
#   distinct address while up; afterwards `tartanctl pods` lists none of them, the IPAM
#   store holds none of their addresses and cni0 has no port;
# - `podman network rm -f tartan` (deletes the conflist) and a deleted subnet.env: both
#   written again, the same (waits up to 10 s, reports the time), `tartanctl status` counts
#   the conflist restored, and a container attaches after;
# - n1's lease key overwritten with etcdctl (another PublicIP, no etcd lease): tartand
#   writes its own value back, `tartanctl status` names the rival's PublicIP, and n2's
#   container still reaches n1's;
# - no error line in either daemon's log.
# Cleanup, on every exit: tests/lib/runtime.sh.

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
declare -A subnet=() store=()

netns_require
runtime_require podman runc conmon busybox nsenter
[[ -n ${TARTAN_CNI:-} && -x ${TARTAN_CNI:-} ]] ||
	tap_bail "TARTAN_CNI is not set to the tartan plugin binary (got '${TARTAN_CNI:-}')"
[[ -x $RT_CNI_BIN/portmap ]] || tap_bail "$RT_CNI_BIN/portmap missing (containernetworking-plugins)"

tartan_net_setup

# ---------------------------------------------------------------------------------------------
# Helpers

start_node()
{
	tartand_start "$1" -- --resync-interval 5 || tap_bail "could not start tartand in $1"
}

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

# run_ctr NODE NAME [PODMAN RUN ARGS...] -- CMD...: podman run -d on the tartan network,
# recording the pod's namespace for the cleanup
run_ctr()
{
	local node=$1 name=$2 args=()
	shift 2
	while (($#)) && [[ $1 != -- ]]; do
		args+=("$1")
		shift
	done
	shift
	local rc=0
	pm "$node" run -d -q --name "$name" --network tartan "${args[@]}" "$RT_IMAGE" "$@" \
		>/dev/null || rc=1
	# a failed run may have left its container and namespace: the cleanup needs them too
	pm_netns_record "$node" "$name"
	return "$rc"
}

# ctr_nc_is NODE CTR ADDR PORT: `nc ADDR PORT` in the container gets "pong". The answer is
# checked inside the container, by its exit status, whatever becomes of podman exec's output.
# shellcheck disable=SC2016 # $0 and $1 are the inner shell's
ctr_nc_is()
{
	pm "$1" exec "$2" sh -c 'nc -w 2 "$0" "$1" </dev/null | grep -qx pong' "$3" "$4" \
		</dev/null 2>/dev/null
}

# shellcheck disable=SC2016 # $0 and $1 are the inner shell's
mnt_nc_is()
{
	pm_mntns n1 exec mnt sh -c 'nc -w 2 "$0" "$1" </dev/null | grep -qx pong' "$1" "$2" \
		</dev/null 2>/dev/null
}

ctr_ping()
{
	pm "$1" exec "$2" ping -c 1 -W 1 "$3"
}

# status_get NODE EXPR: EXPR (python, on d) of `tartanctl status --json`
status_get()
{
	local out
	out=$(tstatus "$1") || return 1
	jget "$out" "$2"
}

# lease_is_ours KEY PUBLICIP: the lease's PublicIP is PUBLICIP
lease_is_ours()
{
	local v
	v=$(key_value "$1") || return 1
	[[ $(jget "$v" 'd["PublicIP"]') == "$2" ]]
}

# ---------------------------------------------------------------------------------------------
# Two host-gw nodes with podman

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
	podman_node "$n" || tap_bail "could not set up podman for $n"
done
tap_diag "subnets: n1 ${subnet[n1]}, n2 ${subnet[n2]}"
for n in n1 n2; do
	tap_like "$(pm "$n" network ls --format '{{.Name}}' 2>&1 | paste -sd ' ')" '(^| )tartan( |$)' \
		"$n: podman lists the network tartan from the node's conflist" || true
done

# ---------------------------------------------------------------------------------------------
# Cross-node traffic, host ports, hairpin

t0=$EPOCHREALTIME
run_ctr n2 s2 -p 30080:8080 -- nc -ll -p 8080 -e echo pong || tap_bail "podman run on n2 failed"
tap_diag "podman run -d on n2 (with -p): $(rt_ms_since "$t0") ms"
run_ctr n1 c1 -- sleep 3600 || tap_bail "podman run on n1 failed"
a_s2=$(pm_ip n2 s2)
a_c1=$(pm_ip n1 c1)
if rt_in_net "$a_s2" "${subnet[n2]}" && rt_in_net "$a_c1" "${subnet[n1]}"; then
	tap_ok "containers got addresses of their node's subnet (c1 $a_c1, s2 $a_s2)"
else
	tap_fail "containers got addresses of their node's subnet" "c1 '$a_c1', s2 '$a_s2'"
fi
tap_check "c1 (n1) pings s2 (n2) at $a_s2" wait_until 20 ctr_ping n1 c1 "$a_s2" || true
tap_check "c1 (n1) gets s2's nc answer at $a_s2:8080" \
	wait_until 20 ctr_nc_is n1 c1 "$a_s2" 8080 || true
tap_check "n2's tartand logs the ADD of s2 (id, ifname, address, ok, ms)" \
	tlog_has n2 "pod ADD [0-9a-f]{12} [^ ]+ eth0 ${a_s2//./\\.}(/24)? ok [0-9.]+ ms" || true
tap_check "host port 30080 of n2 reached from n1's namespace" \
	wait_until 20 bash -c "[[ \$(ip netns exec ${NETNS[n1]} busybox nc -w 2 ${ip[n2]} 30080 \
		</dev/null) == pong ]]" || true
tap_check "host port 30080 of n2 reached from c1 on n1" \
	wait_until 20 ctr_nc_is n1 c1 "${ip[n2]}" 30080 || true
tap_check "hairpin: s2 reaches itself through n2's host port 30080" \
	wait_until 20 ctr_nc_is n2 s2 "${ip[n2]}" 30080 || true

# ---------------------------------------------------------------------------------------------
# Static address and MAC

want_ip=${subnet[n1]%.0/24}.77
want_mac=02:54:61:72:74:01
run_ctr n1 st --ip "$want_ip" --mac-address "$want_mac" -- sleep 3600 2>"$TARTAN_WORK/st.err" ||
	tap_fail "podman run --ip --mac-address on n1" "$(cat "$TARTAN_WORK/st.err" 2>/dev/null)"
tap_is "$(pm_ip n1 st 2>&1)" "$want_ip" "--ip $want_ip is the container's address" || true
tap_is "$(pm_mac n1 st 2>&1)" "$want_mac" "--mac-address $want_mac is the container's MAC" || true
pm n1 network reload st >"$TARTAN_WORK/reload.out" 2>&1 ||
	tap_fail "podman network reload st" "$(cat "$TARTAN_WORK/reload.out")"
tap_is "$(pm_ip n1 st 2>&1)" "$want_ip" "podman network reload keeps $want_ip" || true
tap_is "$(pm_mac n1 st 2>&1)" "$want_mac" "podman network reload keeps $want_mac" || true
tap_check "st reaches s2 on n2 after the reload" wait_until 20 ctr_nc_is n1 st "$a_s2" 8080 || true
out=$(pm n1 run -d --name bad --network tartan --ip 10.99.0.5 "$RT_IMAGE" sleep 3600 2>&1) &&
	rc=0 || rc=$?
pm_netns_record n1 bad
if ((rc != 0)) && [[ $out == *10.99.0.5* ]]; then
	tap_ok "--ip 10.99.0.5 (outside ${subnet[n1]}) is refused, naming the address"
else
	tap_fail "--ip 10.99.0.5 (outside ${subnet[n1]}) is refused, naming the address" \
		"exit $rc; output: $out"
fi
pm n1 rm -f -t 0 bad >/dev/null 2>&1 || true

# ---------------------------------------------------------------------------------------------
# tartand down: failures say why, rm does not wait, the DEL is applied at restart

pods_before=$(rt_pods_addrs n1)
ports_before=$(rt_ports n1 | wc -w)
tartand_stop n1 TERM || true
t0=$EPOCHREALTIME
out=$(pm n1 run -d --name down --network tartan "$RT_IMAGE" sleep 3600 2>&1) && rc=0 || rc=$?
ms=$(rt_ms_since "$t0")
pm_netns_record n1 down
tap_diag "podman run with tartand down: exit $rc after $ms ms"
if ((rc != 0)) && [[ $out =~ (no socket at|nothing listening at) ]]; then
	tap_ok "podman run with tartand down fails saying why ($ms ms)"
else
	tap_fail "podman run with tartand down fails saying why" "exit $rc after $ms ms; $out"
fi
pm n1 rm -f -t 0 down >/dev/null 2>&1 || true
t0=$EPOCHREALTIME
pm n1 rm -f -t 0 c1 >"$TARTAN_WORK/rm-c1.out" 2>&1 && rc=0 || rc=$?
ms=$(rt_ms_since "$t0")
tap_diag "podman rm -f c1 with tartand down: exit $rc after $ms ms"
if ((rc == 0 && ms < 10000)); then
	tap_ok "podman rm -f with tartand down returns at once ($ms ms)"
else
	tap_fail "podman rm -f with tartand down returns at once" "exit $rc after $ms ms" \
		"$(cat "$TARTAN_WORK/rm-c1.out")"
fi
start_node n1
node_up n1
if wait_until 20 rt_pods_lack n1 "$a_c1"; then
	tap_ok "after the restart tartanctl pods no longer lists c1's $a_c1"
else
	tap_fail "after the restart tartanctl pods no longer lists c1's $a_c1" \
		"$(tctl n1 pods 2>&1)"
fi
tap_check_fails "after the restart the IPAM store has no file $a_c1" test -e "${store[n1]}/$a_c1" ||
	true
want=$(tr ' ' '\n' <<<"$pods_before" | grep -vxF "$a_c1" | paste -sd ' ' || true)
tap_is "$(rt_pods_addrs n1 2>&1)" "$want" "after the restart n1 lists the other pods only" || true
tap_is "$(rt_ports n1 | wc -w)" "$((ports_before - 1))" \
	"after the restart n1's cni0 has one port less (c1's veth is gone)" || true

# ---------------------------------------------------------------------------------------------
# podman in a mount namespace of its own (unshare -m, kept for run and rm: the pod's
# /run/netns/netns-* is mounted only there; `ip netns exec` would do the same, but its fresh
# /sys has no cgroup mounts for runc)

pm_mntns_start n1 || tap_bail "could not make a mount namespace for podman"
pm_mntns n1 run -d -q --name mnt --network tartan "$RT_IMAGE" sleep 3600 \
	>"$TARTAN_WORK/mnt.out" 2>&1 && rc=0 || rc=$?
if ((rc == 0)); then
	tap_ok "podman in a mount namespace of its own attaches a container"
	# its /run/netns file is an empty file outside that mount namespace; every podman
	# command about it runs in that namespace
	pm_netns_record n1 mnt pm_mntns
	a_mnt=$(pm_mntns n1 exec mnt ip -4 -o addr show dev eth0 |
		awk '{ split($4, a, "/"); print a[1] }')
	tap_check "that container ($a_mnt) reaches s2 on n2" \
		wait_until 20 mnt_nc_is "$a_s2" 8080 || true
	pm_mntns n1 rm -f -t 0 mnt >"$TARTAN_WORK/mnt-rm.out" 2>&1 ||
		tap_fail "podman rm in a mount namespace of its own" "$(cat "$TARTAN_WORK/mnt-rm.out")"
	tap_check "its rm frees $a_mnt (not in tartanctl pods)" \
		wait_until 20 rt_pods_lack n1 "$a_mnt" || true
else
	tap_fail "podman in a mount namespace of its own attaches a container" \
		"$(cat "$TARTAN_WORK/mnt.out")"
	tap_fail "that container reaches s2 on n2" "not attached"
	tap_fail "its rm frees the address" "not attached"
	pm_mntns n1 rm -f -t 0 mnt >/dev/null 2>&1 || true
fi

# ---------------------------------------------------------------------------------------------
# Parallel runs leak nothing

pm n1 rm -f -t 0 st >/dev/null 2>&1 || tap_fail "podman rm st failed"
# what an earlier failure left is not this part's to report
pods_before=$(rt_pods_addrs n1)
files_before=$(rt_addr_files "${store[n1]}")
N=12
pids=()
for ((i = 0; i < N; i++)); do
	pm n1 run -d -q --name "par$i" --network tartan "$RT_IMAGE" sleep 3600 \
		>"$TARTAN_WORK/par$i.out" 2>&1 &
	pids+=($!)
done
fails=0
for i in "${!pids[@]}"; do
	wait "${pids[$i]}" || fails=$((fails + 1))
	pm_netns_record n1 "par$i"
done
tap_is "$fails" 0 "$N parallel podman run -d succeed" || cat "$TARTAN_WORK"/par*.out >&2
addrs=$(for ((i = 0; i < N; i++)); do pm_ip n1 "par$i" 2>/dev/null; done | sort -u | wc -l)
tap_is "$addrs" "$N" "the $N containers hold $N distinct addresses" || true
pids=()
for ((i = 0; i < N; i++)); do
	pm n1 rm -f -t 0 "par$i" >/dev/null 2>&1 &
	pids+=($!)
done
fails=0
for p in "${pids[@]}"; do
	wait "$p" || fails=$((fails + 1))
done
tap_is "$fails" 0 "$N parallel podman rm -f succeed" || true
tap_is "$(rt_pods_addrs n1 2>&1)" "$pods_before" \
	"tartanctl pods on n1 lists no parallel container (before: '$pods_before')" || true
tap_is "$(rt_addr_files "${store[n1]}")" "$files_before" \
	"n1's IPAM store holds no parallel container's address (before: '$files_before')" || true
tap_is "$(rt_ports n1)" "" "n1's cni0 has no port left (no leaked veth)" || true

# ---------------------------------------------------------------------------------------------
# Files come back

conflist=${TARTAND_DIR[n1]}/net.d/10-tartan.conflist
senv=${TARTAND_DIR[n1]}/subnet.env
before=$(cat "$conflist")
t0=$EPOCHREALTIME
tap_check "podman network rm -f tartan succeeds (it deletes the conflist)" \
	pm n1 network rm -f tartan || rm -f "$conflist"
if wait_until 10 test -s "$conflist"; then
	tap_ok "the conflist deleted by podman network rm is written again ($(rt_ms_since "$t0") ms)"
	tap_is "$(cat "$conflist")" "$before" "it is the same conflist" || true
else
	tap_fail "the conflist deleted by podman network rm is written again" "still missing after 10 s"
fi
tap_like "$(status_get n1 "[f.get('restored') for f in d.get('files', [])
	if f.get('path') == '$conflist']" 2>&1)" '^\[[1-9][0-9]*\]$' \
	"tartanctl status counts the conflist as restored" || true
senv_before=$(cat "$senv")
rm -f "$senv"
t0=$EPOCHREALTIME
if wait_until 10 test -s "$senv"; then
	tap_ok "a deleted subnet.env is written again ($(rt_ms_since "$t0") ms)"
	tap_is "$(cat "$senv")" "$senv_before" "it is the same subnet.env" || true
else
	tap_fail "a deleted subnet.env is written again" "still missing after 10 s"
fi
tap_check "a container attaches after the conflist came back" run_ctr n1 c3 -- sleep 3600 || true

# ---------------------------------------------------------------------------------------------
# The lease key overwritten by another writer

key=$(subnet_key "${subnet[n1]}")
val=$(key_value "$key")
rival=$("$PYTHON3" -c 'import json, sys; d = json.loads(sys.argv[1]); d["PublicIP"] = "192.0.2.99"
print(json.dumps(d))' "$val")
ectl put "$key" "$rival" >/dev/null
if wait_until 10 lease_is_ours "$key" "${ip[n1]}"; then
	tap_ok "n1 writes its lease key back after another writer overwrote it"
else
	tap_fail "n1 writes its lease key back after another writer overwrote it" \
		"value: $(key_value "$key" 2>&1)"
fi
tap_is "$(status_get n1 "(d.get('leaseRival') or {}).get('publicIP')" 2>&1)" \
	192.0.2.99 "tartanctl status names the rival's PublicIP 192.0.2.99" || true
a_c3=$(pm_ip n1 c3 2>/dev/null || true)
tap_check "s2 (n2) still pings c3 (n1, $a_c3)" wait_until 20 ctr_ping n2 s2 "$a_c3" || true

# podman network reload of a container without --ip: podman asks for its address again
# (runtimeConfig ips)
pm n1 network reload c3 >"$TARTAN_WORK/reload-c3.out" 2>&1 ||
	tap_fail "podman network reload c3" "$(cat "$TARTAN_WORK/reload-c3.out")"
tap_is "$(pm_ip n1 c3 2>&1)" "$a_c3" "podman network reload keeps c3's $a_c3 (no --ip)" || true

# ---------------------------------------------------------------------------------------------

for n in n1 n2; do
	tap_is "$(tlog_errors "$n")" "" "no error line in $n's log" || true
done
tap_done
