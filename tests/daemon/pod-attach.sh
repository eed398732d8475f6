#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# functions run through on_exit, wait_until and tap_check look unreachable to shellcheck:
# shellcheck disable=SC2317
#
# tests/daemon/pod-attach.sh: what an attachment through the tartan CNI plugin gets beyond
# an address: hairpin on its bridge port, a static address and MAC, and the release of an
# attachment whose pod network is gone without a DEL. Two host-gw nodes in network
# namespaces against a real etcd (TAP; root): n1 with the defaults (flannel mode: hairpin-veth)
# and TARTAN_GONE_GRACE_S=5, n2 with --hairpin-mode=none. The plugin binary comes in as
# TARTAN_CNI, Debian's portmap from /usr/lib/cni. Plugins run as a runtime runs them (env -i,
# the conf from the conflist tartand wrote, runtimeConfig for the capabilities a plugin
# declares), as in tests/daemon/pods.sh.
#
# Asserts:
# - the conflist's tartan entry declares the capabilities ips and mac and names
#   pendingDelDir <state-dir>/pending-del; the rkt conf's hairpinMode is true on n1, false
#   on n2;
# - hairpin: on n1 a pod's host end has hairpin on, and the pod reaches its own listener
#   through n1's address and a host port (Debian's portmap DNAT, chained after tartan, with
#   the bridge's netfilter hook on as on a Kubernetes node); on n2 hairpin is off and the same
#   connection fails;
# - static address and MAC: CNI_ARGS IP= and MAC= (with IgnoreUnknown=1, as podman passes
#   them) give the pod exactly those (result, eth0, IPAM file); the same address asked by
#   another container fails with code 102 naming the holder, nothing created; runtimeConfig
#   ips ("a.b.c.d/24") and mac give another pod its own; an address outside the subnet or the
#   gateway is code 4 from CNI_ARGS and 7 from runtimeConfig, a multicast MAC code 4 and a
#   malformed one in runtimeConfig 7, an unknown CNI_ARGS key without IgnoreUnknown 4; a DEL
#   then the same ADD gets the same address and MAC;
# - gone: with n1 stopped, a pod's namespace is deleted (its veth pair goes with it); n1
#   started again shows that attachment as "gone" in tartanctl pods (the others "attached"),
#   then releases its address and record (a warning naming container, ifname and address);
#   live pods keep theirs through several sweeps;
# - no error line in either daemon's log; SIGTERM ends each with exit status 0.
# Everything lives in namespaces made here, deleted at exit, also on failure.

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

P=$FLANNEL_PREFIX
declare -A ip=([n1]=192.0.2.11 [n2]=192.0.2.12)

netns_require
command -v iptables >/dev/null || tap_bail "iptables missing (portmap runs it)"
cni_plugin_setup portmap

# ---------------------------------------------------------------------------------------------
# Helpers (the plugins' and the pods' are tests/lib/cni-plugin.sh's)

pod_mac()
{
	ip -n "${pod_ns[$1]}" -o link show dev eth0 2>/dev/null |
		sed -n 's/.* link\/ether \([0-9a-f:]*\) .*/\1/p'
}

# result_of FILE: "address mac" of the pod's interface in an ADD result
result_of()
{
	jval "$1" '"%s %s" % (d["ips"][0]["address"], d["interfaces"][d["ips"][0]["interface"]]["mac"])'
}

# pods_state NODE: "address=state" of every attachment tartanctl pods lists, sorted
pods_state()
{
	local out
	out=$(tctl "$1" --json pods) || return 1
	jget "$out" '" ".join(sorted("%s=%s" % (p["address"], p.get("state")) for p in d["pods"]))'
}

pods_state_is()
{
	[[ $(pods_state "$1" 2>/dev/null) == "$2" ]]
}

# ---------------------------------------------------------------------------------------------
# Two host-gw nodes

for n in n1 n2; do
	netns_node "$n" "${ip[$n]}/24" || tap_bail "could not make node namespace $n"
	netns_exec "$n" sysctl -qw net.ipv4.ip_forward=1 || tap_bail "no forwarding in $n"
	# bridged frames through iptables, as on a Kubernetes node (br_netfilter): a DNAT to a
	# pod on the same bridge is bridged back out of the port it came in by
	netns_exec "$n" sysctl -qw net.bridge.bridge-nf-call-iptables=1 ||
		tap_bail "net.bridge.bridge-nf-call-iptables cannot be set in $n"
