#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# functions run through on_exit, wait_until and tap_check look unreachable to shellcheck:
# shellcheck disable=SC2317
#
# tests/daemon/valgrind.sh: tartand under valgrind's memcheck through a life of a node: no
# invalid memory access, no definitely or indirectly lost block (TAP; root). Only in the
# build without sanitizers (valgrind cannot run ASan binaries; see tests/daemon/meson.build).
#
# One host-gw node n1 ({"Network":"10.5.0.0/16","Backend":{"Type":"host-gw"}}, --resync-interval
# 1, /healthz and /metrics on 192.0.2.11) against a real etcd. tartand runs as
#   valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect
#            --errors-for-leak-kinds=definite,indirect --error-exitcode=99
#            --suppressions=tests/daemon/valgrind.supp --log-file=...
# with GNUTLS_NO_IMPLICIT_INIT=1 in its environment, so it does not re-exec itself
# (daemon/main.c reexec_without_gnutls_init) and valgrind watches the one process.
# It goes through:
# - lease acquisition: status running, its subnet's key in etcd with its PublicIP;
# - three host-gw peers put (leased, as other nodes' daemons put them): one route each via
#   the peer's PublicIP; one route deleted by hand is back (the resync); one peer's etcd lease
#   revoked: its route goes, the others stay;
# - pods through the tartan CNI plugin (run as a runtime runs it, see tests/daemon/pods.sh):
#   three ADDs, each an address of n1's subnet; tartanctl pods lists three; two DELs; one left;
# - tartanctl status, leases, pods and routes, text and --json, all exit 0;
# - /metrics answers 200 with tartan_ metrics;
# - etcd stopped (SIGTERM) for 4 s and started again: a fourth peer put afterwards gets its
#   route (the watch resumed), a's and b's stay;
# - SIGHUP: subnet.env rewritten (deleted before, there again after), the daemon still running;
# - the last pod DELeted, then SIGTERM: tartand exits 0 within 60 s (valgrind's exit status:
#   99 would mean memcheck errors);
# - valgrind's log: ERROR SUMMARY 0 errors, no "Invalid read/write/free", no uninitialised
#   value use, definitely lost and indirectly lost 0 bytes. Its summary is printed (TAP
#   comments).

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/etcd.sh
. "$here/../lib/etcd.sh"
# shellcheck source=tests/lib/netns.sh
. "$here/../lib/netns.sh"
# shellcheck source=tests/lib/tartand.sh
. "$here/../lib/tartand.sh"

P=$FLANNEL_PREFIX
HOSTGW_CONFIG='{"Network":"10.5.0.0/16","Backend":{"Type":"host-gw"}}'
N1=192.0.2.11
declare -A peer_ip=([a]=192.0.2.21 [b]=192.0.2.22 [c]=192.0.2.23 [d]=192.0.2.24)
declare -A peer_subnet=([a]=10.5.201.0/24 [b]=10.5.202.0/24 [c]=10.5.203.0/24 [d]=10.5.204.0/24)
declare -A peer_lease=() pod_cid=()
pod_names=()

netns_require
command -v valgrind >/dev/null || tap_bail "valgrind not found (apt-get install valgrind)"
[[ -n ${TARTAN_CNI:-} && -x ${TARTAN_CNI:-} ]] ||
	tap_bail "TARTAN_CNI is not set to the tartan plugin binary (got '${TARTAN_CNI:-}')"
command -v curl >/dev/null || tap_bail "curl not found"

tartan_net_setup
T=$TARTAN_WORK/t
mkdir -p "$T"
VG_LOG=$T/valgrind.log
REAL_TARTAND=$TARTAND
TARTAND=$T/tartand-valgrind
cat >"$TARTAND" <<EOF
#!/bin/sh
exec valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect \\
	--errors-for-leak-kinds=definite,indirect --error-exitcode=99 --num-callers=30 \\
	--log-file="$VG_LOG" "$REAL_TARTAND" "\$@"
EOF
chmod +x "$TARTAND"
TARTAND_ENV[n1]="GNUTLS_NO_IMPLICIT_INIT=1"
HTTP_PORT=$(free_port)

pods_ns_cleanup()
{
	local p
	for p in "${pod_names[@]}"; do
		ip netns del "${NETNS_TAG}$p" 2>/dev/null || true
	done
}
on_exit pods_ns_cleanup
vg_log_on_exit()
{
	tap_failed || return 0
	[[ -s $VG_LOG ]] || return 0
	echo "# ---- valgrind log (first 150 lines)" >&2
	head -n 150 "$VG_LOG" | sed 's/^/# /' >&2
}
on_exit vg_log_on_exit

# put_peer NAME: the peer's host-gw lease, on a fresh etcd lease of 600 s (its ID, in hex as
# etcdctl prints it, in peer_lease[NAME])
put_peer()
{
	local id
	id=$(ectl lease grant 600 | awk '/granted/ { print $2 }')
	[[ -n $id ]] || return 1
	peer_lease[$1]=$id
	ectl put "$(subnet_key "${peer_subnet[$1]}")" \
		"{\"PublicIP\":\"${peer_ip[$1]}\",\"PublicIPv6\":null,\"BackendType\":\"host-gw\"}" \
		--lease="$id" >/dev/null
}

