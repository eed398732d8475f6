#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# functions run through on_exit and wait_until look unreachable to shellcheck:
# shellcheck disable=SC2317
#
# tests/daemon/pod-churn.sh: 1,000 pods added and deleted through the tartan CNI plugin by 4
# concurrent callers, then a SIGKILL of tartand in the middle of a burst of ADDs and DELs,
# a restart and a CNI GC (TAP; root).
#
# One node n1 runs tartand (host-gw, {"Network":"10.5.0.0/16","SubnetLen":22,...}: a /22,
# 1,021 pod addresses). The plugin (TARTAN_CNI, default <dir of TARTAND>/../cni/tartan) is run
# as a runtime runs it: from inside the node, with a clean environment holding only PATH and
# CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS=/var/run/netns/X, CNI_IFNAME=eth0, CNI_PATH, and on
# stdin the conf a runtime builds from the 10-tartan.conflist tartand wrote (the tartan plugin
# object plus the list's "name" and "cniVersion"). The callers are threads of one python3
# driver (below), each running its own plugin processes.
#
# Phase 1, churn. 4 callers x 250 pods, each caller adding and deleting in a random
# interleaving with at most 20 of its pods live at once; pod network namespaces (24 per
# caller) are made up front and reused once their pod is deleted. Asserts: every one of the
# 2,000 plugin runs exits 0 and every ADD prints a result in the conf's cniVersion with one
# address of the node's /22 (not its network, broadcast or gateway address) on eth0 in the
# pod's netns; no ADD hands out an address a live pod holds (each ADD's address is checked
# against the set shared by the callers, where an address enters when its ADD returned and
# leaves before its DEL starts); at 5 checkpoints (the callers stopped at a barrier: after
# 50, 100, 150 and 200 pods each, and at the end) the IPAM directory
# (<state-dir>/networks/rkt.kubernetes.io) holds exactly one file per live pod, named by its
# address, holding "<id>\r\neth0", and nothing but those, "lock" and "last_reserved_ip.0";
# the node's veth host ends are exactly the live pods' (all on cni0) and each live pod's eth0
# holds exactly its address; at the end no address file, no host veth, no eth0 in any pod
# namespace is left; tartand logged no error.
#
# Phase 2, SIGKILL. 4 callers add 200 pods (50 each; all must succeed; the store must match
# them). Then a burst: each caller makes 40 random operations (DEL of one of its pods or ADD of
# a new one, each in a namespace of its own, never reused), and tartand is SIGKILLed once 40
# of the 160 have completed, left down 0.5 s and started again on the same state dir. The
# callers record every operation's outcome and check each ADD's address against their shared
# set of live pods' addresses, as in phase 1 (asserted: no duplicate, in the fill and in the
# burst); failures are expected only for operations started before the restarted daemon is
# running again (asserted). The pods that exist are those with
# a successful ADD and no DEL attempted; an operation that failed (in flight at the kill, or
# answered while the daemon had no subnet yet) has an unknown outcome and is decided by whether
# its attachment is whole: eth0 holding an address and the host end on cni0 (an ADD cut short
# part of the way failed for its caller: GC must remove what it left). Asserted: the kill fell inside
# the burst (operations completed before it and after the restart); before any GC, no address file belongs to a pod whose DEL
# succeeded (a successful DEL released its address, also one answered by a daemon that had
# just restarted). Then a CNI GC through the plugin (cniVersion 1.1.0,
# "cni.dev/valid-attachments" = the existing pods) must succeed, and: no temp file is left in
# the store; the store holds exactly one file per existing pod ("<id>\r\neth0"); each
# existing pod's eth0 holds exactly the address of its file (so the addresses are unique);
# the host veths are exactly the existing pods'. Finally all existing pods are DELeted by the
# 4 callers (all succeed), after which no address file, veth or pod eth0 is left, and tartand
# exits 0 on SIGTERM.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/etcd.sh
. "$here/../lib/etcd.sh"
# shellcheck source=tests/lib/netns.sh
. "$here/../lib/netns.sh"
# shellcheck source=tests/lib/tartand.sh
. "$here/../lib/tartand.sh"

# shellcheck source=tests/lib/churn.sh
. "$here/../lib/churn.sh"

