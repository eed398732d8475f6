# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# functions run through on_exit and wait_until look unreachable to shellcheck:
# shellcheck disable=SC2317
#
# tests/lib/churn.sh: pod churn against one node, for tests/daemon/pod-churn.sh and
# kill-churn.sh. Source after etcd.sh, netns.sh and tartand.sh, then call churn_node_up.
#
# One node n1 runs tartand (host-gw, {"Network":"10.5.0.0/16","SubnetLen":22,...}: a /22,
# 1,021 pod addresses). The plugin (TARTAN_CNI, default <dir of TARTAND>/../cni/tartan) is run
# as a runtime runs it, by the driver tests/lib/churn.py inside n1: a clean environment, the
# conf a runtime builds from the 10-tartan.conflist tartand wrote (the tartan plugin object
# plus the list's "name" and "cniVersion") on stdin.

CHURN_CONFIG='{"Network":"10.5.0.0/16","SubnetLen":22,"Backend":{"Type":"host-gw"}}'
CHURN_DRIVER=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/churn.py
: "${TARTAN_CNI:=$(dirname "${TARTAND:-.}")/../cni/tartan}"
_CHURN_NS=()

# driver SUBCOMMAND ARGS...: the driver, inside n1 (as a runtime on the node would be)
driver()
{
	netns_exec n1 env CHURN_PLUGIN="$TARTAN_CNI" CHURN_CONF="$TARTAN_WORK/conf.json" \
		CHURN_IPAM="$IPAM_DIR" CHURN_SUBNET="$SUBNET" CHURN_BRIDGE=cni0 \
		"$PYTHON3" "$CHURN_DRIVER" "$@"
}

# rget FILE EXPR: jget on a JSON file (the ledger is too big for an argument); lists print
# as their first 30 entries, one a line
rget()
{
	"$PYTHON3" -c '
import json, sys
d = json.load(open(sys.argv[1]))
v = eval(sys.argv[2], {"d": d})
if isinstance(v, list):
    v = "\n".join(map(str, v[:30])) + ("\n... %d in all" % len(v) if len(v) > 30 else "")
print(v)
' "$1" "$2"
}

# report_is FILE EXPR DESC [WANT]: rget FILE EXPR prints WANT (default: nothing)
report_is()
{
	tap_is "$(rget "$1" "$2" 2>&1 || true)" "${4:-}" "$3" || true
}

# now_s: EPOCHREALTIME (seconds, with microseconds)
now_s()
{
	printf '%s\n' "$EPOCHREALTIME"
}

start_n1()
{
	tartand_start n1 -- --bridge cni0 "--cni-conf-dir=$TARTAN_WORK/n1/cni" --rkt-net-dir= ||
		tap_bail "could not start tartand in n1"
}

# churn_node_up: the node, its daemon (running, holding a /22: SUBNET) and the runtime's conf
# ($TARTAN_WORK/conf.json); IPAM_DIR is the daemon's store
churn_node_up()
{
	tartan_net_setup
	[[ -x $TARTAN_CNI ]] || tap_bail "TARTAN_CNI is not an executable (got '$TARTAN_CNI')"
	TARTAN_CNI=$(cd "$(dirname "$TARTAN_CNI")" && pwd)/$(basename "$TARTAN_CNI")
	IPAM_DIR=$TARTAN_WORK/n1/state/networks/rkt.kubernetes.io
	netns_node n1 192.0.2.11/24 || tap_bail "could not make node namespace n1"
	tap_check "host-gw config with SubnetLen 22 put" ectl put "$FLANNEL_PREFIX/config" \
		"$CHURN_CONFIG"
	start_n1
	if wait_until 20 tstatus_is n1 state running; then
		tap_ok "n1: tartand running"
	else
		tap_bail "n1: tartand not running: $(tstatus n1 2>&1)"
	fi
	SUBNET=$(tstatus n1 subnet 2>/dev/null || true)
	[[ $SUBNET =~ ^10\.5\.[0-9]+\.0/22$ ]] || tap_bail "n1 holds no /22 (status subnet '$SUBNET')"
	tap_diag "n1 holds $SUBNET"
	local conflist=$TARTAN_WORK/n1/cni/10-tartan.conflist
	wait_until 10 test -s "$conflist" || tap_bail "tartand wrote no $conflist"
	# what a runtime (libcni) gives each plugin of the list: its object plus name and cniVersion
	"$PYTHON3" -c '
import json, sys
l = json.load(open(sys.argv[1]))
p = dict(l["plugins"][0], name=l["name"], cniVersion=l["cniVersion"])
assert p["type"] == "tartan", p
json.dump(p, open(sys.argv[2], "w"))
' "$conflist" "$TARTAN_WORK/conf.json" || tap_bail "no tartan plugin in $conflist: $(cat "$conflist")"
	tap_diag "runtime conf: $(cat "$TARTAN_WORK/conf.json")"
	on_exit _churn_ns_cleanup
}

