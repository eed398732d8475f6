# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# tests/lib/cni-plugin.sh: pods attached by CNI plugins (the tartan plugin, Debian's
# reference plugins in /usr/lib/cni) run the way a runtime runs them, on tartand nodes in
# network namespaces (needs root).
#
# Source it after tests/lib/etcd.sh, tests/lib/netns.sh, tests/lib/tartand.sh and
# tests/lib/pods.sh (its pod_ns, pod_node and namespace cleanup are the ones used here):
#
#	cni_plugin_setup bridge portmap   # checks, tartan_net_setup, T, plugin_conf.py
#	start_node n1; node_up n1 1       # tartand; subnet[n1] gw[n1] store[n1] conflist[n1]
#	mkpod a n1                        # pod a: an empty namespace, container id ctr-a
#	plugin_conf "${conflist[n1]}" 0 >"$T/conf.json"
#	tartan ADD a "$T/conf.json" "$T/add.json"
#	plugin_ok "ADD of a" "$T/add.json"
#
# Setup and state:
#   cni_plugin_setup [PLUGIN...]: netns_require; TARTAN_CNI (the tartan plugin, set by meson)
#     and /usr/lib/cni/PLUGIN must be executables, else bail out; sets TARTAN_CNI_PATH (the
#     plugin's folder, then CNI_BIN), runs tartan_net_setup, makes T=$TARTAN_WORK/t and
#     $T/plugin_conf.py (plugin_conf's script; a test may run it itself).
#   CNI_BIN=/usr/lib/cni; SAN_ENV: the sanitizer settings of the environment, passed on to
#     the plugins through env -i (a runtime passes its whole environment on).
#   subnet[NODE], gw[NODE] (<subnet>.1), store[NODE] (tartand's IPAM store), conflist[NODE],
#     rktconf[NODE] (the files tartand writes): set by start_node and node_up; pod_id[POD]
#     (its container id) by mkpod, with pod_ns[POD] and pod_node[POD] (tests/lib/pods.sh's).
#
# Nodes:
#   start_node NODE [TARTAND_ARG...]: tartand in NODE with --resync-interval 1 and the args;
#     bails out if it does not start. Sets conflist[NODE] and rktconf[NODE] to where it writes
#     them (in --cni-conf-dir / --rkt-net-dir when given, else its defaults).
#   node_up NODE PEERS [NOT_SUBNET]: TAP "NODE: running with PEERS peer(s)" (waits 20 s);
#     bails out unless it holds a 10.5.X.0/24 subnet (other than NOT_SUBNET); sets
#     subnet[NODE], gw[NODE] and store[NODE].
#
# Pods:
#   mkpod POD NODE: an empty namespace (loopback up) for POD on NODE, container id ctr-POD;
#     deleted at exit with tests/lib/pods.sh's pods (same numbering, so names never clash).
#   pod_ns_del POD: delete POD's namespace now (as a runtime's sandbox teardown would) and
#     drop it from the cleanup. (A name freed so may be taken again by mkpod; do not mix it
#     with add_pod, which does not look.)
#
# Plugins:
#   plugin_conf LIST INDEX [--prev FILE] [--runtime JSON] [--valid JSON]: the stdin a runtime
#     (libcni) gives plugin INDEX of the conflist LIST: the plugin object with the list's name
#     and cniVersion, capabilities dropped, runtimeConfig = the capability arguments (JSON)
#     that the plugin declares, prevResult (a result file), cni.dev/valid-attachments (GC).
#   run_plugin BIN CNI_PATH CMD POD CONF OUT [VAR=VALUE | VAR+=VALUE | -VAR]...: BIN in POD's
#     node as a runtime runs it: env -i with PATH, SAN_ENV, CNI_COMMAND, CNI_CONTAINERID,
#     CNI_NETNS=/var/run/netns/<pod namespace>, CNI_IFNAME=eth0, CNI_PATH and CNI_ARGS
#     (IgnoreUnknown=1;K8S_POD_NAMESPACE=tartan-test;K8S_POD_NAME=POD, as kubelet passes it),
#     CONF on stdin, stdout to OUT, stderr to OUT.err, RC its exit status. With POD "-" none
#     of the pod's variables are set and it runs in RUN_NODE. VAR=VALUE sets a variable,
#     VAR+=VALUE appends to it (CNI_ARGS+=";IP=..."), -VAR leaves it out.
#   tartan CMD POD CONF OUT [...]: run_plugin for the tartan plugin (CNI_PATH TARTAN_CNI_PATH).
#   ref PLUGIN CMD POD CONF OUT [...]: run_plugin for Debian's PLUGIN (CNI_PATH CNI_BIN).
#   plugin_ok DESC OUT [WANT_EMPTY]: TAP: the last run exited 0 (and printed nothing when
#     WANT_EMPTY is 1).
#   plugin_err DESC OUT CODE [MSG_REGEX]: TAP: the last run exited 1 with a CNI error object of
#     CODE and a message (matching MSG_REGEX, when given) on stdout.
#
# Looking at the results:
#   jval FILE EXPR: the Python expression EXPR of the JSON in FILE (as d).
#   in_net ADDR[/LEN] NETWORK/LEN: ADDR lies in NETWORK.
#   pod_addr POD: the IPv4 address/len of the pod's eth0.
#   host_end RESULT: the host end of the pod's veth in an ADD result: the last interface
#     without a sandbox (tartan lists [veth, eth0], bridge [cni0, veth, eth0]).
#   links NODE: all link names of NODE, sorted, space-separated.
#   addr_files NODE: the address files of store[NODE], sorted, space-separated.

