#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# functions run through on_exit look unreachable to shellcheck:
# shellcheck disable=SC2317
#
# bench/soak.sh: one tartand under lease churn and pod churn for a while, its memory and file
# descriptors sampled: do they grow after warm-up? Not a test.
#
#	bash bench/soak.sh [--duration SECONDS] [--peers N] [--csv FILE] [BUILD_DIR]
#
# BUILD_DIR defaults to ./build, SECONDS to 600 (60 to 7200), N to 200 (1 to 250). Needs root:
# everything happens in network namespaces made and deleted here.
#
# One node namespace n1 (192.0.2.11) on an underlay with etcd in it, as in the tests; tartand
# runs there with host-gw (network 10.5.0.0/16, /24 subnets) and --log-level info. Then, for
# SECONDS, three things at once, each a bounded loop that stops by itself at the deadline:
#   - lease churn (a python3 driver in the underlay, over etcd's v3 JSON gateway, one HTTP
#     keep-alive connection): N simulated flanneld nodes, each with a /24 of its own (not
#     n1's) and a PublicIP 192.0.2.20+i on the underlay, first all joining, then one at a
#     time, at random, leaving or joining again: a join is what flanneld does (an etcd lease
#     granted, the subnet key put with its host-gw value on it), a leave what a node gone
#     for good leaves behind (its etcd lease revoked, which deletes the key, as when it
#     expires); about 20 changes a second, so tartand adds and removes host-gw routes all the
#     time;
#   - pod churn (a python3 driver in n1, where a runtime runs its plugins): the tartan CNI
#     plugin, run as a runtime runs it (env with only PATH and the CNI_* variables, the
#     conf a runtime builds from the 10-tartan.conflist tartand wrote on stdin), ADDs and
#     DELs pods over 24 pod namespaces made beforehand, keeping between 1 and 24 alive;
#     every ADD must print one address of n1's subnet and every run exit 0 (else the bench
#     stops), with a 50 ms pause between runs;
#   - every 5 s, one sample of tartand (/proc/PID): VmRSS, RssAnon (its private memory), Pss
#     (smaps_rollup; moves with the plugin processes sharing its libraries), the number of
#     open fds, plus the peers tartanctl status reports, to the CSV (default
#     $TARTAN_WORK/soak.csv, deleted with the work dir; give --csv to keep it).
# At the end: the live pods DELeted, the store must be empty; once the leases stop changing,
# tartanctl status must report as many peers as etcd holds leases of others and n1 must hold
# one host-gw route per peer; then SIGTERM, and tartand must exit 0.
#
# Printed: per figure (VmRSS, RssAnon, Pss, fds) the value at the end of warm-up (the median of the
# samples in the 30 s after the first fifth of the run), at the end (median of the last 30 s),
# the maximum, and the least-squares slope after warm-up (per minute); the verdict "grows"
# when the end value is above the warm-up value by more than the noise allowed (memory: 3 %
# or 256 kB, whichever is more; fds: 2) and the slope is positive, else "flat". Pss is shown
# but not judged: its shared-library part is divided among all the processes that map the
# same pages at the moment (other tartands on the machine, the plugin runs), so it jumps by
# megabytes with no change in tartand; RssAnon is the figure a leak moves.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
duration=600
npeers=200
csv=""
build=""
while (($#)); do
	case $1 in
	--duration) duration=${2:-}; shift 2 ;;
	--peers) npeers=${2:-}; shift 2 ;;
	--csv) csv=${2:-}; shift 2 ;;
	-h | --help) sed -n '5,12p' "${BASH_SOURCE[0]}"; exit 0 ;;
	-*) echo "soak.sh: unknown option $1" >&2; exit 2 ;;
	*) build=$1; shift ;;
	esac
done
if ! [[ $duration =~ ^[0-9]+$ ]] || ((duration < 60 || duration > 7200)); then
	echo "soak.sh: --duration is 60 to 7200 seconds" >&2
	exit 2
fi
if ! [[ $npeers =~ ^[0-9]+$ ]] || ((npeers < 1 || npeers > 250)); then
	echo "soak.sh: --peers is 1 to 250" >&2
	exit 2
fi
[[ -n $build ]] || build=$root/build
build=$(cd "$build" 2>/dev/null && pwd) || { echo "soak.sh: no build dir $build" >&2; exit 2; }
if [[ -n $csv ]]; then
	: >"$csv" || { echo "soak.sh: cannot write $csv" >&2; exit 2; }
	csv=$(cd "$(dirname "$csv")" && pwd)/$(basename "$csv")