# route_of NAME: n1's route to the peer's subnet, as ip prints it
route_of()
{
	netns_exec n1 ip -4 route show "${peer_subnet[$1]}"
}

route_is_there()
{
	[[ $(route_of "$1") == *"via ${peer_ip[$1]} dev eth0"* ]]
}

route_is_gone()
{
	[[ -z $(route_of "$1") ]]
}

# cni CMD POD OUT: the tartan plugin in n1 as a runtime runs it
cni()
{
	netns_exec n1 env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin CNI_COMMAND="$1" \
		CNI_CONTAINERID="${pod_cid[$2]}" CNI_NETNS="/var/run/netns/${NETNS_TAG}$2" \
		CNI_IFNAME=eth0 CNI_PATH="$(dirname "$TARTAN_CNI")" \
		timeout 60 "$TARTAN_CNI" <"$T/tartan.json" >"$3" 2>"$3.err"
}

tap_plan 19

tap_check "host-gw config put" ectl put "$P/config" "$HOSTGW_CONFIG"
netns_node n1 "$N1/24" || tap_bail "could not make node namespace n1"
tartand_start n1 -- --resync-interval 1 --bridge cni0 --rkt-net-dir= \
	--healthz-ip "$N1" --healthz-port "$HTTP_PORT" || tap_bail "could not start tartand"

# -- lease acquisition (memcheck makes the daemon some 20x slower: generous waits)
if wait_until 90 tstatus_is n1 state running; then
	subnet=$(tstatus n1 subnet)
	if [[ $(key_value "$(subnet_key "$subnet")" 2>/dev/null) == *"\"PublicIP\":\"$N1\""* ]]; then
		tap_ok "lease acquired under valgrind: $subnet, its key in etcd with PublicIP $N1"
	else
		tap_fail "lease acquired under valgrind" "key $(subnet_key "$subnet"):" \
			"$(key_value "$(subnet_key "$subnet")" 2>&1)"
	fi
else
	tap_bail "tartand under valgrind did not reach state running in 90 s: $(tstatus n1 2>&1); log: $(tlog n1 | tail -n 20); valgrind: $(tail -n 20 "$VG_LOG" 2>&1)"
fi
wait_until 30 test -s "$TARTAN_WORK/n1/net.d/10-tartan.conflist" ||
	tap_bail "no conflist written"
"$PYTHON3" - "$TARTAN_WORK/n1/net.d/10-tartan.conflist" "$T/tartan.json" <<'EOF'
import json, sys
l = json.load(open(sys.argv[1]))
t = dict(l["plugins"][0], name=l["name"], cniVersion=l["cniVersion"])
assert t["type"] == "tartan", t
json.dump(t, open(sys.argv[2], "w"))
EOF

# -- peers: added, a route repaired, one removed
for p in a b c; do
	put_peer "$p" || tap_bail "could not put peer $p"
done
if wait_until 30 route_is_there a && wait_until 30 route_is_there b &&
	wait_until 30 route_is_there c; then
	tap_ok "three peers: one host-gw route each via its PublicIP"
else
	tap_fail "three peers: one host-gw route each via its PublicIP" \
		"routes: $(netns_exec n1 ip -4 route 2>&1)"
fi
netns_exec n1 ip route del "${peer_subnet[b]}" via "${peer_ip[b]}" dev eth0 || true
if wait_until 30 route_is_there b; then
	tap_ok "a route deleted by hand is repaired"
else
	tap_fail "a route deleted by hand is repaired" "expected: ${peer_subnet[b]} via ${peer_ip[b]}" \
		"seen: $(route_of b 2>&1)"
fi
ectl lease revoke "${peer_lease[c]}" >/dev/null
if wait_until 30 route_is_gone c && route_is_there a && route_is_there b; then
	tap_ok "peer c's lease revoked: its route goes, a's and b's stay"
else
	tap_fail "peer c's lease revoked: its route goes, a's and b's stay" \
		"routes: $(netns_exec n1 ip -4 route 2>&1)"
fi

# -- pods through the plugin
added=0
for p in p0 p1 p2; do
	pod_names+=("$p")
	pod_cid[$p]=vg-$p
	ip netns add "${NETNS_TAG}$p"
	ip -n "${NETNS_TAG}$p" link set lo up
	if cni ADD "$p" "$T/$p.add" &&
		addr=$(jget "$(cat "$T/$p.add")" 'd["ips"][0]["address"]') &&
		"$PYTHON3" -c 'import ipaddress, sys
sys.exit(0 if ipaddress.ip_interface(sys.argv[1]).network == ipaddress.ip_network(sys.argv[2]) else 1)' \
		"$addr" "$subnet"; then
		added=$((added + 1))
	else
		tap_diag "ADD $p: $(cat "$T/$p.add" "$T/$p.add.err" 2>&1)"
	fi
