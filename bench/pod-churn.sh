#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# functions run through on_exit look unreachable to shellcheck:
# shellcheck disable=SC2317
#
# bench/pod-churn.sh: pods attached and detached through the tartan CNI plugin and through the
# reference chain bridge + host-local. Not a test.
#
#	bash bench/pod-churn.sh [BUILD_DIR] [PODS]
#
# BUILD_DIR defaults to ./build, PODS to 200 (1 to 1000). Needs root: everything happens in
# network namespaces made and deleted here; the reference plugins are Debian's
# containernetworking-plugins in /usr/lib/cni (override with REF_CNI_PATH).
#
# Two node namespaces of the same shape on one underlay (etcd in it, as in the tests):
#   - n1 runs tartand (host-gw, network 10.5.0.0/16, SubnetLen 22, --log-level info); the
#     runtime conf is the one a runtime builds from the 10-tartan.conflist tartand wrote (the
#     tartan plugin object plus the list's name and cniVersion).
#   - n2 runs no daemon; the conf is the bridge plugin on the same bridge name (cni0), same
#     MTU, isGateway, ipMasq false (tartan masquerades nothing per pod either), host-local
#     IPAM on the same /22 with gateway .1, a default route and a dataDir in a temp dir; same
#     cniVersion as tartan's conf.
# One harness, a python3 driver run inside the node's namespace (where a runtime on that node
# runs its plugins), times each plugin process from its start to its exit
# (time.perf_counter() around subprocess.run; the environment is only PATH and the CNI_*
# variables, the conf on stdin): first one warm-up pod (ADD and DEL, not counted: the
# reference creates its bridge on the first ADD, and both get their binaries in the page
# cache), then PODS pods ADDed one after the other, each in a namespace of its own made
# beforehand, then the same PODS DELeted in the same order. tartan goes first, then the
# reference, in the same run. Every run must exit 0 and every ADD must print one address of
# the /22 (else the bench stops); after the DELs both stores must be empty. Printed: median
# and p95 (nearest rank) per operation, the medians of the first and the last quarter of the
# pods (an ADD with few pods live against one with many), pods/s per phase (PODS over the
# phase's wall time), and the ratios reference / tartan.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
pods=${2:-200}
ref_path=${REF_CNI_PATH:-/usr/lib/cni}
if ! [[ $pods =~ ^[0-9]+$ ]] || ((pods < 1 || pods > 1000)); then
	echo "pod-churn.sh: PODS is 1 to 1000" >&2
	exit 2
fi
build=$(cd "$build" 2>/dev/null && pwd) || { echo "pod-churn.sh: no $1" >&2; exit 2; }
export TARTAND=$build/daemon/tartand TARTANCTL=$build/ctl/tartanctl
TARTAN_CNI=$build/cni/tartan
for b in "$TARTAND" "$TARTANCTL" "$TARTAN_CNI" "$ref_path/bridge" "$ref_path/host-local"; do
	[[ -x $b ]] || { echo "pod-churn.sh: $b is missing (build first; reference plugins: apt-get install containernetworking-plugins)" >&2; exit 2; }
done
((EUID == 0)) || { echo "pod-churn.sh: needs root (network namespaces)" >&2; exit 2; }

# shellcheck source=tests/lib/etcd.sh
. "$root/tests/lib/etcd.sh"
# shellcheck source=tests/lib/netns.sh
. "$root/tests/lib/netns.sh"
# shellcheck source=tests/lib/tartand.sh
. "$root/tests/lib/tartand.sh"

tartan_net_setup # underlay u, etcd e on 192.0.2.254 in u, TARTAN_WORK
work=$TARTAN_WORK

netns_node n1 192.0.2.11/24 || { echo "pod-churn.sh: could not make n1" >&2; exit 1; }
netns_node n2 192.0.2.12/24 || { echo "pod-churn.sh: could not make n2" >&2; exit 1; }
ectl put "$FLANNEL_PREFIX/config" \
	'{"Network":"10.5.0.0/16","SubnetLen":22,"Backend":{"Type":"host-gw"}}' >/dev/null