fi
export TARTAND=$build/daemon/tartand TARTANCTL=$build/ctl/tartanctl
TARTAN_CNI=$build/cni/tartan
for b in "$TARTAND" "$TARTANCTL" "$TARTAN_CNI"; do
	[[ -x $b ]] || { echo "soak.sh: $b is missing (build first)" >&2; exit 2; }
done
((EUID == 0)) || { echo "soak.sh: needs root (network namespaces)" >&2; exit 2; }

# shellcheck source=tests/lib/etcd.sh
. "$root/tests/lib/etcd.sh"
# shellcheck source=tests/lib/netns.sh
. "$root/tests/lib/netns.sh"
# shellcheck source=tests/lib/tartand.sh
. "$root/tests/lib/tartand.sh"

tartan_net_setup # underlay u, etcd e on 192.0.2.254 in u, TARTAN_WORK
work=$TARTAN_WORK
[[ -n $csv ]] || csv=$work/soak.csv

netns_node n1 192.0.2.11/24 || { echo "soak.sh: could not make n1" >&2; exit 1; }
ectl put "$FLANNEL_PREFIX/config" \
	'{"Network":"10.5.0.0/16","SubnetLen":24,"Backend":{"Type":"host-gw"}}' >/dev/null
tartand_start n1 -- --log-level info --bridge cni0 "--cni-conf-dir=$work/n1/cni" \
	--rkt-net-dir= || { echo "soak.sh: could not start tartand" >&2; exit 1; }
pid=${TARTAND_PID[n1]}
if ! wait_until 20 tstatus_is n1 state running || ! wait_until 10 test -s "$work/n1/cni/10-tartan.conflist"; then
	echo "soak.sh: tartand is not running: $(tstatus n1 2>&1)" >&2
	tail -n 20 "${TARTAND_LOG[n1]}" >&2
	exit 1
fi
# (its comm is "exe": tartand re-execs itself through /proc/self/exe, see daemon/main.c)
[[ $(readlink "/proc/$pid/exe" 2>/dev/null) == "$(readlink -f "$TARTAND")" ]] ||
	{ echo "soak.sh: pid $pid is not tartand" >&2; exit 1; }
subnet=$(tstatus n1 subnet)

"$PYTHON3" - "$work/n1/cni/10-tartan.conflist" "$work/tartan.json" <<'EOF'
import json, sys
l = json.load(open(sys.argv[1]))
t = dict(l["plugins"][0], name=l["name"], cniVersion=l["cniVersion"])
assert t["type"] == "tartan", t
json.dump(t, open(sys.argv[2], "w"))
EOF

pod_ns=()
for ((i = 0; i < 24; i++)); do
	pod_ns+=("$(printf '%sp%02d' "$NETNS_TAG" "$i")")
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
printf '%s\n' "${pod_ns[@]}" >"$work/pod-ns"

# ---- the lease churn driver (in the underlay, next to etcd) ----
cat >"$work/leases.py" <<'EOF'
import base64, http.client, ipaddress, json, random, sys, time
endpoint, prefix, own, npeers, deadline, out = sys.argv[1:]
npeers, deadline = int(npeers), float(deadline)
host, port = endpoint.split("//")[1].split(":")
conn = http.client.HTTPConnection(host, int(port), timeout=10)
b64 = lambda s: base64.b64encode(s.encode()).decode()


def call(path, body):
    conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    r = conn.getresponse()
    data = r.read()
    if r.status != 200:
        sys.exit("leases.py: %s: HTTP %d %s" % (path, r.status, data[:200]))
    return json.loads(data)


own = ipaddress.ip_network(own)
subnets = [s for s in ipaddress.ip_network("10.5.0.0/16").subnets(new_prefix=24)
           if s != own and s.network_address.packed[2] != 0][:npeers]
peers = []
for i, s in enumerate(subnets):
    key = "%s/subnets/%s-%d" % (prefix, s.network_address, s.prefixlen)
    val = json.dumps({"PublicIP": "192.0.2.%d" % (20 + i), "PublicIPv6": None,
                      "BackendType": "host-gw"})
    peers.append({"key": key, "val": val, "lease": None})
random.seed(8)
joins = leaves = 0


