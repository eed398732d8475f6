#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# bench/route-sync.sh: a node joining 5,000 peers programs its data plane. Not a test.
#
#	bash bench/route-sync.sh [BUILD_DIR] [PEERS] [BACKEND] [RUNS]
#
# BUILD_DIR defaults to ./build, PEERS to 5000, BACKEND (host-gw, vxlan or both) to host-gw,
# RUNS to 3. Needs root: everything happens in network namespaces made and deleted here.
#
# PEERS flannel leases (network 10.0.0.0/8, SubnetLen 24; peer K holds 10.K/256.K%256.0/24
# at public IP 198.18.K/256.K%256; vxlan leases carry {"VNI":1,"VtepMAC":"02:42:c6:12:..."},
# a distinct locally administered unicast MAC each, host-gw leases no BackendData) are written
# to a private etcd, each on a 24 h etcd lease, under one prefix per backend. etcd listens on
# the underlay namespace's bridge (192.0.2.254); a node namespace's eth0 is a veth on that
# bridge with 192.0.2.1/24 (its public IP) and 198.19.255.254/15, so every peer's public IP
# is on-link and host-gw routes are valid. In the same run, RUNS times per backend:
#   - tartand starts in a fresh node namespace (--iface eth0 --resync-interval 3600); the
#     time runs from its exec (a gate FIFO released by the watcher, which then takes t0) until
#     the kernel holds every entry: PEERS routes of protocol 84 (host-gw), or PEERS routes,
#     PEERS permanent neighbours on flannel.1 and PEERS permanent FDB entries on flannel.1
#     (vxlan). The watcher, a python process inside the namespace, counts the kernel's own
#     netlink notifications (RTNLGRP_IPV4_ROUTE and RTNLGRP_NEIGH, 64 MB receive buffer;
#     should it overflow it falls back to counting with ip(8) every 20 ms and says so). The
#     figure includes everything tartand does first: etcd connection, config, its own lease
#     (range, grant, txn), the peer list. After the watcher, the kernel counts are taken again
#     with ip/bridge (the truth; they must be exactly PEERS), tartand's peak RSS (VmHWM) and
#     its private memory (RssAnon).
#   - the physical limit, in another fresh namespace of the same shape: one `etcdctl get
#     --prefix PREFIX/subnets/ -w json >/dev/null` (one process, the same etcd, over the same
#     kind of veth) plus one `ip -batch FILE` adding the same routes (host-gw: `route replace
#     ... proto 84`; vxlan: `neigh replace ... nud permanent` and `route replace ... onlink`,
#     plus `bridge -batch FILE` with the `fdb replace ... self permanent` lines; flannel.1 is
#     made beforehand, outside the timing). Each process timed on its own, the times added.
# Between measurements tartand is stopped, its own lease deleted (it would be a peer of the
# next run) and the namespace deleted, waiting until the kernel has torn it down; tartand goes
# first in odd runs, the limit in even ones. Medians over the runs are printed in a table, each
# column on its own; the per-run figures go to stderr.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
peers=${2:-5000}
backend_arg=${3:-host-gw}
runs=${4:-3}
case $backend_arg in
host-gw | vxlan) backends=("$backend_arg") ;;
both) backends=(host-gw vxlan) ;;
*) echo "route-sync.sh: BACKEND is host-gw, vxlan or both (got '$backend_arg')" >&2; exit 2 ;;
esac
if ! [[ $peers =~ ^[0-9]+$ ]] || ((peers < 1 || peers > 65000)); then
	echo "route-sync.sh: PEERS is 1 to 65000" >&2
	exit 2
fi
if ! [[ $runs =~ ^[0-9]+$ ]] || ((runs < 1 || runs > 99)); then
	echo "route-sync.sh: RUNS is 1 to 99" >&2
	exit 2
fi
export TARTAND=$build/daemon/tartand TARTANCTL=$build/ctl/tartanctl
for b in "$TARTAND" "$TARTANCTL"; do
	[[ -x $b ]] || { echo "route-sync.sh: $b is missing: build first" >&2; exit 2; }
done
((EUID == 0)) || { echo "route-sync.sh: needs root (network namespaces)" >&2; exit 2; }

# shellcheck source=tests/lib/etcd.sh
. "$root/tests/lib/etcd.sh"
# shellcheck source=tests/lib/netns.sh
. "$root/tests/lib/netns.sh"
# shellcheck source=tests/lib/tartand.sh
. "$root/tests/lib/tartand.sh"

