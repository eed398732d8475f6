#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# functions run through on_exit, wait_until and tap_check look unreachable to shellcheck:
# shellcheck disable=SC2317
#
# tests/daemon/pending-del.sh: no DEL is lost when tartand is not there (TAP; root). One
# host-gw node in a network namespace against a real etcd; the tartan plugin (TARTAN_CNI) run
# as a runtime runs it, its conf the conflist's tartan entry, "pendingDelDir" the daemon's
# <state-dir>/pending-del.
#
# Asserts:
# - with tartand stopped, a DEL (TARTAN_CNI_WAIT_S=20) exits 0 printing nothing, well before
#   the wait (the time is printed; asserted < 5 s), and leaves its record in the pending-DEL
#   directory;
# - tartand started again applies it before it serves requests: the address is no longer in
#   `tartanctl pods` or the IPAM store, the host veth is gone, the record removed, the log
#   says "pending DEL of ctr-p1 (eth0) applied"; the other pod keeps its address and veth;
#   garbage in the directory (not JSON; a record under another attachment's name) is logged
#   and moved aside as NAME.bad, and tartand runs on;
# - while tartand runs (resync every 60 s, so only the check before a request can see it): a
#   DEL recorded by a plugin that could not reach it (a wrong socket) is applied before the
#   next request is answered (an ADD of another pod), the record gone right after;
# - an ADD of an attachment with a pending record: the record is applied first (the log's
#   "pending DEL" line before the ADD's), and the ADD succeeds;
# - no error in tartand's log; SIGTERM ends it with exit status 0.

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

cni_plugin_setup
declare -A pod_host=()

now_us()
{
	echo "${EPOCHREALTIME//[!0-9]/}"
}

# add POD: ADD through the plugin; sets pod_ip[POD] and pod_host[POD]
add()
{
	tartan ADD "$1" "$CONF" "$T/add-$1.json"
	if ((RC != 0)); then
		tap_fail "ADD of $1" "exit $RC: $(cat "$T/add-$1.json" "$T/add-$1.json.err")"
		return 1
	fi
	pod_ip[$1]=$(jval "$T/add-$1.json" 'd["ips"][0]["address"].split("/")[0]')
	pod_host[$1]=$(jval "$T/add-$1.json" '[i["name"] for i in d["interfaces"] if not i.get("sandbox")][0]')
	tap_ok "ADD of $1: ${pod_ip[$1]}, host end ${pod_host[$1]}"
}

# pending_name ID: the record's file name of (ID, eth0), as the plugin names it
pending_name()
{
	"$PYTHON3" -c 'import sys
h = 14695981039346656037
for b in (sys.argv[1] + "/eth0").encode():
	h = ((h ^ b) * 1099511628211) % 2**64
print("%016x.json" % h)' "$1"
}

# listed ADDR: tartanctl pods lists ADDR
listed()
{
	local out
	out=$(tctl n1 pods --json) || return 2
	[[ $(jget "$out" "'$1' in [p['address'] for p in d['pods']]") == true ]]
}

host_link()
{
	netns_exec n1 ip link show dev "$1" >/dev/null 2>&1
}

# ---------------------------------------------------------------------------------------------

netns_node n1 192.0.2.11/24 || tap_bail "could not make node namespace n1"
tap_check "host-gw config put" ectl put "$FLANNEL_PREFIX/config" \
	'{"Network":"10.5.0.0/16","Backend":{"Type":"host-gw"}}'
start_n1()
{
	tartand_start n1 -- --resync-interval 60 || tap_bail "could not start tartand in n1"
	wait_until 20 tstatus_is n1 state running || tap_bail "n1 does not run: $(tstatus n1 2>&1)"
}
start_n1
PD=$TARTAN_WORK/n1/state/pending-del
LIST=$TARTAN_WORK/n1/net.d/10-tartan.conflist
wait_until 10 test -s "$LIST" || tap_bail "no conflist at $LIST"
# the conflist's tartan entry as libcni hands it over; "pendingDelDir" as tartand writes it
CONF=$T/conf.json
"$PYTHON3" -c 'import json, sys
l = json.load(open(sys.argv[1]))
p = dict(l["plugins"][0])
p.pop("capabilities", None)
p["cniVersion"], p["name"] = l["cniVersion"], l["name"]
p.setdefault("pendingDelDir", sys.argv[2])
print(json.dumps(p))' "$LIST" "$PD" >"$CONF"
tap_is "$(jval "$CONF" 'd["pendingDelDir"]')" "$PD" "the conf's pendingDelDir is n1's" || true
# the same conf with a socket nobody listens on: a plugin that cannot reach tartand
WRONG=$T/conf-wrong-socket.json
"$PYTHON3" -c 'import json, sys
d = json.load(open(sys.argv[1])); d["socket"] = sys.argv[2]; print(json.dumps(d))' \
	"$CONF" "$T/nobody.sock" >"$WRONG"

for p in p1 p2; do
	mkpod "$p" n1
	add "$p" || tap_bail "cannot go on without pod $p"
done

# ---------------------------------------------------------------------------------------------
# tartand down: DEL is recorded at once

tartand_stop n1 TERM || true
start=$(now_us)
tartan DEL p1 "$CONF" "$T/del-p1.out" TARTAN_CNI_WAIT_S=20
elapsed=$(($(now_us) - start))
tap_diag "DEL with tartand stopped took $((elapsed / 1000)) ms (wait set to 20 s)"
if ((RC == 0)) && [[ ! -s $T/del-p1.out ]]; then
	tap_ok "tartand stopped: DEL exits 0, printing nothing"