def join(p):
    global joins
    lid = call("/v3/lease/grant", {"TTL": 86400})["ID"]
    call("/v3/kv/put", {"key": b64(p["key"]), "value": b64(p["val"]), "lease": lid})
    p["lease"] = lid
    joins += 1


def leave(p):
    global leaves
    call("/v3/lease/revoke", {"ID": p["lease"]})
    p["lease"] = None
    leaves += 1


for p in peers:
    join(p)
while time.time() < deadline:
    p = random.choice(peers)
    leave(p) if p["lease"] else join(p)
    time.sleep(0.05)
json.dump({"joins": joins, "leaves": leaves,
           "present": sum(1 for p in peers if p["lease"])}, open(out, "w"))
EOF

# ---- the pod churn driver (in n1) ----
cat >"$work/pods.py" <<'EOF'
import ipaddress, json, random, subprocess, sys, time
plugin, cni_path, conf_file, ns_file, subnet, deadline, out = sys.argv[1:]
deadline = float(deadline)
conf = open(conf_file, "rb").read()
names = open(ns_file).read().split()
net = ipaddress.ip_network(subnet)
live, free = {}, list(names)
adds = dels = gen = 0
random.seed(7)


def run(command, cid, ns):
    env = {"PATH": "/usr/bin:/bin", "CNI_COMMAND": command, "CNI_CONTAINERID": cid,
           "CNI_NETNS": "/var/run/netns/" + ns, "CNI_IFNAME": "eth0", "CNI_PATH": cni_path}
    p = subprocess.run([plugin], input=conf, env=env, capture_output=True, timeout=30)
    if p.returncode != 0:
        sys.exit("pods.py: %s %s: exit %d: %s %s" % (command, cid, p.returncode,
                                                    p.stdout.decode(), p.stderr.decode()))
    if command == "ADD":
        ips = json.loads(p.stdout)["ips"]
        if len(ips) != 1 or ipaddress.ip_interface(ips[0]["address"]).network != net:
            sys.exit("pods.py: ADD %s: unexpected result %s" % (cid, p.stdout.decode()))


while time.time() < deadline:
    if free and (not live or random.random() < 0.5):
        ns = free.pop(random.randrange(len(free)))
        gen += 1
        cid = "soak-%06d" % gen
        run("ADD", cid, ns)
        live[ns] = cid
        adds += 1
    else:
        ns = random.choice(list(live))
        run("DEL", live.pop(ns), ns)
        free.append(ns)
        dels += 1
    time.sleep(0.05)
for ns, cid in list(live.items()):
    run("DEL", cid, ns)
    dels += 1
json.dump({"adds": adds, "dels": dels}, open(out, "w"))
EOF

start=$(date +%s)
deadline=$((start + duration))
echo "# soak: ${duration} s, $npeers peers, node subnet $subnet, tartand pid $pid, samples to $csv" >&2
netns_exec u "$PYTHON3" "$work/leases.py" "$ETCD_ENDPOINT_e" "$FLANNEL_PREFIX" "$subnet" \
	"$npeers" "$deadline" "$work/leases.json" >"$work/leases.log" 2>&1 &
leases_pid=$!
netns_exec n1 "$PYTHON3" "$work/pods.py" "$TARTAN_CNI" "$build/cni" "$work/tartan.json" \
	"$work/pod-ns" "$subnet" "$deadline" "$work/pods.json" >"$work/pods.log" 2>&1 &
pods_pid=$!
drivers_cleanup()
{
	local p
	for p in "${leases_pid:-}" "${pods_pid:-}"; do
		[[ -z $p ]] || kill "$p" 2>/dev/null || true
	done
}
on_exit drivers_cleanup