tartan_net_setup # underlay u, etcd e on 192.0.2.254 in u, TARTAN_WORK
work=$TARTAN_WORK
NODE_IP=192.0.2.1
NODE_ONLINK=198.19.255.254/15
VXLAN_PORT=8472

# netns_drop NAME: delete a namespace made by netns_node before the end (the lib deletes the
# rest at exit), and wait until the kernel has torn it down: that happens after `ip netns
# del` returns, in a work queue holding the RTNL lock while it flushes thousands of routes,
# and would slow down whatever is measured next. The veth's underlay end goes at that point.
netns_drop()
{
	local ns=${NETNS[$1]} keep=() n
	ip netns del "$ns"
	for n in "${_NETNS_CREATED[@]}"; do
		[[ $n == "$ns" ]] || keep+=("$n")
	done
	_NETNS_CREATED=("${keep[@]}")
	unset "NETNS[$1]"
	wait_until 30 _link_gone "v$1" || { echo "v$1 still in the underlay after 30 s" >&2; return 1; }
	sleep 0.5
}

# shellcheck disable=SC2317 # called through wait_until
_link_gone()
{
	! ip -n "${NETNS[u]}" link show "$1" >/dev/null 2>&1
}

# node_make NAME: a fresh node namespace: eth0 on the underlay with NODE_IP/24 and NODE_ONLINK
node_make()
{
	netns_node "$1" "$NODE_IP/24" || { echo "could not make namespace $1" >&2; return 1; }
	netns_exec "$1" ip addr add "$NODE_ONLINK" dev eth0
}

# -- leases: one prefix per backend, same subnets and public IPs
write_leases() # BACKEND PREFIX
{
	local type=$1 prefix=$2 id n
	ectl put "$prefix/config" \
		"{\"Network\":\"10.0.0.0/8\",\"SubnetLen\":24,\"Backend\":{\"Type\":\"$type\"}}" >/dev/null
	id=$(ectl lease grant 86400 | awk '/granted/ { print $2 }')
	# 128 puts a txn, over one connection to etcd's JSON gateway, from inside the underlay;
	# also writes the batch files of the limit
	netns_exec u "$PYTHON3" - "$peers" "$prefix" "$((16#$id))" "$ETCD_ENDPOINT_e" "$type" \
		"$work/$type" <<'PY'
import base64, http.client, json, sys, urllib.parse
n, prefix, lease, ep, typ, out = (int(sys.argv[1]), sys.argv[2], sys.argv[3],
                                  urllib.parse.urlsplit(sys.argv[4]), sys.argv[5], sys.argv[6])
b64 = lambda s: base64.b64encode(s.encode()).decode()
conn = http.client.HTTPConnection(ep.hostname, ep.port)
ipb, brb = open(out + ".ip-batch", "w"), open(out + ".bridge-batch", "w")
for start in range(0, n, 128):
    ops = []
    for k in range(start + 1, min(n, start + 128) + 1):
        a, b = k >> 8, k & 255
        sub, pub, mac = "10.%d.%d.0" % (a, b), "198.18.%d.%d" % (a, b), "02:42:c6:12:%02x:%02x" % (a, b)
        if typ == "vxlan":
            value = ('{"PublicIP":"%s","PublicIPv6":null,"BackendType":"vxlan",'
                     '"BackendData":{"VNI":1,"VtepMAC":"%s"}}' % (pub, mac))
            ipb.write("neigh replace %s lladdr %s dev flannel.1 nud permanent\n" % (sub, mac))
            ipb.write("route replace %s/24 via %s dev flannel.1 onlink proto 84\n" % (sub, sub))
            brb.write("fdb replace %s dev flannel.1 dst %s self permanent\n" % (mac, pub))
        else:
            value = '{"PublicIP":"%s","PublicIPv6":null,"BackendType":"host-gw"}' % pub
            ipb.write("route replace %s/24 via %s dev eth0 proto 84\n" % (sub, pub))
        ops.append({"request_put": {"key": b64("%s/subnets/%s-24" % (prefix, sub)),
                                    "value": b64(value), "lease": lease}})
    conn.request("POST", "/v3/kv/txn", json.dumps({"success": ops}),
                 {"Content-Type": "application/json"})
    r = conn.getresponse()
    body = r.read()
    if r.status != 200 or b'"succeeded":true' not in body:
        sys.exit("txn failed: %d %s" % (r.status, body[:200]))
PY
	n=$(ectl get --prefix "$prefix/subnets/" --keys-only | grep -c "^$prefix/subnets/")
	[[ $n == "$peers" ]] || { echo "wrote $n $type leases, expected $peers" >&2; return 1; }
}