if [[ -n ${_TARTAN_CNI_PLUGIN_SH:-} ]]; then
	return 0
fi
_TARTAN_CNI_PLUGIN_SH=1

if [[ -z ${_TARTAN_TARTAND_SH:-} || -z ${_TARTAN_PODS_SH:-} ]]; then
	echo "Bail out! tests/lib/cni-plugin.sh: source tests/lib/etcd.sh, netns.sh, tartand.sh" \
		"and pods.sh first"
	exit 1
fi

CNI_BIN=/usr/lib/cni
TARTAN_CNI_PATH=""
T=""
RC=0
RUN_NODE=""
declare -gA subnet=() gw=() store=() conflist=() rktconf=() pod_id=()

declare -ga SAN_ENV=()
for _v in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS; do
	[[ -z ${!_v:-} ]] || SAN_ENV+=("$_v=${!_v}")
done
unset _v

# (the plugins to check are optional: no argument is no mistake)
# shellcheck disable=SC2120
cni_plugin_setup()
{
	local p
	netns_require
	[[ -n ${TARTAN_CNI:-} && -x ${TARTAN_CNI:-} ]] ||
		tap_bail "TARTAN_CNI is not set to the tartan plugin binary (got '${TARTAN_CNI:-}')"
	for p in "$@"; do
		[[ -x $CNI_BIN/$p ]] ||
			tap_bail "$CNI_BIN/$p missing: apt-get install containernetworking-plugins"
	done
	TARTAN_CNI_PATH="$(cd "$(dirname "$TARTAN_CNI")" && pwd):$CNI_BIN"
	tartan_net_setup
	T=$TARTAN_WORK/t
	mkdir -p "$T" || tap_bail "cannot make $T"
	cat >"$T/plugin_conf.py" <<'EOF'
import argparse, json
ap = argparse.ArgumentParser()
ap.add_argument("list")
ap.add_argument("index", type=int)
ap.add_argument("--prev")
ap.add_argument("--runtime", default="{}")
ap.add_argument("--valid")
a = ap.parse_args()
lst = json.load(open(a.list))
p = dict(lst["plugins"][a.index])
caps = p.pop("capabilities", {})
p["cniVersion"] = lst["cniVersion"]
p["name"] = lst["name"]
rt = {k: v for k, v in json.loads(a.runtime).items() if caps.get(k)}
if rt:
    p["runtimeConfig"] = rt
if a.prev:
    p["prevResult"] = json.load(open(a.prev))
if a.valid is not None:
    p["cni.dev/valid-attachments"] = json.loads(a.valid)
print(json.dumps(p))
EOF
}

plugin_conf()
{
	"$PYTHON3" "$T/plugin_conf.py" "$@"
}

start_node()
{
	local n=$1 a cni_dir="" rkt_dir=""
	shift
	tartand_start "$n" -- --resync-interval 1 "$@" || tap_bail "could not start tartand in $n"
	while (($#)); do
		a=$1
		shift
		case $a in
		--cni-conf-dir) cni_dir=$1 ;;
		--rkt-net-dir) rkt_dir=$1 ;;
		esac
	done
	# shellcheck disable=SC2034 # the tests read these
	conflist[$n]=${cni_dir:-${TARTAND_DIR[$n]}/net.d}/10-tartan.conflist
	# shellcheck disable=SC2034
	rktconf[$n]=${rkt_dir:-${TARTAND_DIR[$n]}/rkt.d}/10-rkt.kubernetes.io.conf
}

node_up()
{
	local n=$1 s desc="$1: running with $2 peers"
	(($2 != 1)) || desc="$n: running with 1 peer"
	if wait_until 20 tstatus_is "$n" peers "$2" && tstatus_is "$n" state running; then
		tap_ok "$desc"
	else
		tap_fail "$desc" "saw: $(tstatus "$n" 2>&1)"
	fi
	s=$(tstatus "$n" subnet 2>/dev/null || true)
	[[ $s =~ ^10\.5\.[0-9]+\.0/24$ && $s != "${3:-}" ]] ||
		tap_bail "$n has no (new) subnet (status subnet '$s')"
	# shellcheck disable=SC2034 # the tests read these
	subnet[$n]=$s
	# shellcheck disable=SC2034
	gw[$n]=${s%.0/24}.1
	store[$n]=${TARTAND_DIR[$n]}/state/networks/rkt.kubernetes.io
}

