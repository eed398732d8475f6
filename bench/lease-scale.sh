#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# bench/lease-scale.sh: a node joining a network of 5,000 peers. Not a test.
#
#	bash bench/lease-scale.sh [BUILD_DIR] [PEERS]
#
# 5,000 flannel vxlan leases are written to a private etcd. Then, in the same run:
#   - tartand starts (alloc backend) and the time until its cache holds every peer is taken
#     (tartanctl status polled every 20 ms), with the etcd requests it made and its peak RSS;
#   - `etcdctl get --prefix -w json` reads the same leases (the floor a client can reach
#     with one process start and one range), median of 5.
# tartand runs in this namespace: it only reads interfaces (--iface lo) and changes nothing in
# the network; its files go to a temp dir.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
peers=${2:-5000}
for b in "$build/daemon/tartand" "$build/ctl/tartanctl" "$build/tests/etcd/etcd-tool"; do
	[[ -x $b ]] || { echo "lease-scale.sh: $b is missing: build first" >&2; exit 2; }
done

# shellcheck source=tests/lib/etcd.sh
. "$root/tests/lib/etcd.sh"
etcd_start scale
export ETCDCTL_API=3
ctl=(etcdctl --endpoints "$ETCD_ENDPOINT")
tmpdir_new work
prefix=/coreos.com/network

"${ctl[@]}" put "$prefix/config" '{"Network":"10.0.0.0/8","SubnetLen":24,"Backend":{"Type":"alloc"}}' >/dev/null
lease=$("${ctl[@]}" lease grant 86400 | awk '{ print $2 }')
# peers as flanneld writes them (each key on a 24 h etcd lease), 128 puts a txn through etcd's
# JSON gateway; public IPs from the benchmarking range
python3 - "$peers" "$prefix" "$lease" "$work/txn" <<'PY'
import base64, json, sys
n, prefix, lease, out = int(sys.argv[1]), sys.argv[2], int(sys.argv[3], 16), sys.argv[4]
b64 = lambda s: base64.b64encode(s.encode()).decode()
for start in range(0, n, 128):
    ops = []
    for i in range(start, min(n, start + 128)):
        a, b = (i + 1) >> 8, (i + 1) & 255
        value = ('{"PublicIP":"198.18.%d.%d","PublicIPv6":null,"BackendType":"vxlan",'
                 '"BackendData":{"VNI":1,"VtepMAC":"02:42:c6:12:%02x:%02x"}}' % (a, b, a, b))
        key = "%s/subnets/10.%d.%d.0-24" % (prefix, a, b)
        ops.append({"request_put": {"key": b64(key), "value": b64(value), "lease": str(lease)}})
    with open("%s.%05d" % (out, start), "w") as f:
        json.dump({"success": ops}, f)
PY
for f in "$work"/txn.*; do
	curl -sf -X POST "$ETCD_ENDPOINT/v3/kv/txn" --data-binary @"$f" >/dev/null
done
n=$("${ctl[@]}" get --prefix "$prefix/subnets/" --keys-only | grep -c "^$prefix/subnets/")
[[ $n == "$peers" ]] || { echo "wrote $n leases, expected $peers" >&2; exit 1; }

now_ms() { date +%s%N | awk '{ printf "%.1f", $1 / 1e6 }'; }

echo "== tartand joining $peers peers" >&2
t0=$(now_ms)
"$build/daemon/tartand" --etcd-endpoints "$ETCD_ENDPOINT" --iface lo --public-ip 192.0.2.1 \
	--subnet-file "$work/subnet.env" --state-dir "$work/state" --socket "$work/sock" \
	--cni-conf-dir "$work/net.d" --rkt-net-dir "$work/rkt.d" \
	--log-level warning 2>"$work/tartand.log" &
pid=$!
on_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
status=""
for ((i = 0; i < 6000; i++)); do
	status=$("$build/ctl/tartanctl" --socket "$work/sock" --json status 2>/dev/null || true)
	if [[ $status == *"\"peers\": $peers,"* ]]; then
		break
	fi
	sleep 0.02
done
t1=$(now_ms)
[[ $status == *"\"peers\": $peers,"* ]] || { echo "tartand did not see $peers peers: $status" >&2; exit 1; }
tartan_ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
requests=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["etcd_requests"])' "$status")
rss_kb=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status")
anon_kb=$(awk '/^RssAnon/ { print $2 }' "/proc/$pid/status")

echo "== etcdctl get --prefix -w json" >&2
for ((r = 0; r < 5; r++)); do
	a=$(now_ms)
	"${ctl[@]}" get --prefix "$prefix/subnets/" -w json >/dev/null
	b=$(now_ms)
	awk -v a="$a" -v b="$b" 'BEGIN { printf "%.1f\n", b - a }'
done >"$work/ctl.txt"
ctl_ms=$(sort -n "$work/ctl.txt" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')

cat <<OUT
| figure | tartand | etcdctl get --prefix -w json | ratio |
|---|---|---|---|
| time to all $peers peers (ms; tartand: from exec, incl. its lease; etcdctl: median of 5) | $tartan_ms | $ctl_ms | $(awk -v a="$tartan_ms" -v b="$ctl_ms" 'BEGIN { printf "%.2f", a / b }') |
| etcd requests | $requests | 1 | - |
| peak RSS (VmHWM, MB; shared libraries included) | $(awk -v k="$rss_kb" 'BEGIN { printf "%.1f", k / 1024 }') | - | - |
| private memory now (RssAnon, MB) | $(awk -v k="$anon_kb" 'BEGIN { printf "%.1f", k / 1024 }') | - | - |
OUT
tap_done >/dev/null 2>&1 || true