# -- the watcher: counts the kernel's notifications in the namespace it runs in
cat >"$work/watch.py" <<'PY'
# watch.py N VXLAN(0|1) GATE TIMEOUT: take t0, release GATE, print when the kernel holds
# N routes of protocol 84 (and for vxlan N permanent neighbours and FDB entries on flannel.1).
import json, os, socket, struct, subprocess, sys, time

n, vxlan, gate, timeout = int(sys.argv[1]), sys.argv[2] == "1", sys.argv[3], float(sys.argv[4])
RTMGRP_NEIGH, RTMGRP_IPV4_ROUTE = 0x4, 0x40
RTM_NEWROUTE, RTM_DELROUTE, RTM_NEWNEIGH, RTM_DELNEIGH = 24, 25, 28, 29
NUD_PERMANENT, AF_INET, AF_BRIDGE = 0x80, 2, 7
PROTO = 84

s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
s.setsockopt(socket.SOL_SOCKET, 33, 64 << 20)  # SO_RCVBUFFORCE
s.bind((0, RTMGRP_IPV4_ROUTE | (RTMGRP_NEIGH if vxlan else 0)))
s.settimeout(0.02)

def attrs(buf, off, end):
    out = {}
    while off + 4 <= end:
        alen, atype = struct.unpack_from("=HH", buf, off)
        if alen < 4:
            break
        out[atype & 0x3fff] = buf[off + 4:off + alen]
        off += (alen + 3) & ~3
    return out

routes, neigh, fdb = set(), set(), set()
flannel = None
done = {"routes": None, "neigh": None, "fdb": None}
if not vxlan:
    del done["neigh"], done["fdb"]
overflow = False
events = 0
first = None  # the first of tartand's entries seen: what comes before is etcd and the lease

def kernel_counts():
    def lines(cmd, word=None):
        out = subprocess.run(cmd, capture_output=True, text=True).stdout.splitlines()
        return len([l for l in out if word is None or word in l])
    c = {"routes": lines(["ip", "-4", "route", "show", "proto", str(PROTO)])}
    if vxlan:
        try:
            socket.if_nametoindex("flannel.1")
            c["neigh"] = lines(["ip", "-4", "neigh", "show", "dev", "flannel.1", "nud", "permanent"])
            c["fdb"] = lines(["bridge", "fdb", "show", "dev", "flannel.1"], "permanent")
        except OSError:
            c["neigh"] = c["fdb"] = 0
    return c

fd = os.open(gate, os.O_WRONLY)
t0 = time.monotonic()
os.write(fd, b"go\n")
os.close(fd)
deadline = t0 + timeout
while any(v is None for v in done.values()):
    now = time.monotonic()
    if now > deadline:
        print(json.dumps({"error": "timeout", "counts": kernel_counts()}))
        sys.exit(1)
    if overflow:
        time.sleep(0.02)
        c = kernel_counts()
        now = time.monotonic()
        for k in done:
            if done[k] is None and c[k] >= n:
                done[k] = now - t0
        continue
    try:
        buf = s.recv(1 << 20)
    except socket.timeout:
        continue
    except OSError as e:
        if e.errno == 105:  # ENOBUFS: notifications lost
            overflow = True
            continue
        raise
    now = time.monotonic()
    off = 0
    while off + 16 <= len(buf):
        mlen, mtype = struct.unpack_from("=IH", buf, off)
        if mlen < 16:
            break
        body, end = off + 16, off + mlen
        events += 1
        if mtype in (RTM_NEWROUTE, RTM_DELROUTE):
            fam, dlen, _, _, table, proto = struct.unpack_from("=BBBBBB", buf, body)
            a = attrs(buf, body + 12, end)
            if proto == PROTO and 1 in a:
                key = (a[1], dlen, struct.unpack("=I", a[15])[0] if 15 in a else table)
                (routes.add if mtype == RTM_NEWROUTE else routes.discard)(key)
        elif mtype in (RTM_NEWNEIGH, RTM_DELNEIGH):
            fam, _, _, ifindex, state = struct.unpack_from("=BBHiH", buf, body)
            if flannel is None:
                try:
                    flannel = socket.if_nametoindex("flannel.1")
                except OSError:
                    pass
            if ifindex == flannel:
                a = attrs(buf, body + 12, end)
                add = mtype == RTM_NEWNEIGH and state & NUD_PERMANENT
                if fam == AF_INET and 1 in a:
                    (neigh.add if add else neigh.discard)(a[1])
                elif fam == AF_BRIDGE and 2 in a:
                    (fdb.add if add else fdb.discard)(a[2])
        off += (mlen + 3) & ~3
    if first is None and (routes or neigh or fdb):
        first = now - t0
    for k, have in (("routes", routes), ("neigh", neigh), ("fdb", fdb)):
        if k in done and done[k] is None and len(have) >= n:
            done[k] = now - t0