mkpod()
{
	local i=${#pod_ns_made[@]} ns
	# numbered as add_pod numbers them; past the names of namespaces pod_ns_del deleted
	while [[ -e /var/run/netns/${NETNS_TAG}p$i ]]; do
		i=$((i + 1))
	done
	ns=${NETNS_TAG}p$i
	((${#ns} <= 15)) || tap_bail "pod namespace name $ns is too long"
	ip netns add "$ns" || tap_bail "ip netns add $ns failed"
	pod_ns_made+=("$ns")
	ip -n "$ns" link set lo up
	pod_ns[$1]=$ns
	pod_node[$1]=$2
	pod_id[$1]=ctr-$1
}

pod_ns_del()
{
	local ns=${pod_ns[$1]} i
	ip netns del "$ns" || return
	for i in "${!pod_ns_made[@]}"; do
		[[ ${pod_ns_made[$i]} != "$ns" ]] || unset "pod_ns_made[$i]"
	done
	pod_ns_made=("${pod_ns_made[@]}")
}

run_plugin()
{
	local bin=$1 path=$2 command=$3 pod=$4 conf=$5 out=$6 node a k
	local -A env=()
	local -a names=(CNI_COMMAND CNI_CONTAINERID CNI_NETNS CNI_IFNAME CNI_PATH CNI_ARGS) words=()
	shift 6
	env[CNI_COMMAND]=$command
	env[CNI_PATH]=$path
	if [[ $pod == - ]]; then
		node=$RUN_NODE
	else
		node=${pod_node[$pod]}
		env[CNI_CONTAINERID]=${pod_id[$pod]}
		env[CNI_NETNS]=/var/run/netns/${pod_ns[$pod]}
		env[CNI_IFNAME]=eth0
		env[CNI_ARGS]="IgnoreUnknown=1;K8S_POD_NAMESPACE=tartan-test;K8S_POD_NAME=$pod"
	fi
	for a in "$@"; do
		if [[ $a == -* ]]; then
			unset "env[${a#-}]"
			continue
		fi
		k=${a%%=*}
		if [[ $k == *+ ]]; then
			k=${k%+}
			env[$k]=${env[$k]:-}${a#*=}
		else
			env[$k]=${a#*=}
		fi
		[[ " ${names[*]} " == *" $k "* ]] || names+=("$k")
	done
	for k in "${names[@]}"; do
		[[ -z ${env[$k]+x} ]] || words+=("$k=${env[$k]}")
	done
	RC=0
	netns_exec "$node" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin ${SAN_ENV[@]+"${SAN_ENV[@]}"} \
		"${words[@]}" timeout 30 "$bin" <"$conf" >"$out" 2>"$out.err" || RC=$?
}

tartan()
{
	run_plugin "$TARTAN_CNI" "$TARTAN_CNI_PATH" "$@"
}

ref()
{
	local plugin=$1
	shift
	run_plugin "$CNI_BIN/$plugin" "$CNI_BIN" "$@"
}

plugin_ok()
{
	if ((RC == 0)) && { [[ ${3:-0} != 1 ]] || [[ ! -s $2 ]]; }; then
		tap_ok "$1"
		return 0
	fi
	tap_fail "$1" "exit status $RC; stdout: $(cat "$2")" "stderr: $(cat "$2.err")"
	return 1
}

plugin_err()
{
	local got msg
	got=$(jval "$2" '"%s %s" % (d["code"], "msg" if d.get("msg") else "no-msg")' 2>/dev/null ||
		echo "no error object")
	msg=$(jval "$2" 'd.get("msg") or ""' 2>/dev/null || true)
	if ((RC == 1)) && [[ $got == "$3 msg" ]] && { [[ -z ${4:-} ]] || [[ $msg =~ $4 ]]; }; then
		tap_ok "$1"
		return 0
	fi
	tap_fail "$1" "expected exit 1 and code $3 with a msg ~ '${4:-.}'; saw exit $RC, $got" \
		"stdout: $(cat "$2")" "stderr: $(cat "$2.err")"
	return 1
}

jval()
{
	"$PYTHON3" -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
		"$1" "$2"
}

in_net()
{
	"$PYTHON3" -c 'import ipaddress, sys
sys.exit(0 if ipaddress.ip_interface(sys.argv[1]).ip in ipaddress.ip_network(sys.argv[2])
	 else 1)' "$1" "$2"
}

pod_addr()
{
	ip -n "${pod_ns[$1]}" -4 -o addr show dev eth0 | awk '{ print $4 }'
}

host_end()
{
	jval "$1" '[i["name"] for i in d["interfaces"] if not i.get("sandbox")][-1]'
}

links()
{
	netns_exec "$1" ip -o link show | awk -F': ' '{ print $2 }' | sed 's/@.*//' | sort |
		paste -sd ' '
}

addr_files()
{
	local f
	for f in "${store[$1]}"/*; do
		f=${f##*/}
		if [[ $f =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
			echo "$f"
		fi
	done | sort -V | paste -sd ' '
}
