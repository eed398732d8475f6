#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# functions run through on_exit, wait_until and tap_check look unreachable to shellcheck:
# shellcheck disable=SC2317
#
# tests/netcfg/cniconf-plugins.sh CNICONF-RENDER: the CNI confs netcfg/cniconf renders work
# with Debian's real containernetworking-plugins (/usr/lib/cni: bridge, host-local, portmap),
# each run exactly as a runtime runs it: env -i with CNI_COMMAND, CNI_CONTAINERID,
# CNI_NETNS=/var/run/netns/<pod>, CNI_IFNAME=eth0, CNI_PATH=/usr/lib/cni and the conf on
# stdin (TAP; root; suite 'netns').
#
# A namespace 'h' stands for the node: the plugins run in it, and its bridge cni0 is made as
# tartand makes it (10.5.72.1/24, MTU 1450, up). Pods are namespaces of their own. host-local
# keeps its store in a temp dir (the renderer's --ipam-data-dir), never /var/lib/cni.
#
# Asserts:
# - bridge, host-local and portmap list the rkt conf's 0.3.1 and the conflist's cniVersion
#   (1.0.0) among the versions their VERSION answer supports;
# - rkt bridge conf as rendered with --ip-masq and --hairpin (ipMasq false, hairpinMode true):
#   ADD gives pod p1 an address of 10.5.72.0/24 other than .1 with gateway 10.5.72.1 in a
#   0.3.1 result; in p1 eth0 holds it with MTU 1450 and the default route is via 10.5.72.1;
#   cni0 still holds exactly 10.5.72.1/24 (the conf's gateway is tartand's bridge address: no
#   conflict); the host-local file <dataDir>/rkt.kubernetes.io/<ip> holds "ctr-p1\r\neth0"; p1
#   pings 10.5.72.1; no MASQUERADE rule names p1's address in h's nat table; p1's port has
#   hairpin on (p2's, without --hairpin, off);
# - rkt bridge conf as rendered without --ip-masq (ipMasq true): ADD gives p2 another address
#   and h's nat POSTROUTING gets bridge's masquerade rule for it; p1 and p2 ping each other;
# - DEL of p2 removes its eth0, its host-local file and its nat rule; DEL of p1 removes its
#   eth0, and succeeds again the second time, and frees its address (no CHECK here: 0.3.1
#   has none);
# - after a subnet change (cni0 readdressed to 10.5.9.1/24, as tartand does for a new lease)
#   the conf rendered for 10.5.9.0/24 gives p3 an address in it, p3 pings 10.5.9.1 and cni0
#   holds exactly 10.5.9.1/24; DEL of p3 succeeds;
# - the conflist chain: the tartan plugin does not exist yet, so a variant of the rendered
#   10-tartan.conflist whose first plugin is the rkt conf's bridge object (same dataDir)
#   stands in for it; run by hand as libcni runs a list (name and cniVersion of the list on
#   every plugin, capabilities dropped, runtimeConfig.portMappings for portmap because the
#   list declares that capability, bridge's result as portmap's prevResult): bridge ADD and
#   portmap ADD succeed, portmap's result is 1.0.0 and keeps p4's address, a TCP connection
#   from h to 10.5.9.1:30080 reaches p4's listener on 8080 through portmap's DNAT rule,
#   bridge's CHECK succeeds, DEL in reverse order succeeds and the DNAT rule is gone.
#   portmap's CHECK is not run: in 1.1.1 it fails for every IPv4-only pod, looking for
#   ip6tables chains it never made (containernetworking/plugins#819, fixed upstream later);
#   a runtime that sends CHECK through this list on Debian 12 gets that error.
# Everything runs inside the namespaces made here, which are deleted at exit, also on failure.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/etcd.sh
. "$here/../lib/etcd.sh"
# shellcheck source=tests/lib/netns.sh
. "$here/../lib/netns.sh"