CALLERS=4
PODS_PER_CALLER=250     # phase 1: 4 x 250 = 1,000 pods
WINDOW=20               # phase 1: live pods per caller at most
KEEP_PER_CALLER=50      # phase 2: 4 x 50 = 200 live pods
BURST_PER_CALLER=40     # phase 2: operations per caller in the burst
KILL_AFTER=40           # phase 2: completed burst operations before the SIGKILL

churn_node_up
# phase 1: 24 namespaces per caller (reused); phase 2: 50 per caller for the fill (the first
# 200 of phase 1's and more), then 40 for the burst
churn_ns_make "$TARTAN_WORK/ns-fill" '%sp%03d' 0 $((CALLERS * KEEP_PER_CALLER))
head -n $((CALLERS * (WINDOW + 4))) "$TARTAN_WORK/ns-fill" >"$TARTAN_WORK/ns-churn"
churn_ns_make "$TARTAN_WORK/ns-burst" '%sp%03d' $((CALLERS * KEEP_PER_CALLER)) \
	$((CALLERS * BURST_PER_CALLER))

# ---------------------------------------------------------------------------------------------
# Phase 1: churn
R=$TARTAN_WORK/churn.json
t0=$SECONDS
driver churn "$R" "$TARTAN_WORK/ns-churn" "$CALLERS" "$PODS_PER_CALLER" "$WINDOW" ||
	tap_bail "the churn driver failed"
tap_diag "churn: $((CALLERS * PODS_PER_CALLER)) pods added and deleted in $((SECONDS - t0)) s;" \
	"at most $(rget "$R" 'd["max_live"]') live at once"
report_is "$R" 'd["adds"]' "churn: $((CALLERS * PODS_PER_CALLER)) ADDs run" \
	$((CALLERS * PODS_PER_CALLER))
report_is "$R" 'd["dels"]' "churn: as many DELs run" "$((CALLERS * PODS_PER_CALLER))"
report_is "$R" 'd["failures"]' "churn: every plugin run succeeded, every ADD result is right"
report_is "$R" 'd["duplicates"]' "churn: no ADD handed out an address a live pod held"
report_is "$R" 'len(d["checkpoints"])' "churn: 5 checkpoints made" 5
report_is "$R" 'd["problems"]' "churn: at each checkpoint and at the end, the store, the veths and the pods' addresses are exactly the live pods'; nothing left at the end"
tap_is "$(tlog_errors n1)" "" "churn: no error in tartand's log" || true
tap_check "churn: tartand still runs" tartand_alive n1 || true

# ---------------------------------------------------------------------------------------------
# Phase 2: 200 live pods, a SIGKILL during a burst, restart, GC
L=$TARTAN_WORK/ledger.json
driver fill "$L" "$TARTAN_WORK/fill.json" "$TARTAN_WORK/ns-fill" "$CALLERS" \
	"$KEEP_PER_CALLER" || tap_bail "the fill driver failed"
report_is "$TARTAN_WORK/fill.json" 'd["failures"]' "fill: every ADD succeeded"
report_is "$TARTAN_WORK/fill.json" 'd["live"]' "fill: $((CALLERS * KEEP_PER_CALLER)) pods live" \
	"$((CALLERS * KEEP_PER_CALLER))"
report_is "$TARTAN_WORK/fill.json" 'd["duplicates"]' "fill: no ADD handed out an address a live pod held"
report_is "$TARTAN_WORK/fill.json" 'd["problems"]' "fill: store, veths and addresses match the pods"

churn_crash "$L" 0 "$TARTAN_WORK/ns-burst" "$BURST_PER_CALLER" "$KILL_AFTER"

R=$TARTAN_WORK/drain.json
driver drain "$L" "$R" "$CALLERS" || tap_bail "the drain driver failed"
report_is "$R" 'd["failures"]' "drain: DEL of all $(rget "$R" 'd["deleted"]') existing pods succeeded"
report_is "$R" 'd["problems"]' "drain: no address file, veth or pod eth0 left"

tartand_stop n1 TERM || true
tap_is "$TARTAND_RC" 0 "tartand exits 0 on SIGTERM" || true

tap_done