if first is None:  # overflow before the first batch was read
    first = min(done.values())
print(json.dumps({"first_ms": round(first * 1000, 1),
                  "ms": {k: round(v * 1000, 1) for k, v in done.items()},
                  "all_ms": round(max(done.values()) * 1000, 1),
                  "overflow": overflow, "events": events}))
PY

# -- the limit: etcdctl get, then ip -batch (and bridge -batch), in the namespace it runs in
cat >"$work/limit.py" <<'PY'
# limit.py ETCDCTL ENDPOINT PREFIX IPBATCH [BRIDGEBATCH]: time each process, print JSON (ms)
import json, os, subprocess, sys, time
etcdctl, ep, prefix, ipb = sys.argv[1:5]
brb = sys.argv[5] if len(sys.argv) > 5 else None
env = dict(os.environ, ETCDCTL_API="3")
def timed(cmd):
    t = time.monotonic()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
    return round((time.monotonic() - t) * 1000, 1)
r = {"etcdctl": timed([etcdctl, "--endpoints", ep, "get", "--prefix", prefix + "/subnets/", "-w", "json"]),
     "ip": timed(["ip", "-batch", ipb])}
if brb:
    r["bridge"] = timed(["bridge", "-batch", brb])
r["all"] = round(sum(r.values()), 1)
print(json.dumps(r))
PY

# kernel_count NODE BACKEND KIND: entries in the kernel (ip/bridge, the truth)
kernel_count()
{
	case $3 in
	routes) netns_exec "$1" ip -4 route show proto 84 | wc -l ;;
	neigh) netns_exec "$1" ip -4 neigh show dev flannel.1 nud permanent | wc -l ;;
	fdb) netns_exec "$1" bridge fdb show dev flannel.1 | grep -c permanent || true ;;
	esac
}

# run_tartand BACKEND R: one timed start; appends "all_ms rss_kb detail" to $work/BACKEND.tartand
run_tartand()
{
	local type=$1 r=$2 node=t${1:0:1}$2 prefix=/bench/$1 gate out kind k want sub rss anon wpid rc
	node_make "$node" || return 1
	gate=$work/$node.gate
	mkfifo "$gate"
	exec {gate_fd}<>"$gate"
	tartand_start "$node" --prefix "$prefix" --gate "$gate" -- --resync-interval 3600 \
		--log-level warning "--cni-conf-dir=$work/$node/cni" --rkt-net-dir= || return 1
	# a child of this shell (not $(...)): a signal to the script is handled at once
	netns_spawn wpid "$node" "$work/$node.watch" "$PYTHON3" "$work/watch.py" "$peers" \
		"$([[ $type == vxlan ]] && echo 1 || echo 0)" "$gate" 300 || return 1
	rc=0
	wait "$wpid" || rc=$?
	out=$(tail -n 1 "$work/$node.watch")
	if ((rc != 0)); then
		echo "run $r $type: tartand did not get there (watcher status $rc): $out" >&2
		tail -n 20 "${TARTAND_LOG[$node]}" >&2
		return 1
	fi
	exec {gate_fd}>&-
	rss=$(awk '/^VmHWM/ { print $2 }' "/proc/${TARTAND_PID[$node]}/status")
	anon=$(awk '/^RssAnon/ { print $2 }' "/proc/${TARTAND_PID[$node]}/status")
	kind=(routes)
	[[ $type == vxlan ]] && kind+=(neigh fdb)
	for k in "${kind[@]}"; do
		want=$(kernel_count "$node" "$type" "$k")
		if [[ $want != "$peers" ]]; then
			echo "run $r $type: the kernel holds $want $k, expected $peers" >&2
			return 1
		fi
	done
	sub=$(tstatus "$node" subnet)
	echo "run $r $type tartand: $out; status routes $(tstatus "$node" routes); VmHWM $rss kB;" \
		"RssAnon $anon kB;" \
		"own subnet $sub" >&2
	tartand_stop "$node" TERM || return 1
	# its own lease would be a peer of the next run
	ectl del "$(subnet_key "$sub" "$prefix")" >/dev/null
	netns_drop "$node"
	echo "$(jget "$out" 'd["all_ms"]') $rss $(jget "$out" 'd["first_ms"]') $anon" >>"$work/$type.tartand"
}

