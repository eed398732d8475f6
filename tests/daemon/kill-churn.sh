#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/daemon/kill-churn.sh: crash safety of the pods' state (TAP; root). 500 pods live on
# one node (tests/lib/churn.sh: host-gw, a /22), then 20 rounds, each a burst of random CNI
# ADDs and DELs through the tartan plugin by 4 concurrent callers during which tartand is
# SIGKILLed at a random point (after 5 to 60 of the round's 160 operations completed) and
# started again on the same state dir, followed by a CNI GC with the pods that exist as the
# valid attachments.
#
# Asserted every round (churn_crash): no ADD handed out an address a live pod held; no
# operation started after the restarted daemon was running failed; before the GC no address
# file is left of a pod whose DEL succeeded; after it the store holds exactly one file per
# existing pod and nothing else (no temp file), each existing pod's eth0 holds its file's
# address (so every existing pod kept its address and no address is held twice) and the host
# veths are exactly theirs; and every file tartand keeps under its state dir is whole:
# each pod record in pods/ parses as JSON, subnet.env holds its four lines. At the end all
# pods are DELeted (nothing left) and tartand exits 0 on SIGTERM.

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
KEEP_PER_CALLER=125 # 4 x 125 = 500 live pods
ROUNDS=20
BURST_PER_CALLER=40 # operations per caller and round

churn_node_up

# namespace names: NETNS_TAG, 'q' and a number in hex (at most 15 characters)
churn_ns_make "$TARTAN_WORK/ns-fill" '%sq%03x' 0 $((CALLERS * KEEP_PER_CALLER))
L=$TARTAN_WORK/ledger.json
driver fill "$L" "$TARTAN_WORK/fill.json" "$TARTAN_WORK/ns-fill" "$CALLERS" \
	"$KEEP_PER_CALLER" || tap_bail "the fill driver failed"
report_is "$TARTAN_WORK/fill.json" 'd["failures"]' "fill: every ADD succeeded"
report_is "$TARTAN_WORK/fill.json" 'd["live"]' "fill: $((CALLERS * KEEP_PER_CALLER)) pods live" \
	"$((CALLERS * KEEP_PER_CALLER))"
report_is "$TARTAN_WORK/fill.json" 'd["duplicates"]' "fill: no ADD handed out an address a live pod held"
report_is "$TARTAN_WORK/fill.json" 'd["problems"]' "fill: store, veths and addresses match the pods"

# state_whole: what is torn among tartand's own files (nothing: empty output)
state_whole()
{
	"$PYTHON3" -c '
import json, os, sys
state, env = sys.argv[1], sys.argv[2]
for name in sorted(os.listdir(os.path.join(state, "pods"))):
    if name.startswith("."):
        continue  # a temp file, never read as a record
    try:
        json.load(open(os.path.join(state, "pods", name)))
    except ValueError as e:
        print("pods/%s: %s" % (name, e))
lines = open(env).read().splitlines()
if [l.split("=")[0] for l in lines] != ["FLANNEL_NETWORK", "FLANNEL_SUBNET", "FLANNEL_MTU",
                                       "FLANNEL_IPMASQ"]:
    print("%s: %r" % (env, lines))
' "$TARTAN_WORK/n1/state" "$TARTAN_WORK/n1/subnet.env" 2>&1
}

next_ns=$((CALLERS * KEEP_PER_CALLER))
for ((round = 1; round <= ROUNDS; round++)); do
	churn_ns_make "$TARTAN_WORK/ns-burst" '%sq%03x' "$next_ns" $((CALLERS * BURST_PER_CALLER))
	next_ns=$((next_ns + CALLERS * BURST_PER_CALLER))
	churn_crash "$L" "$round" "$TARTAN_WORK/ns-burst" "$BURST_PER_CALLER" \
		$((5 + RANDOM % 56))
	tap_is "$(state_whole)" "" "round $round: every file under the state dir is whole" || true
	# the namespaces no pod uses any more: of pods deleted or gone, and those the burst
	# did not take
	mapfile -t drop < <("$PYTHON3" -c '
import json, sys
led = json.load(open(sys.argv[1]))
used = {p["ns"] for p in led["pods"].values() if p["state"] == "live"}
seen = {p["ns"] for p in led["pods"].values()}
for ns in open(sys.argv[2]).read().split():
    if ns not in seen:
        print(ns)
for p in led["pods"].values():
    if p["state"] in ("deleted", "gone") and p["ns"] not in used:
        print(p["ns"])
' "$L" "$TARTAN_WORK/ns-burst")
	churn_ns_drop "${drop[@]}"
done
tap_diag "state dir after $ROUNDS kills: $(find "$TARTAN_WORK/n1/state" -name '.*' | wc -l) temp files," \
	"$(find "$TARTAN_WORK/n1/state/pods" -type f | wc -l) pod records"

R=$TARTAN_WORK/drain.json
driver drain "$L" "$R" "$CALLERS" || tap_bail "the drain driver failed"
report_is "$R" 'd["failures"]' "drain: DEL of all $(rget "$R" 'd["deleted"]') existing pods succeeded"
report_is "$R" 'd["problems"]' "drain: no address file, veth or pod eth0 left"
tap_is "$(find "$TARTAN_WORK/n1/state/pods" -type f ! -name '.*' | wc -l)" 0 \
	"drain: no pod record left (the GCs swept those of ADDs cut short)" || true

tartand_stop n1 TERM || true
tap_is "$TARTAND_RC" 0 "tartand exits 0 on SIGTERM" || true

tap_done