done
tap_is "$added" 3 "three pods ADDed through the plugin, each an address of $subnet" || true
out=$(tctl n1 --json pods 2>&1) || true
tap_is "$(jget "$out" 'len(d["pods"])' 2>&1)" 3 "tartanctl pods lists the three" || true
dels=0
for p in p0 p1; do
	if cni DEL "$p" "$T/$p.del"; then
		dels=$((dels + 1))
	else
		tap_diag "DEL $p: $(cat "$T/$p.del" "$T/$p.del.err" 2>&1)"
	fi
done
tap_is "$dels" 2 "two pods DELeted" || true
out=$(tctl n1 --json pods 2>&1) || true
tap_is "$(jget "$out" 'len(d["pods"])' 2>&1)" 1 "tartanctl pods lists one left" || true

# -- tartanctl
bad=""
for c in status leases pods routes; do
	tctl n1 "$c" >"$T/ctl-$c.txt" 2>&1 || bad+=" $c: $(cat "$T/ctl-$c.txt")"
	tctl n1 --json "$c" >"$T/ctl-$c.json" 2>&1 || bad+=" --json $c: $(cat "$T/ctl-$c.json")"
done
if [[ -z $bad ]]; then
	tap_ok "tartanctl status, leases, pods, routes (text and --json) exit 0"
else
	tap_fail "tartanctl status, leases, pods, routes (text and --json) exit 0" "failed:$bad"
fi

# -- /metrics
code=$(netns_exec n1 curl -s --max-time 20 -o "$T/metrics.txt" -w '%{http_code}' \
	"http://$N1:$HTTP_PORT/metrics" 2>&1) || true
if [[ $code == 200 ]] && grep -q '^tartan_' "$T/metrics.txt"; then
	tap_ok "/metrics answers 200 with tartan_ metrics"
else
	tap_fail "/metrics answers 200 with tartan_ metrics" "code: $code" \
		"body: $(head -c 300 "$T/metrics.txt" 2>&1)"
fi

# -- etcd away for a few seconds: the daemon's retry and reconnect paths, then its watch
# resumes (a peer put after the restart gets its route)
etcd_kill e
sleep 4
etcd_restart e || tap_bail "could not restart etcd"
put_peer d || tap_bail "could not put peer d"
if wait_until 60 route_is_there d && route_is_there a && route_is_there b; then
	tap_ok "etcd stopped for 4 s and restarted: a peer put afterwards gets its route, a's and b's stay"
else
	tap_fail "etcd stopped for 4 s and restarted: a peer put afterwards gets its route" \
		"routes: $(netns_exec n1 ip -4 route 2>&1)" "status: $(tstatus n1 2>&1)"
fi

# -- SIGHUP
rm -f "$TARTAN_WORK/n1/subnet.env"
kill -HUP "${TARTAND_PID[n1]}"
if wait_until 30 test -s "$TARTAN_WORK/n1/subnet.env" && tstatus_is n1 state running; then
	tap_ok "SIGHUP: subnet.env rewritten, still running"
else
	tap_fail "SIGHUP: subnet.env rewritten, still running" "status: $(tstatus n1 2>&1)" \
		"log: $(tlog n1 | tail -n 5)"
fi

# -- the last pod, then SIGTERM
tap_check "last pod DELeted" cni DEL p2 "$T/p2.del"
tartand_stop n1 TERM 60 || true
tap_is "$TARTAND_RC" 0 "SIGTERM: tartand under valgrind exits 0 (99: memcheck errors)" || true
tap_is "$(tlog_errors n1)" "" "no error line in tartand's log" || true

# -- valgrind's verdict
if [[ ! -s $VG_LOG ]]; then
	tap_bail "valgrind wrote no log to $VG_LOG"
fi
echo "# ---- valgrind summary ($VG_LOG)"
sed -n '/HEAP SUMMARY/,$p' "$VG_LOG" | sed 's/^==[0-9]*== \{0,1\}/# /'
errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9,]*\) errors.*/\1/p' "$VG_LOG" | tail -n 1)
tap_is "$errors" 0 "valgrind: ERROR SUMMARY 0 errors" || true
invalid=$(grep -E 'Invalid (read|write|free)|Mismatched free|uninitialised|Source and destination overlap' "$VG_LOG" || true)
tap_is "$invalid" "" "valgrind: no invalid access, bad free or uninitialised value use" || true
definite=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$VG_LOG" | tail -n 1)
indirect=$(sed -n 's/.*indirectly lost: \([0-9,]*\) bytes.*/\1/p' "$VG_LOG" | tail -n 1)
# no leak at all also reads "All heap blocks were freed -- no leaks are possible"
if grep -q 'All heap blocks were freed' "$VG_LOG"; then
	definite=${definite:-0} indirect=${indirect:-0}
fi
tap_is "${definite:-missing}/${indirect:-missing}" 0/0 \
	"valgrind: definitely lost / indirectly lost bytes" || true
tap_done