# run_limit BACKEND R: one limit measurement; appends "all etcdctl ip [bridge]" (ms)
run_limit()
{
	local type=$1 r=$2 node=l${1:0:1}$2 out extra=()
	node_make "$node" || return 1
	if [[ $type == vxlan ]]; then
		netns_exec "$node" ip link add flannel.1 type vxlan id 1 local "$NODE_IP" dev eth0 \
			nolearning dstport "$VXLAN_PORT"
		netns_exec "$node" ip link set flannel.1 mtu 1450
		netns_exec "$node" ip addr add 10.255.255.0/32 dev flannel.1
		netns_exec "$node" ip link set flannel.1 up
		extra=("$work/$type.bridge-batch")
	fi
	out=$(netns_exec "$node" "$PYTHON3" "$work/limit.py" "$(command -v "$ETCDCTL")" \
		"$ETCD_ENDPOINT_e" "/bench/$type" "$work/$type.ip-batch" "${extra[@]}")
	echo "run $r $type limit: $out" >&2
	for k in routes $([[ $type == vxlan ]] && echo neigh fdb); do
		[[ $(kernel_count "$node" "$type" "$k") == "$peers" ]] ||
			{ echo "limit run $r: the batch did not make $peers $k" >&2; return 1; }
	done
	netns_drop "$node"
	jget "$out" '"%s %s %s %s" % (d["all"], d["etcdctl"], d["ip"], d.get("bridge", "-"))' \
		>>"$work/$type.limit"
}

median() # FILE COLUMN
{
	awk -v c="$2" '{ print $c }' "$1" | sort -n |
		awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

for type in "${backends[@]}"; do
	echo "== writing $peers $type leases" >&2
	write_leases "$type" "/bench/$type"
done
# tartand first in odd runs, the limit first in even ones
for ((r = 1; r <= runs; r++)); do
	for type in "${backends[@]}"; do
		if ((r % 2)); then
			run_tartand "$type" "$r"
			run_limit "$type" "$r"
		else
			run_limit "$type" "$r"
			run_tartand "$type" "$r"
		fi
	done
done

echo "| backend | entries | tartand: exec to all in the kernel (ms) | of which exec to its first entry (ms) | limit: etcdctl get + ip (+ bridge) -batch (ms) | ratio | tartand peak RSS (VmHWM, MB) | tartand private memory (RssAnon, MB) |"
echo "|---|---|---|---|---|---|---|---|"
for type in "${backends[@]}"; do
	t=$(median "$work/$type.tartand" 1)
	l=$(median "$work/$type.limit" 1)
	le=$(median "$work/$type.limit" 2)
	li=$(median "$work/$type.limit" 3)
	rss=$(median "$work/$type.tartand" 2)
	if [[ $type == vxlan ]]; then
		entries="$peers x 3"
		lb=" + $(median "$work/$type.limit" 4)"
	else
		entries=$peers
		lb=""
	fi
	printf '| %s | %s | %s | %s | %s (%s + %s%s) | %s | %s | %s |\n' "$type" "$entries" "$t" \
		"$(median "$work/$type.tartand" 3)" "$l" "$le" "$li" \
		"$lb" "$(awk -v a="$t" -v b="$l" 'BEGIN { printf "%.2f", a / b }')" \
		"$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')" \
		"$(awk -v k="$(median "$work/$type.tartand" 4)" 'BEGIN { printf "%.1f", k / 1024 }')"
done
echo "(medians of $runs runs, each column on its own; per-run figures on stderr)"
# the libs: a finished run, not an interrupted one (no logs dumped at exit)
tap_done >/dev/null