_churn_ns_cleanup()
{
	local ns
	for ns in "${_CHURN_NS[@]}"; do
		[[ ! -e /var/run/netns/$ns ]] || ip netns del "$ns" 2>/dev/null ||
			echo "# could not delete pod namespace $ns" >&2
	done
}

# churn_ns_make FILE FORMAT FIRST COUNT: pod namespaces named by printf FORMAT (given
# NETNS_TAG and a number) for the numbers FIRST..FIRST+COUNT-1, made in the test's own mount
# namespace (where the daemon and the driver see them), their names written to FILE; all
# deleted at exit
churn_ns_make()
{
	local file=$1 fmt=$2 first=$3 count=$4 i names=()
	for ((i = first; i < first + count; i++)); do
		names+=("$(printf "$fmt" "$NETNS_TAG" "$i")")
	done
	_CHURN_NS+=("${names[@]}")
	printf 'netns add %s\n' "${names[@]}" | ip -batch - ||
		tap_bail "could not make the pod namespaces"
	printf '%s\n' "${names[@]}" >"$file"
}

# churn_ns_drop NAME...: delete pod namespaces no pod uses any more
churn_ns_drop()
{
	(($#)) || return 0
	printf 'netns del %s\n' "$@" | ip -force -batch - 2>/dev/null || true
}

# churn_crash LEDGER ROUND NSFILE PER_CALLER KILL_AFTER: a burst of PER_CALLER random
# operations by each of CALLERS callers (DEL of one of its pods, or ADD of a new one in a
# namespace of NSFILE), tartand SIGKILLed once KILL_AFTER have completed, left down 0.5 s and
# started again on the same state dir; then a CNI GC of the pods that exist and the checks.
# TAP lines are prefixed "round ROUND: ".
churn_crash()
{
	local led=$1 round=$2 nsfile=$3 per=$4 kill_after=$5 pfx="round $2: " burst_pid="" R
	local progress=$TARTAN_WORK/progress t_kill t_up done_at_kill burst_rc n_before n_after
	: >"$progress"
	netns_spawn burst_pid n1 "$TARTAN_WORK/burst.log" env CHURN_PLUGIN="$TARTAN_CNI" \
		CHURN_CONF="$TARTAN_WORK/conf.json" CHURN_IPAM="$IPAM_DIR" CHURN_SUBNET="$SUBNET" \
		CHURN_BRIDGE=cni0 "$PYTHON3" "$CHURN_DRIVER" burst "$led" "$TARTAN_WORK/burst.json" \
		"$nsfile" "$CALLERS" "$per" "$progress" "$round"
	_progress_at_least()
	{
		(($(wc -l <"$progress") >= $1))
	}
	wait_until 60 _progress_at_least "$kill_after" ||
		tap_bail "${pfx}the burst did not get to $kill_after operations: $(cat "$TARTAN_WORK/burst.log")"
	t_kill=$(now_s)
	tartand_stop n1 KILL || true
	done_at_kill=$(wc -l <"$progress")
	tap_is "$TARTAND_RC" 137 "${pfx}tartand SIGKILLed after $done_at_kill completed operations" ||
		true
	sleep 0.5
	start_n1
	if wait_until 20 tstatus_is n1 state running; then
		t_up=$(now_s)
		tap_ok "${pfx}tartand running again"
	else
		t_up=$(now_s)
		tap_fail "${pfx}tartand running again" "$(tstatus n1 2>&1)"
	fi
	tap_is "$(tstatus n1 subnet 2>&1)" "$SUBNET" "${pfx}the restarted tartand holds $SUBNET again" ||
		true
	burst_rc=0
	wait "$burst_pid" || burst_rc=$?
	tap_is "$burst_rc" 0 "${pfx}the driver finished" || true
	report_is "$TARTAN_WORK/burst.json" 'd["problems"]' "${pfx}no driver error"
	report_is "$TARTAN_WORK/burst.json" 'd["duplicates"]' "${pfx}no ADD handed out an address a live pod held"
	tap_diag "$("$PYTHON3" -c '
import collections, json, sys
led = json.load(open(sys.argv[1]))
kill, up, rnd = float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
ops = [o for o in led["ops"] if o.get("round", "0") == rnd and "caller" in o]
c = collections.Counter("%s %s" % (o["op"], "ok" if o["rc"] == 0 else "failed") for o in ops)
print("round %s: " % rnd + ", ".join("%s: %d" % kv for kv in sorted(c.items())) +
      "; tartand down for %.2f s (kill to running again)" % (up - kill))
for o in ops:
    if o["rc"] != 0:
        print("failed: %s %s, ran %+.3f s to %+.3f s from the kill: %s"
              % (o["op"], o["id"], o["start"] - kill, o["end"] - kill, o["out"]))
' "$led" "$t_kill" "$t_up" "$round" 2>&1)"
	# operations of the burst that completed before the kill, and after the restart
	read -r n_before n_after < <("$PYTHON3" -c '
import json, sys
o = [x for x in json.load(open(sys.argv[1]))["ops"]
     if "caller" in x and x.get("round", "0") == sys.argv[4]]
print(len([x for x in o if x["end"] < float(sys.argv[2])]),
      len([x for x in o if x["end"] > float(sys.argv[3])]))
' "$led" "$t_kill" "$t_up" "$round") || true
	if ((${n_before:-0} > 0 && ${n_after:-0} > 0)); then
		tap_ok "${pfx}the kill fell inside the burst ($n_before operations completed before it, $n_after after the restart)"
	else
		tap_fail "${pfx}the kill fell inside the burst" \
			"operations completed before the kill: ${n_before:-?}, after the restart: ${n_after:-?}"
	fi
	report_is "$led" "[o['op'] + ' ' + o['id'] + ': ' + o['out'] for o in d['ops'] if 'caller' in o and o.get('round', '0') == '$round' and o['rc'] != 0 and o['start'] >= $t_up]" \
		"${pfx}no operation started after the restarted daemon was running failed"

	R=$TARTAN_WORK/gc.json
	driver gc "$led" "$R" "$t_kill" || tap_bail "${pfx}the gc driver failed"
	tap_diag "${pfx}after the kill: $(rget "$R" 'd["existing"]') pods exist; unknown outcomes:" \
		"$(rget "$R" '", ".join("%s %s" % kv for kv in sorted(d["unknown"].items())) or "none"')"
	report_is "$R" 'd["del_leaks"]' "${pfx}before GC: no address file of a pod whose DEL succeeded"
	report_is "$R" 'd["failures"]' "${pfx}GC (cniVersion 1.1.0, the existing pods valid) succeeded"
	report_is "$R" 'd["store_extra"]' "${pfx}after GC: no temp file or other stray file in the store"
	report_is "$R" 'd["problems"]' "${pfx}after GC: the store holds exactly the existing pods, each pod's eth0 holds its file's address, the host veths are exactly theirs"
}