else
	tap_fail "tartand stopped: DEL exits 0, printing nothing" "exit $RC: $(cat "$T/del-p1.out")" \
		"stderr: $(cat "$T/del-p1.out.err")"
fi
if ((elapsed < 5000000)); then
	tap_ok "tartand stopped: DEL did not wait for it"
else
	tap_fail "tartand stopped: DEL did not wait for it" "took $((elapsed / 1000)) ms"
fi
REC1=$PD/$(pending_name ctr-p1)
tap_check "tartand stopped: the DEL is recorded as $REC1" test -s "$REC1" || true
tap_check "... and p1's address ${pod_ip[p1]} is still held (nothing else did the DEL)" \
	test -e "$TARTAN_WORK/n1/state/networks/rkt.kubernetes.io/${pod_ip[p1]}" || true

# garbage beside it: not JSON, and a good record under a name that is not its attachment's
printf 'not json' >"$PD/garbage.json"
cp "$REC1" "$PD/0000000000000000.json"

# ---------------------------------------------------------------------------------------------
# tartand back: the record applied before it serves anything

start_n1
if wait_until 10 test ! -e "$REC1"; then
	tap_ok "tartand back: the record is removed"
else
	tap_fail "tartand back: the record is removed" "$(ls -l "$PD")"
fi
tap_check_fails "tartand back: tartanctl pods no longer lists p1's ${pod_ip[p1]}" listed \
	"${pod_ip[p1]}" || true
tap_check_fails "tartand back: p1's IPAM file is gone" \
	test -e "$TARTAN_WORK/n1/state/networks/rkt.kubernetes.io/${pod_ip[p1]}" || true
tap_check_fails "tartand back: p1's host veth ${pod_host[p1]} is gone" host_link "${pod_host[p1]}" ||
	true
tap_check_fails "tartand back: p1's eth0 is gone" ip -n "${pod_ns[p1]}" link show dev eth0 || true
tap_check "tartand back: p2 keeps ${pod_ip[p2]} in tartanctl pods" listed "${pod_ip[p2]}" || true
tap_check "tartand back: p2 keeps its host veth ${pod_host[p2]}" host_link "${pod_host[p2]}" || true
tap_check "tartand's log: the pending DEL applied, naming the attachment, file and address" \
	tlog_has n1 "info: pending DEL of ctr-p1 \\(eth0\\) applied from ${REC1//./\\.}: released ${pod_ip[p1]//./\\.}$" ||
	true
for g in garbage.json 0000000000000000.json; do
	tap_is "$(test -e "$PD/$g" && echo there || echo gone) $(test -e "$PD/$g.bad" && echo there || echo gone)" \
		"gone there" "tartand back: $g is moved aside as $g.bad" || true
done
tap_check "tartand's log: the file that is not JSON is named, with the reason" \
	tlog_has n1 "warning: pending DEL $PD/garbage\\.json: not a JSON object; moved aside" || true
tap_check "tartand's log: the record under a wrong name is named, with the reason" \
	tlog_has n1 "warning: pending DEL $PD/0000000000000000\\.json: its file name is not the one of its attachment; moved aside" ||
	true

# ---------------------------------------------------------------------------------------------
# tartand running: a DEL recorded by a plugin that could not reach it is applied before the
# next request is answered

tartan DEL p2 "$WRONG" "$T/del-p2.out" TARTAN_CNI_WAIT_S=20
tap_is "$RC $(test -s "$PD/$(pending_name ctr-p2)" && echo recorded)" "0 recorded" \
	"a plugin with a wrong socket records p2's DEL, exit 0" || true
mkpod p4 n1
add p4 || true
tap_check_fails "right after the next request (ADD of p4): p2's record is gone" \
	test -e "$PD/$(pending_name ctr-p2)" || true
tap_check_fails "right after the next request: p2's ${pod_ip[p2]} is released" listed \
	"${pod_ip[p2]}" || true
tap_check_fails "right after the next request: p2's host veth is gone" host_link "${pod_host[p2]}" ||
	true

# an ADD of an attachment with a pending DEL: the DEL first
mkpod p3 n1
add p3 || true
tartan DEL p3 "$WRONG" "$T/del-p3.out"
tap_is "$RC $(test -s "$PD/$(pending_name ctr-p3)" && echo recorded)" "0 recorded" \
	"p3's DEL recorded by a plugin with a wrong socket" || true
old_host=${pod_host[p3]}
add p3 || true
order=$(tlog n1 | grep -E 'info: (pending DEL of ctr-p3|pod ADD ctr-p3 )' | tail -n 2 |
	sed -E 's/.*(pending DEL of ctr-p3|pod ADD ctr-p3).*/\1/' | paste -sd ',')
tap_is "$order" "pending DEL of ctr-p3,pod ADD ctr-p3" \
	"ADD of p3 with a pending DEL: the DEL is applied first" || true
tap_check "p3 works after its ADD: eth0 holds ${pod_ip[p3]}" \
	bash -c "ip -n ${pod_ns[p3]} -4 -o addr show dev eth0 | grep -qF ' ${pod_ip[p3]}/'" || true
tap_check "p3's host end $old_host is there" host_link "$old_host" || true

tap_is "$(tlog_errors n1)" "" "no error in tartand's log" || true
tartand_stop n1 TERM || true
tap_is "$TARTAND_RC" 0 "tartand exits 0 on SIGTERM" || true

tap_done