done
tap_check "host-gw config put" ectl put "$P/config" \
	'{"Network":"10.5.0.0/16","Backend":{"Type":"host-gw"}}'
# long enough to see the gone pod listed before its release, even on a busy machine
TARTAND_ENV[n1]="TARTAN_GONE_GRACE_S=5"
start_node n1
start_node n2 --hairpin-mode=none
node_up n1 1
node_up n2 1
for n in n1 n2; do
	wait_until 10 test -s "${conflist[$n]}" || tap_bail "$n wrote no conflist"
	plugin_conf "${conflist[$n]}" 0 >"$T/conf-$n.json"
done

tap_is "$(jval "${conflist[n1]}" '"%s %s" % (d["plugins"][0].get("capabilities"), d["plugins"][0].get("pendingDelDir"))' 2>&1)" \
	"{'ips': True, 'mac': True} ${TARTAND_DIR[n1]}/state/pending-del" \
	"n1: the conflist's tartan entry declares ips and mac and names the pending DEL folder" ||
	true
for n in n1 n2; do
	want=True
	[[ $n == n1 ]] || want=False
	tap_is "$(jval "${TARTAND_DIR[$n]}/rkt.d/10-rkt.kubernetes.io.conf" 'd.get("hairpinMode")' 2>&1)" \
		"$want" "$n: the rkt conf's hairpinMode is $want" || true
done

# ---------------------------------------------------------------------------------------------
# Hairpin: a pod reaches itself through its node's address and a host port

# serve POD PORT: a listener in POD answering "hello from POD" (killed at exit, ends in 120 s)
serve()
{
	ip netns exec "${pod_ns[$1]}" timeout 120 "$PYTHON3" -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[2])))
s.listen(8)
while True:
	c, _ = s.accept()
	c.sendall(b"hello from " + sys.argv[1].encode() + b"\n")
	c.close()' "$1" "$2" </dev/null >/dev/null 2>&1 &
	on_exit "kill $! 2>/dev/null; wait $! 2>/dev/null"
}

# reach FROM ADDR PORT WANT: one connection from pod FROM gets "hello from WANT"
reach()
{
	ip netns exec "${pod_ns[$1]}" "$PYTHON3" -c 'import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)
sys.exit(0 if c.recv(100) == b"hello from " + sys.argv[3].encode() + b"\n" else 1)' "$2" "$3" "$4"
}