# ---- the sampler: every 5 s until the deadline (or until a driver or tartand gives up) ----
echo "t_s,rss_kb,anon_kb,pss_kb,fds,peers" >"$csv"
failed=""
while (($(date +%s) < deadline)); do
	now=$(($(date +%s) - start))
	rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) || true
	[[ -n $rss ]] || { failed="tartand (pid $pid) is gone"; break; }
	anon=$(awk '/^RssAnon:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) || anon=""
	pss=$(awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup" 2>/dev/null) || pss=""
	fds=$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
	peers=$(tstatus n1 peers 2>/dev/null) || peers=""
	echo "$now,$rss,$anon,$pss,$fds,$peers" >>"$csv"
	_pid_alive "$leases_pid" || { failed="the lease driver stopped: $(cat "$work/leases.log")"; break; }
	_pid_alive "$pods_pid" || { failed="the pod driver stopped: $(cat "$work/pods.log")"; break; }
	sleep 5
done
wait "$leases_pid" || failed=${failed:-"the lease driver failed: $(cat "$work/leases.log")"}
leases_pid=""
wait "$pods_pid" || failed=${failed:-"the pod driver failed: $(cat "$work/pods.log")"}
pods_pid=""
if [[ -n $failed ]]; then
	echo "soak.sh: $failed" >&2
	tail -n 20 "${TARTAND_LOG[n1]}" >&2
	exit 1
fi

# ---- the end state ----
present=$(jget "$(cat "$work/leases.json")" 'd["present"]')
peers_ok()
{
	[[ $(tstatus n1 peers 2>/dev/null) == "$present" ]]
}
routes()
{
	netns_exec n1 ip -4 route show | grep -c ' via 192\.0\.2\.' || true
}
routes_ok()
{
	[[ $(routes) == "$present" ]]
}
if ! wait_until 30 peers_ok || ! wait_until 30 routes_ok; then
	echo "soak.sh: $present peers in etcd, tartand reports $(tstatus n1 peers), n1 holds $(routes) host-gw routes" >&2
	exit 1
fi
left=$(find "$work/n1/state/networks" -type f ! -name lock ! -name 'last_reserved_ip.*' 2>/dev/null | wc -l)
if ((left != 0)); then
	echo "soak.sh: after the last DEL $left address files are left in the store" >&2
	exit 1
fi
tartand_stop n1 TERM || true
if [[ $TARTAND_RC != 0 ]]; then
	echo "soak.sh: tartand exited $TARTAND_RC on SIGTERM" >&2
	exit 1
fi
errors=$(grep -cE '^tartand: (emergency|alert|critical|error):' "${TARTAND_LOG[n1]}" || true)

"$PYTHON3" - "$csv" "$work/leases.json" "$work/pods.json" "$duration" "$npeers" "$present" \
	"$errors" <<'EOF'
import csv, json, statistics, sys
path, lj, pj, duration, npeers, present, errors = sys.argv[1:]
rows = list(csv.DictReader(open(path)))
le, po = json.load(open(lj)), json.load(open(pj))
t = [float(r["t_s"]) for r in rows]
warm = float(duration) / 5


def window(col, lo, hi):
    return [float(r[col]) for r, x in zip(rows, t) if lo <= x < hi and r[col]]


def slope(col):
    pts = [(x, float(r[col])) for r, x in zip(rows, t) if x >= warm and r[col]]
    mx = statistics.mean(p[0] for p in pts)
    my = statistics.mean(p[1] for p in pts)
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx * 60 if sxx else 0.0


print("| figure (%d samples, %s s, warm-up %.0f s) | after warm-up | end | max | slope after "
      "warm-up (per min) | verdict |" % (len(rows), duration, warm))
print("|---|---|---|---|---|---|")
grew = False
# Pss is shown, not judged: its shared-library part is split among every process mapping the
# same pages (other daemons, the plugin runs), so it jumps by megabytes as they come and go.
mem = lambda v: max(0.03 * v, 256)
for col, name, unit, allow in (("rss_kb", "VmRSS", "kB", mem), ("anon_kb", "RssAnon", "kB", mem),
                               ("pss_kb", "Pss", "kB", None), ("fds", "open fds", "", lambda v: 2)):
    w = window(col, warm, warm + 30)
    e = window(col, t[-1] - 30, t[-1] + 1)
    if not w or not e:
        continue
    a, b = statistics.median(w), statistics.median(e)
    m = max(window(col, 0, t[-1] + 1))
    s = slope(col)
    g = allow is not None and b - a > allow(a) and s > 0
    grew |= g
    print("| %s%s | %.0f | %.0f | %.0f | %+.1f | %s |" % (name, " (%s)" % unit if unit else "",
          a, b, m, s, "not judged" if allow is None else "grows" if g else "flat"))
print()
print("lease churn: %d joins, %d leaves (%d peers, %s present at the end); pod churn: %d ADDs, "
      "%d DELs; error lines in tartand's log: %s" % (le["joins"], le["leaves"], int(npeers),
                                                     present, po["adds"], po["dels"], errors))
print("verdict: %s" % ("something grows after warm-up" if grew else
                       "neither memory nor fds grow after warm-up"))
EOF
# (no TAP here: tap_done only stops the libs' exit trap from printing the daemon's log)
tap_done >/dev/null 2>&1