tartand_start n1 -- --log-level info --bridge cni0 "--cni-conf-dir=$work/n1/cni" \
	--rkt-net-dir= || { echo "pod-churn.sh: could not start tartand" >&2; exit 1; }
if ! wait_until 20 tstatus_is n1 state running || ! wait_until 10 test -s "$work/n1/cni/10-tartan.conflist"; then
	echo "pod-churn.sh: tartand is not running: $(tstatus n1 2>&1)" >&2
	tail -n 20 "${TARTAND_LOG[n1]}" >&2
	exit 1
fi
subnet=$(tstatus n1 subnet)
mtu=$(netns_exec n1 cat /sys/class/net/eth0/mtu)
mkdir -p "$work/ref-data"

# the two runtime confs
"$PYTHON3" - "$work/n1/cni/10-tartan.conflist" "$subnet" "$mtu" "$work/ref-data" \
	"$work/tartan.json" "$work/ref.json" <<'EOF'
import ipaddress, json, sys
conflist, subnet, mtu, data, out_tartan, out_ref = sys.argv[1:]
l = json.load(open(conflist))
t = dict(l["plugins"][0], name=l["name"], cniVersion=l["cniVersion"])
assert t["type"] == "tartan", t
json.dump(t, open(out_tartan, "w"))
net = ipaddress.ip_network(subnet)
json.dump({"cniVersion": l["cniVersion"], "name": "bench-ref", "type": "bridge",
           "bridge": "cni0", "mtu": int(mtu), "isGateway": True, "ipMasq": False,
           "ipam": {"type": "host-local", "subnet": subnet,
                    "gateway": str(net.network_address + 1), "dataDir": data,
                    "routes": [{"dst": "0.0.0.0/0"}]}}, open(out_ref, "w"))
EOF

# the pods' namespaces: PODS + 1 (warm-up) per plugin
pod_ns=()
for ((i = 0; i < 2 * (pods + 1); i++)); do
	pod_ns+=("$(printf '%sp%03d' "$NETNS_TAG" "$i")")
done
pod_ns_cleanup()
{
	local ns
	for ns in "${pod_ns[@]}"; do
		[[ ! -e /var/run/netns/$ns ]] || ip netns del "$ns" 2>/dev/null || true
	done
}
on_exit pod_ns_cleanup
printf 'netns add %s\n' "${pod_ns[@]}" | ip -batch -
printf '%s\n' "${pod_ns[@]:0:$((pods + 1))}" >"$work/ns-tartan"
printf '%s\n' "${pod_ns[@]:$((pods + 1))}" >"$work/ns-ref"

cat >"$work/driver.py" <<'EOF'
import ipaddress, json, os, subprocess, sys, time

plugin, cni_path, conf_file, ns_file, subnet, out = sys.argv[1:]
conf = open(conf_file, "rb").read()
names = open(ns_file).read().split()
net = ipaddress.ip_network(subnet)


def run(command, cid, ns):
    env = {"PATH": "/usr/bin:/bin", "CNI_COMMAND": command, "CNI_CONTAINERID": cid,
           "CNI_NETNS": "/var/run/netns/" + ns, "CNI_IFNAME": "eth0", "CNI_PATH": cni_path}
    t0 = time.perf_counter()
    p = subprocess.run([plugin], input=conf, env=env, capture_output=True)
    t = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit("%s %s %s: exit %d: %s %s" % (os.path.basename(plugin), command, cid,
                                              p.returncode, p.stdout.decode(),
                                              p.stderr.decode()))
    if command == "ADD":
        ips = json.loads(p.stdout)["ips"]
        if len(ips) != 1 or ipaddress.ip_interface(ips[0]["address"]).network != net:
            sys.exit("ADD %s: unexpected result %s" % (cid, p.stdout.decode()))
    return t