for n in n1 n2; do
	h=h${n#n}
	mkpod "$h" "$n"
	tartan ADD "$h" "$T/conf-$n.json" "$T/add-$h.json"
	plugin_ok "$n: ADD of pod $h" "$T/add-$h.json" || tap_bail "cannot go on without the pod"
	plugin_conf "${conflist[$n]}" 1 --prev "$T/add-$h.json" \
		--runtime '{"portMappings":[{"hostPort":30090,"containerPort":8080,"protocol":"tcp"}]}' \
		>"$T/pm-$h.json"
	ref portmap ADD "$h" "$T/pm-$h.json" "$T/pm-add-$h.json"
	plugin_ok "$n: portmap ADD for $h (hostPort 30090 -> 8080)" "$T/pm-add-$h.json" || true
	serve "$h" 8080
	addr=$(jval "$T/add-$h.json" 'd["ips"][0]["address"].split("/")[0]')
	tap_check "$n: $h's listener answers on its own address" wait_until 5 reach "$h" "$addr" 8080 "$h" ||
		true
done
tap_like "$(netns_exec n1 bridge -d link show dev "$(host_end "$T/add-h1.json")" 2>&1)" 'hairpin on' \
	"n1 (default hairpin-veth): h1's bridge port has hairpin on" || true
tap_check "n1: h1 reaches itself through ${ip[n1]}:30090 (hairpin)" \
	wait_until 5 reach h1 "${ip[n1]}" 30090 h1 || true
tap_like "$(netns_exec n2 bridge -d link show dev "$(host_end "$T/add-h2.json")" 2>&1)" 'hairpin off' \
	"n2 (--hairpin-mode=none): h2's bridge port has hairpin off" || true
tap_check_fails "n2: h2 does not reach itself through ${ip[n2]}:30090 (no hairpin)" \
	reach h2 "${ip[n2]}" 30090 h2 || true

# ---------------------------------------------------------------------------------------------
# Static address and MAC

base=${subnet[n1]%.0/24}
s1_ip=$base.50 s1_mac=0a:58:0a:05:32:01
mkpod s1 n1
tartan ADD s1 "$T/conf-n1.json" "$T/add-s1.json" "CNI_ARGS+=;IP=$s1_ip;MAC=$s1_mac"
plugin_ok "CNI_ARGS IP=$s1_ip;MAC=$s1_mac: ADD of s1 succeeds" "$T/add-s1.json" ||
	tap_bail "cannot go on without the pod"
tap_is "$(result_of "$T/add-s1.json" 2>&1) | $(pod_addr s1) $(pod_mac s1)" \
	"$s1_ip/24 $s1_mac | $s1_ip/24 $s1_mac" \
	"CNI_ARGS: the result and s1's eth0 have the address and MAC asked for" || true
tap_is "$("$PYTHON3" -c 'import sys; print(repr(open(sys.argv[1], "rb").read()))' "${store[n1]}/$s1_ip" 2>&1)" \
	"b'ctr-s1\\r\\neth0'" "CNI_ARGS: the IPAM file $s1_ip names ctr-s1" || true

# the pod records tartand keeps (state-dir/pods): a refused ADD leaves none behind
pod_records()
{
	find "${TARTAND_DIR[$1]}/state/pods" -type f -printf "%f\n" 2>/dev/null | sort | paste -sd ' '
}

mkpod s2 n1
before="$(links n1) | $(addr_files n1) | $(pod_records n1)"
tartan ADD s2 "$T/conf-n1.json" "$T/err.json" "CNI_ARGS+=;IP=$s1_ip"
plugin_err "s2 asking for s1's $s1_ip: code 102 naming ctr-s1" "$T/err.json" 102 \
	"$s1_ip.* held by container ctr-s1" || true
tap_is "$(links n1) | $(addr_files n1) | $(pod_records n1)" "$before" "s2's failed ADD created nothing" || true

s2_ip=$base.51 s2_mac=0a:58:0a:05:33:02
plugin_conf "${conflist[n1]}" 0 --runtime "{\"ips\":[\"$s2_ip/24\"],\"mac\":\"$s2_mac\"}" \
	>"$T/conf-s2.json"
tap_is "$(jval "$T/conf-s2.json" 'd.get("runtimeConfig")' 2>&1)" \
	"{'ips': ['$s2_ip/24'], 'mac': '$s2_mac'}" \
	"the tartan entry gets runtimeConfig ips and mac (its declared capabilities)" || true
tartan ADD s2 "$T/conf-s2.json" "$T/add-s2.json"
plugin_ok "runtimeConfig ips [$s2_ip/24], mac $s2_mac: ADD of s2 succeeds" "$T/add-s2.json" || true
tap_is "$(result_of "$T/add-s2.json" 2>&1) | $(pod_addr s2) $(pod_mac s2)" \
	"$s2_ip/24 $s2_mac | $s2_ip/24 $s2_mac" \
	"runtimeConfig: the result and s2's eth0 have the address and MAC asked for" || true

mkpod x n1
before="$(links n1) | $(addr_files n1) | $(pod_records n1)"
# bad_case DESC CODE REGEX CONF [VAR=VALUE | VAR+=VALUE | -VAR]...
bad_case()
{
	tartan ADD x "$4" "$T/err.json" "${@:5}"
	plugin_err "$1: code $2" "$T/err.json" "$2" "$3" || true
}
bad_case "CNI_ARGS IP outside the subnet" 4 "10\\.9\\.0\\.5.*not one this node hands out" \
	"$T/conf-n1.json" "CNI_ARGS+=;IP=10.9.0.5"
bad_case "CNI_ARGS IP the gateway" 4 "${gw[n1]//./\\.}" "$T/conf-n1.json" \
	"CNI_ARGS+=;IP=${gw[n1]}"
bad_case "CNI_ARGS MAC multicast" 4 "not a unicast MAC" "$T/conf-n1.json" \
	"CNI_ARGS+=;MAC=01:00:5e:00:00:01"
bad_case "CNI_ARGS unknown key without IgnoreUnknown" 4 "unknown args.*FOO=bar" \
	"$T/conf-n1.json" "CNI_ARGS=K8S_POD_NAME=x;FOO=bar"
plugin_conf "${conflist[n1]}" 0 --runtime '{"ips":["10.9.0.5/24"]}' >"$T/conf-bad1.json"
bad_case "runtimeConfig ips outside the subnet" 7 "10\\.9\\.0\\.5" "$T/conf-bad1.json"
plugin_conf "${conflist[n1]}" 0 --runtime '{"mac":"0a:58:zz:00:00:01"}' >"$T/conf-bad2.json"
bad_case "runtimeConfig mac malformed" 7 "runtimeConfig.mac" "$T/conf-bad2.json"
tap_is "$(links n1) | $(addr_files n1) | $(pod_records n1)" "$before" "the refused ADDs created nothing" || true

# DEL, then the same request again: the same address and MAC
tartan DEL s1 "$T/conf-n1.json" "$T/del-s1.out" "CNI_ARGS+=;IP=$s1_ip;MAC=$s1_mac"
plugin_ok "DEL of s1" "$T/del-s1.out" || true
tap_check_fails "s1's IPAM file is gone after DEL" test -e "${store[n1]}/$s1_ip" || true
tartan ADD s1 "$T/conf-n1.json" "$T/add-s1b.json" "CNI_ARGS+=;IP=$s1_ip;MAC=$s1_mac"
plugin_ok "the same ADD of s1 after its DEL succeeds" "$T/add-s1b.json" || true
tap_is "$(result_of "$T/add-s1b.json" 2>&1) | $(pod_addr s1) $(pod_mac s1)" \
	"$s1_ip/24 $s1_mac | $s1_ip/24 $s1_mac" "DEL then ADD: s1 gets the same address and MAC" ||
	true

# ---------------------------------------------------------------------------------------------
# Gone: a pod's namespace deleted while tartand is down

mkpod g1 n1
tartan ADD g1 "$T/conf-n1.json" "$T/add-g1.json"
plugin_ok "ADD of g1" "$T/add-g1.json" || tap_bail "cannot go on without the pod"
g1_ip=$(jval "$T/add-g1.json" 'd["ips"][0]["address"].split("/")[0]')
g1_host=$(host_end "$T/add-g1.json")
kept=$(addr_files n1 | tr ' ' '\n' | grep -vxF "$g1_ip" | paste -sd ' ')
tartand_stop n1 TERM || true
tap_is "$TARTAND_RC" 0 "n1: tartand exits 0 on SIGTERM" || true
pod_ns_del g1
# the kernel tears a namespace down in the background: its veth ends go a moment later
host_gone()
{
	! netns_exec n1 ip link show dev "$1" >/dev/null 2>&1
}
tap_check "g1's namespace deleted: its host end $g1_host goes with it" \
	wait_until 10 host_gone "$g1_host" || true
start_node n1
wait_until 20 tstatus_is n1 state running || tap_fail "n1 runs again" "$(tstatus n1 2>&1)"
want=$(for a in $kept; do echo "$a=attached"; done; echo "$g1_ip=gone")
want=$(LC_ALL=C sort <<<"$want" | paste -sd ' ')
if wait_until 10 pods_state_is n1 "$want"; then
	tap_ok "tartanctl pods: g1's $g1_ip is gone, the others attached"
else
	tap_fail "tartanctl pods: g1's $g1_ip is gone, the others attached" "expected: $want" \
		"saw: $(pods_state n1 2>&1)"
fi
tap_like "$(tctl n1 pods 2>&1 | grep -F "$g1_ip" || true)" " gone" \
	"tartanctl pods (text): g1's row says gone" || true
re="released ${g1_ip//./\\.} of container ctr-g1 \\(eth0\\): its pod network is gone"
if wait_until 20 tlog_has n1 "$re"; then
	tap_ok "n1 releases g1's $g1_ip after the grace, with a warning naming it"
else
	tap_fail "n1 releases g1's $g1_ip after the grace" "log: $(tlog n1 2>&1 | tail -n 20)"
fi
tap_is "$(addr_files n1)" "$kept" "only g1's address file is gone; the live pods keep theirs" ||
	true
tap_check_fails "g1's pod record is gone" grep -rqs ctr-g1 "${TARTAND_DIR[n1]}/state/pods" || true
sleep 3 # several sweeps, each past the grace
tap_is "$(addr_files n1) | $(pods_state n1 2>&1)" \
	"$kept | $(for a in $kept; do echo "$a=attached"; done | LC_ALL=C sort | paste -sd ' ')" \
	"live pods keep their addresses through later sweeps" || true

# ---------------------------------------------------------------------------------------------
for n in n1 n2; do
	tap_is "$(tlog_errors "$n")" "" "$n: no error in the log" || true
	tartand_stop "$n" TERM || true
	tap_is "$TARTAND_RC" 0 "$n: tartand exits 0 on SIGTERM" || true
done

tap_done
