#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# bench/etcd-client.sh: tartan's etcd client beside etcdctl, same etcd, same data, one run.
# Not a test. Needs a built tree (bash tests/run.sh or meson setup build && ninja -C build).
#
#	bash bench/etcd-client.sh [BUILD_DIR]
#
# Figures (medians where repeated; this machine is noisy):
#   - 5,000 puts of ~150-byte flannel-like values: tartan one at a time over one connection,
#     tartan as txns of 128 puts over one connection, etcdctl txn batches of 128 (40 runs);
#   - a full range read of the 5,000 keys, decoded: tartan vs `etcdctl get --prefix`;
#   - put-to-watch latency through tartan's client (median and p99 of 200 trials).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
bin=$build/bench/etcd-client
[[ -x $bin ]] || { echo "etcd-client.sh: $bin is missing: build first" >&2; exit 2; }
keys=5000
size=150
runs=15

# shellcheck source=tests/lib/etcd.sh
. "$root/tests/lib/etcd.sh"
etcd_start bench
export ETCDCTL_API=3
ctl=(etcdctl --endpoints "$ETCD_ENDPOINT")
tmpdir_new work

now_ms() { date +%s%N | awk '{ printf "%.1f", $1 / 1e6 }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "== tartan client ($keys keys, $size-byte values)" >&2
"$bin" --endpoint "$ETCD_ENDPOINT" --keys "$keys" --size "$size" --runs "$runs" --trials 200 \
	>"$work/tartan.txt"
cat "$work/tartan.txt" >&2

echo "== etcdctl txn batches of 128" >&2
value=$(head -c 400 /dev/zero | tr '\0' 'v' | head -c "$size")
for ((i = 0; i < keys; i += 128)); do
	{
		echo
		for ((j = i; j < i + 128 && j < keys; j++)); do
			echo "put /bench/ctl/10.$((j >> 8)).$((j & 255)).0-24 $value"
		done
		echo
		echo
	} >"$work/txn.$i"
done
t0=$(now_ms)
for ((i = 0; i < keys; i += 128)); do
	"${ctl[@]}" txn <"$work/txn.$i" >/dev/null
done
t1=$(now_ms)
ctl_txn=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
n=$("${ctl[@]}" get --prefix /bench/ctl/ --keys-only | grep -c "^/bench/ctl/")
[[ $n == "$keys" ]] || { echo "etcdctl txn wrote $n keys, expected $keys" >&2; exit 1; }

echo "== etcdctl get --prefix (same $keys keys tartan read)" >&2
for ((r = 0; r < runs; r++)); do
	t0=$(now_ms)
	"${ctl[@]}" get --prefix /bench/subnets/seq/ >/dev/null
	t1=$(now_ms)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", b - a }'
done >"$work/ctl-get.txt"
ctl_get=$(median <"$work/ctl-get.txt")

get() { awk -v k="$1" '$1 == k { print $2 }' "$work/tartan.txt"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
cat <<OUT
| figure | tartan | etcdctl | tartan / etcdctl |
|---|---|---|---|
| 5,000 puts, txns of 128, one connection (ms) | $(get tartan_put_txn128_ms) | $ctl_txn | $(ratio "$(get tartan_put_txn128_ms)" "$ctl_txn") |
| 5,000 puts, one at a time, one connection (ms) | $(get tartan_put_sequential_ms) | - | $(ratio "$(get tartan_put_sequential_ms)" "$ctl_txn") |
| 5,000 puts, 16 in flight (ms) | $(get tartan_put_concurrent16_ms) | - | $(ratio "$(get tartan_put_concurrent16_ms)" "$ctl_txn") |
| full range read of 5,000 keys, decoded, median of $runs (ms) | $(get tartan_range_median_ms) | $ctl_get | $(ratio "$(get tartan_range_median_ms)" "$ctl_get") |
| put-to-watch latency, median (ms) | $(get tartan_put_to_watch_median_ms) | - | - |
| put-to-watch latency, p99 (ms) | $(get tartan_put_to_watch_p99_ms) | - | - |
OUT
tap_done >/dev/null 2>&1 || true