pods = [("bench-%04d" % i, ns) for i, ns in enumerate(names[1:])]
run("ADD", "bench-warmup", names[0])
run("DEL", "bench-warmup", names[0])
res = {}
for op in ("ADD", "DEL"):
    t0 = time.perf_counter()
    res[op] = [run(op, cid, ns) for cid, ns in pods]
    res[op + "_wall"] = time.perf_counter() - t0
json.dump(res, open(out, "w"))
EOF

# bench_one NODE PLUGIN CNI_PATH CONF NSFILE OUT
bench_one()
{
	netns_exec "$1" "$PYTHON3" "$work/driver.py" "$2" "$3" "$4" "$5" "$subnet" "$6"
}

echo "# $pods pods, node subnet $subnet, MTU $mtu; tartan first, then bridge + host-local" >&2
bench_one n1 "$TARTAN_CNI" "$build/cni" "$work/tartan.json" "$work/ns-tartan" "$work/r-tartan.json"
bench_one n2 "$ref_path/bridge" "$ref_path" "$work/ref.json" "$work/ns-ref" "$work/r-ref.json"

# nothing may be left behind: both stores empty
left=$(find "$work/n1/state/networks/rkt.kubernetes.io" "$work/ref-data" -type f \
	! -name lock ! -name 'last_reserved_ip.*' | wc -l)
veths=$( (netns_exec n1 ip -o link show type veth; netns_exec n2 ip -o link show type veth) |
	grep -vc ': eth0@' || true)
if ((left != 0 || veths != 0)); then
	echo "pod-churn.sh: after the DELs $left address files and $veths veths are left" >&2
	exit 1
fi

tartand_stop n1 TERM || true
ref_about=$(dpkg-query -W -f '${Package} ${Version}' containernetworking-plugins 2>/dev/null ||
	echo "$ref_path")
"$PYTHON3" - "$work/r-tartan.json" "$work/r-ref.json" "$pods" "$ref_about" <<'EOF'
import json, math, statistics, sys
t, r = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
n, ref_about = int(sys.argv[3]), sys.argv[4]


def p95(v):
    s = sorted(v)
    return s[math.ceil(0.95 * len(s)) - 1]


rows = []
for op in ("ADD", "DEL"):
    for name, f, unit in (("median", statistics.median, "ms"), ("p95", p95, "ms")):
        a, b = f(t[op]) * 1e3, f(r[op]) * 1e3
        rows.append(("%s %s (%s)" % (op, name, unit), "%.2f" % a, "%.2f" % b, "%.1f" % (b / a)))
    if n >= 8:
        q = n // 4
        a = (statistics.median(t[op][:q]) * 1e3, statistics.median(t[op][-q:]) * 1e3)
        b = (statistics.median(r[op][:q]) * 1e3, statistics.median(r[op][-q:]) * 1e3)
        rows.append(("%s median, first / last quarter of the pods (ms)" % op,
                     "%.2f / %.2f" % a, "%.2f / %.2f" % b,
                     "%.1f / %.1f" % (b[0] / a[0], b[1] / a[1])))
    a, b = n / t[op + "_wall"], n / r[op + "_wall"]
    rows.append(("%s pods/s" % op, "%.0f" % a, "%.0f" % b, "%.1f" % (a / b)))
print("| figure (%d pods, one after the other) | tartan | bridge + host-local | ratio |" % n)
print("|---|---|---|---|")
for row in rows:
    print("| %s | %s | %s | %s |" % row)
print()
print("ratio: reference / tartan for times, tartan / reference for pods/s (> 1: tartan better)")
print("reference: %s" % ref_about)
EOF
# (no TAP here: tap_done only stops the libs' exit trap from printing the daemon's log)
tap_done >/dev/null 2>&1