if (($# != 1)) || [[ ! -x $1 ]]; then
	echo "Bail out! usage: $0 PATH-TO-cniconf-render (got '${1:-}')"
	exit 1
fi
render=$1
CNI_BIN=/usr/lib/cni

netns_require
for p in bridge host-local portmap; do
	[[ -x $CNI_BIN/$p ]] ||
		tap_bail "$CNI_BIN/$p missing: apt-get install containernetworking-plugins" \
			"(tests/lib/setup.sh installs it)"
done

tmp=""
tmpdir_new tmp
data_dir=$tmp/networks
store=$data_dir/rkt.kubernetes.io

# ---------------------------------------------------------------------------------------------
# Namespaces: h (the node) and one per pod, all named NETNS_TAG+NAME, deleted at exit (pods
# first: their veth ends go with them).
declare -A ns=()
made=()
mkns()
{
	local real=$NETNS_TAG$1
	ip netns add "$real"
	made+=("$real")
	ns[$1]=$real
	ip -n "$real" link set lo up
}
cleanup_ns()
{
	local i
	for ((i = ${#made[@]} - 1; i >= 0; i--)); do
		ip netns del "${made[$i]}" 2>/dev/null || echo "# could not delete ${made[$i]}" >&2
	done
	made=()
}
on_exit cleanup_ns

in_h()
{
	ip netns exec "${ns[h]}" "$@"
}

in_pod()
{
	local pod=$1
	shift
	ip netns exec "${ns[$pod]}" "$@"
}

# cni CMD POD ID PLUGIN CONF OUT: run plugin PLUGIN in h as a runtime does, CONF on stdin,
# stdout into OUT, stderr into OUT.err; returns the plugin's exit status.
cni()
{
	local cmd=$1 pod=$2 id=$3 plugin=$4 conf=$5 out=$6
	ip netns exec "${ns[h]}" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		CNI_COMMAND="$cmd" CNI_CONTAINERID="$id" CNI_NETNS="/var/run/netns/${ns[$pod]}" \
		CNI_IFNAME=eth0 CNI_PATH="$CNI_BIN" \
		timeout 30 "$CNI_BIN/$plugin" <"$conf" >"$out" 2>"$out.err"
}

# cni_ok DESC CMD POD ID PLUGIN CONF OUT: TAP: the plugin exits 0 (else its output shown)
cni_ok()
{
	local desc=$1 rc=0
	shift
	cni "$@" || rc=$?
	if ((rc == 0)); then
		tap_ok "$desc"
		return 0
	fi
	tap_fail "$desc" "$5 $1 exited $rc; stdout: $(cat "$6")" "stderr: $(cat "$6.err")"
	return 1
}

# jval FILE EXPR: print the Python expression EXPR of the JSON in FILE (as d)
jval()
{
	python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
		"$1" "$2"
}

# in_net ADDR/LEN NETWORK/LEN: ADDR lies in NETWORK
in_net()
{
	python3 -c 'import ipaddress, sys
sys.exit(0 if ipaddress.ip_interface(sys.argv[1]).ip in ipaddress.ip_network(sys.argv[2])
	 else 1)' "$1" "$2"
}

bridge_addrs()
{
	in_h ip -4 -o addr show dev cni0 | awk '{ print $4 }' | sort | tr '\n' ' ' | sed 's/ $//'
}

nat_rules()
{
	in_h iptables -w 5 -t nat -S
}

# ---------------------------------------------------------------------------------------------
"$render" rkt-bridge --subnet 10.5.72.0/24 --mtu 1450 --ip-masq --hairpin \
	--ipam-data-dir "$data_dir" >"$tmp/rkt-masq.conf"
"$render" rkt-bridge --subnet 10.5.72.0/24 --mtu 1450 --ipam-data-dir "$data_dir" \
	>"$tmp/rkt-nomasq.conf"
"$render" tartan-list --socket /run/tartan/tartand.sock >"$tmp/10-tartan.conflist"
tap_is "$(jval "$tmp/rkt-masq.conf" 'd["ipMasq"], d["name"], d["cniVersion"]')" \
	"(False, 'rkt.kubernetes.io', '0.3.1')" "rkt conf with --ip-masq: ipMasq false" || true
tap_is "$(jval "$tmp/rkt-nomasq.conf" 'd["ipMasq"]')" True \
	"rkt conf without --ip-masq: ipMasq true" || true
tap_is "$(jval "$tmp/rkt-masq.conf" 'd["hairpinMode"]') $(jval "$tmp/rkt-nomasq.conf" 'd["hairpinMode"]')" \
	"True False" "rkt conf: hairpinMode as asked (--hairpin-mode=hairpin-veth or not)" || true

list_version=$(jval "$tmp/10-tartan.conflist" 'd["cniVersion"]')
echo '{"cniVersion":"0.3.1"}' >"$tmp/version.json"
mkns h
for p in bridge host-local portmap; do
	cni VERSION h "" "$p" "$tmp/version.json" "$tmp/version-$p.out"
	tap_is "$(jval "$tmp/version-$p.out" \
		"all(v in d['supportedVersions'] for v in ['0.3.1', '$list_version'])")" True \
		"$p VERSION supports 0.3.1 and the conflist's $list_version" ||
		tap_diag "$p VERSION: $(cat "$tmp/version-$p.out")"
done

# the node's bridge as tartand makes it
in_h ip link add cni0 mtu 1450 type bridge
in_h ip addr add 10.5.72.1/24 dev cni0
in_h ip link set cni0 up

# ---------------------------------------------------------------------------------------------
# rkt bridge conf, --ip-masq: pod p1
mkns p1
cni_ok "rkt conf (--ip-masq): bridge ADD for p1" ADD p1 ctr-p1 bridge "$tmp/rkt-masq.conf" \
	"$tmp/add-p1.json"
p1=$(jval "$tmp/add-p1.json" 'd["ips"][0]["address"]')
tap_is "$(jval "$tmp/add-p1.json" 'd["cniVersion"], d["ips"][0]["gateway"]')" \
	"('0.3.1', '10.5.72.1')" "p1's result: version 0.3.1, gateway 10.5.72.1" || true
if in_net "$p1" 10.5.72.0/24 && [[ ${p1%/*} != 10.5.72.1 && $p1 == */24 ]]; then
	tap_ok "p1 got $p1, a pod address of the node subnet 10.5.72.0/24"
else
	tap_fail "p1's address is in 10.5.72.0/24, not the gateway" "saw: $p1"
fi
tap_is "$(in_pod p1 ip -4 -o addr show dev eth0 | awk '{ print $4 }')" "$p1" \
	"p1's eth0 holds $p1" || true
tap_like "$(in_pod p1 ip -o link show dev eth0)" ' mtu 1450 ' "p1's eth0 has the MTU 1450" ||
	true
tap_is "$(in_pod p1 ip -4 route show default | sed 's/ *$//')" \
	"default via 10.5.72.1 dev eth0" "p1's default route is via 10.5.72.1" || true
tap_is "$(bridge_addrs)" 10.5.72.1/24 "cni0 still holds exactly 10.5.72.1/24" || true
tap_is "$(od -An -c "$store/${p1%/*}" | tr -s ' ' | sed 's/^ //;s/ $//')" \
	'c t r - p 1 \r \n e t h 0' "host-local's file for ${p1%/*} holds 'ctr-p1\\r\\neth0'" ||
	true
tap_check "p1 pings the gateway 10.5.72.1" wait_until 5 in_pod p1 ping -c 1 -W 1 10.5.72.1
# bridge's result lists [cni0, host end, eth0]: the host end is interfaces[1]
tap_like "$(in_h bridge -d link show dev "$(jval "$tmp/add-p1.json" 'd["interfaces"][1]["name"]')" 2>&1)" \
	'hairpin on' "hairpinMode true: bridge turns hairpin on for p1's port" || true
tap_check_fails "no masquerade rule for p1 (ipMasq false)" \
	bash -c "ip netns exec ${ns[h]} iptables -w 5 -t nat -S | grep -F -- '-s ${p1%/*}/32'"

# rkt bridge conf, no --ip-masq: pod p2, masqueraded by bridge
mkns p2
cni_ok "rkt conf (no --ip-masq): bridge ADD for p2" ADD p2 ctr-p2 bridge \
	"$tmp/rkt-nomasq.conf" "$tmp/add-p2.json"
p2=$(jval "$tmp/add-p2.json" 'd["ips"][0]["address"]')
if in_net "$p2" 10.5.72.0/24 && [[ ${p2%/*} != 10.5.72.1 && $p2 != "$p1" ]]; then
	tap_ok "p2 got $p2, another address of 10.5.72.0/24"
else
	tap_fail "p2's address is in 10.5.72.0/24 and not p1's" "saw: $p2 (p1 $p1)"
fi
tap_like "$(in_h bridge -d link show dev "$(jval "$tmp/add-p2.json" 'd["interfaces"][1]["name"]')" 2>&1)" \
	'hairpin off' "hairpinMode false: p2's port has hairpin off" || true
tap_like "$(nat_rules | grep -F -- "-A POSTROUTING -s ${p2%/*}/32 " || true)" \
	'ctr-p2.* -j CNI-' "bridge's masquerade rule for p2 is in h's nat POSTROUTING" || true
tap_check "p1 pings p2" wait_until 5 in_pod p1 ping -c 1 -W 1 "${p2%/*}"
tap_check "p2 pings p1" wait_until 5 in_pod p2 ping -c 1 -W 1 "${p1%/*}"

# CHECK and prevResult came with CNI 0.4.0: a runtime sends neither for this 0.3.1 conf
# (bridge answers CHECK with code 1, "config version does not allow CHECK"), and DEL gets
# the conf as it is. The 1.0.0 chain below runs CHECK.
cni_ok "bridge DEL of p2" DEL p2 ctr-p2 bridge "$tmp/rkt-nomasq.conf" "$tmp/del-p2.out"
tap_check_fails "p2 has no eth0 after DEL" in_pod p2 ip link show dev eth0
tap_check_fails "host-local's file for p2 is gone" test -e "$store/${p2%/*}"
tap_check_fails "p2's masquerade rule is gone" \
	bash -c "ip netns exec ${ns[h]} iptables -w 5 -t nat -S | grep -F -- '-s ${p2%/*}/32'"

cni_ok "bridge DEL of p1" DEL p1 ctr-p1 bridge "$tmp/rkt-masq.conf" "$tmp/del-p1.out"
tap_check_fails "p1 has no eth0 after DEL" in_pod p1 ip link show dev eth0
cni_ok "bridge DEL of p1 again" DEL p1 ctr-p1 bridge "$tmp/rkt-masq.conf" "$tmp/del-p1b.out"
tap_check_fails "host-local's file for p1 is gone" test -e "$store/${p1%/*}"

# ---------------------------------------------------------------------------------------------
# a new lease: tartand readdresses the bridge and renders the conf again
in_h ip addr del 10.5.72.1/24 dev cni0
in_h ip addr add 10.5.9.1/24 dev cni0
"$render" rkt-bridge --subnet 10.5.9.0/24 --mtu 1450 --ip-masq --ipam-data-dir "$data_dir" \
	>"$tmp/rkt-new.conf"
mkns p3
cni_ok "new subnet: bridge ADD for p3" ADD p3 ctr-p3 bridge "$tmp/rkt-new.conf" \
	"$tmp/add-p3.json"
p3=$(jval "$tmp/add-p3.json" 'd["ips"][0]["address"]')
if in_net "$p3" 10.5.9.0/24 && [[ ${p3%/*} != 10.5.9.1 ]]; then
	tap_ok "p3 got $p3, a pod address of the new subnet 10.5.9.0/24"
else
	tap_fail "p3's address is in 10.5.9.0/24" "saw: $p3"
fi
tap_check "p3 pings the new gateway 10.5.9.1" wait_until 5 in_pod p3 ping -c 1 -W 1 10.5.9.1
tap_is "$(bridge_addrs)" 10.5.9.1/24 "cni0 holds exactly 10.5.9.1/24" || true
# host-local keeps one store per network name, so the chain below (network "tartan") would
# hand out p3's address again on the same bridge: p3 goes first.
cni_ok "new subnet: bridge DEL of p3" DEL p3 ctr-p3 bridge "$tmp/rkt-new.conf" \
	"$tmp/del-p3.out"

# ---------------------------------------------------------------------------------------------
# The conflist's chain, with bridge standing in for the tartan plugin (which does not exist
# yet): plugins[0] replaced by the rkt conf's plugin object.
python3 -c 'import json, sys
lst = json.load(open(sys.argv[1]))
rkt = json.load(open(sys.argv[2]))
for k in ("cniVersion", "name"):
	del rkt[k]
lst["plugins"][0] = rkt
json.dump(lst, open(sys.argv[3], "w"), indent=2)' \
	"$tmp/10-tartan.conflist" "$tmp/rkt-new.conf" "$tmp/chain.conflist"

# plugin_conf LIST INDEX [PREV]: the stdin libcni gives plugin INDEX of LIST: the plugin
# object with the list's name and cniVersion, capabilities dropped, runtimeConfig holding the
# runtime's capability arguments (RT_ARGS) that the plugin declares, prevResult if given.
RT_ARGS='{"portMappings":[{"hostPort":30080,"containerPort":8080,"protocol":"tcp"}]}'
plugin_conf()
{
	python3 -c 'import json, sys
lst = json.load(open(sys.argv[1]))
p = dict(lst["plugins"][int(sys.argv[2])])
caps = p.pop("capabilities", {})
p["cniVersion"] = lst["cniVersion"]
p["name"] = lst["name"]
rt = {k: v for k, v in json.loads(sys.argv[3]).items() if caps.get(k)}
if rt:
	p["runtimeConfig"] = rt
if len(sys.argv) > 4:
	p["prevResult"] = json.load(open(sys.argv[4]))
print(json.dumps(p))' "$1" "$2" "$RT_ARGS" "${@:3}"
}

mkns p4
plugin_conf "$tmp/chain.conflist" 0 >"$tmp/chain-0.conf"
cni_ok "chain: bridge ADD for p4 at the list's version" ADD p4 ctr-p4 bridge \
	"$tmp/chain-0.conf" "$tmp/chain-add-0.json"
plugin_conf "$tmp/chain.conflist" 1 "$tmp/chain-add-0.json" >"$tmp/chain-1.conf"
tap_is "$(jval "$tmp/chain-1.conf" 'd["runtimeConfig"]["portMappings"][0]["hostPort"]')" 30080 \
	"chain: portmap gets runtimeConfig.portMappings (the list declares the capability)" ||
	true
cni_ok "chain: portmap ADD with bridge's result as prevResult" ADD p4 ctr-p4 portmap \
	"$tmp/chain-1.conf" "$tmp/chain-add-1.json"
tap_is "$(jval "$tmp/chain-add-1.json" 'd["cniVersion"], d["ips"][0]["address"]')" \
	"('$list_version', '$(jval "$tmp/chain-add-0.json" 'd["ips"][0]["address"]')')" \
	"chain: portmap's result is $list_version and keeps p4's address" || true
p4=$(jval "$tmp/chain-add-1.json" 'd["ips"][0]["address"]')

# a TCP listener in p4 on 8080 (stops by itself after 60 s; killed by PID at exit). Not
# through in_pod: $! must be the PID of ip, which execs timeout, which passes SIGTERM on.
ip netns exec "${ns[p4]}" timeout 60 python3 -c 'import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8080))
s.listen(8)
while True:
	c, _ = s.accept()
	c.sendall(b"hello from p4\n")
	c.close()' </dev/null >/dev/null 2>&1 &
listener=$!
on_exit "kill $listener 2>/dev/null; wait $listener 2>/dev/null"

# hostport ADDR PORT: connect from h, succeed if p4's listener answers
hostport()
{
	in_h python3 -c 'import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)
sys.exit(0 if c.recv(100) == b"hello from p4\n" else 1)' "$1" "$2"
}
tap_check "p4's listener answers on its own address ${p4%/*}:8080" \
	wait_until 5 hostport "${p4%/*}" 8080
tap_check "portmap: h's 10.5.9.1:30080 reaches p4's 8080" wait_until 5 hostport 10.5.9.1 30080
tap_like "$(nat_rules | grep -F -- '--dport 30080' || true)" \
	"-j DNAT --to-destination ${p4%/*}:8080" "portmap's DNAT rule sends 30080 to ${p4%/*}:8080" ||
	true

plugin_conf "$tmp/chain.conflist" 0 "$tmp/chain-add-1.json" >"$tmp/chain-0-prev.conf"
plugin_conf "$tmp/chain.conflist" 1 "$tmp/chain-add-1.json" >"$tmp/chain-1-prev.conf"
cni_ok "chain: bridge CHECK" CHECK p4 ctr-p4 bridge "$tmp/chain-0-prev.conf" \
	"$tmp/chain-check-0.out"
cni_ok "chain: portmap DEL (reverse order)" DEL p4 ctr-p4 portmap "$tmp/chain-1-prev.conf" \
	"$tmp/chain-del-1.out"
cni_ok "chain: bridge DEL" DEL p4 ctr-p4 bridge "$tmp/chain-0-prev.conf" "$tmp/chain-del-0.out"
tap_check_fails "portmap's DNAT rule for 30080 is gone" \
	bash -c "ip netns exec ${ns[h]} iptables -w 5 -t nat -S | grep -F -- '--dport 30080'"

tap_done
