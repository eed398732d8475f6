#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# functions run through on_exit look unreachable to shellcheck:
# shellcheck disable=SC2317
#
# bench/podman-run.sh: what tartan adds to `podman run -d`. Not a test.
#
#	bash bench/podman-run.sh [BUILD_DIR] [N]
#
# BUILD_DIR defaults to ./build, N (runs per kind) to 20 (1 to 500). Needs root, Debian's
# podman 4.3, runc and busybox-static (tests/lib/setup.sh installs them): everything happens
# in network namespaces made and deleted here, podman's files in a temp dir
# (tests/lib/runtime.sh, as the runtime tests set it up: CNI backend, runc, cgroupfs, vfs).
#
# One node n1 (tartand, host-gw, network 10.5.0.0/16) with podman; three kinds of
# `podman run -d IMAGE sleep 3600`, the same busybox image, in one run:
#   tartan   --network tartan: the conflist tartand wrote (tartan, then portmap)
#   none     --network none: no CNI at all (podman's own cost)
#   bridge   --network benchbr: a conflist beside tartan's in the same conf dir, Debian's
#            bridge (cni1, isGateway) + host-local on 10.99.0.0/24 in n1, then portmap
# Each kind gets one warm-up run (not counted), then N rounds, each round one run of every
# kind in turn (so that the machine's noise spreads over all three); each run is timed from
# the start of the podman process to its exit, then the container is removed (rm -f -t 0,
# timed too). Every run must succeed. Printed: median and p90 (nearest rank) of run and rm
# per kind, the medians' differences to none (the network's cost) and tartan - bridge, and
# tartand's own time per ADD and DEL (its info log line "pod ADD ... ok N ms").
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
n=${2:-20}
if ! [[ $n =~ ^[0-9]+$ ]] || ((n < 1 || n > 500)); then
	echo "podman-run.sh: N is 1 to 500" >&2
	exit 2
fi
build=$(cd "$build" 2>/dev/null && pwd) || { echo "podman-run.sh: no $1" >&2; exit 2; }
export TARTAND=$build/daemon/tartand TARTANCTL=$build/ctl/tartanctl
export TARTAN_CNI=$build/cni/tartan
for b in "$TARTAND" "$TARTANCTL" "$TARTAN_CNI" /usr/lib/cni/bridge /usr/lib/cni/host-local; do
	[[ -x $b ]] || { echo "podman-run.sh: $b is missing (build first)" >&2; exit 2; }
done
for c in podman runc conmon busybox; do
	command -v "$c" >/dev/null || { echo "podman-run.sh: $c is not installed" >&2; exit 2; }
done
((EUID == 0)) || { echo "podman-run.sh: needs root (network namespaces)" >&2; exit 2; }

# shellcheck source=tests/lib/etcd.sh
. "$root/tests/lib/etcd.sh"
# shellcheck source=tests/lib/netns.sh
. "$root/tests/lib/netns.sh"
# shellcheck source=tests/lib/tartand.sh
. "$root/tests/lib/tartand.sh"
# shellcheck source=tests/lib/runtime.sh
. "$root/tests/lib/runtime.sh"

tartan_net_setup
netns_node n1 192.0.2.11/24 || exit 1
ectl put /coreos.com/network/config '{"Network":"10.5.0.0/16","Backend":{"Type":"host-gw"}}' \
	>/dev/null
tartand_start n1 -- --log-level info || exit 1
wait_until 20 tstatus_is n1 state running || { echo "tartand does not run" >&2; exit 1; }
wait_until 10 test -s "${TARTAND_DIR[n1]}/net.d/10-tartan.conflist" || exit 1
cat >"${TARTAND_DIR[n1]}/net.d/20-benchbr.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "benchbr",
  "plugins": [
    {
      "type": "bridge", "bridge": "cni1", "isGateway": true, "ipMasq": false,
      "ipam": {
        "type": "host-local", "ranges": [[{"subnet": "10.99.0.0/24"}]],
        "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$TARTAN_WORK/benchbr-ipam"
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF
podman_node n1 || { echo "podman set-up failed" >&2; exit 1; }

kinds=(tartan none bridge)
declare -A net=([tartan]=tartan [none]=none [bridge]=benchbr)
declare -A runs=() rms=()

# one KIND TAG: run -d, then rm; appends the milliseconds to runs[KIND] and rms[KIND]
one()
{
	local kind=$1 name=b$2 t0 t1 t2
	t0=$EPOCHREALTIME
	pm n1 run -d -q --name "$name" --network "${net[$kind]}" "$RT_IMAGE" sleep 3600 >/dev/null ||
		{ echo "podman run --network ${net[$kind]} failed" >&2; exit 1; }
	t1=$EPOCHREALTIME
	pm_netns_record n1 "$name"
	t2=$EPOCHREALTIME
	pm n1 rm -f -t 0 "$name" >/dev/null || { echo "podman rm $name failed" >&2; exit 1; }
	runs[$kind]+=" $(((${t1/./} - ${t0/./}) / 1000))"
	rms[$kind]+=" $(((${EPOCHREALTIME/./} - ${t2/./}) / 1000))"
}

for k in "${kinds[@]}"; do
	one "$k" "w$k"
done
runs=() rms=()
for ((i = 0; i < n; i++)); do
	for k in "${kinds[@]}"; do
		one "$k" "$i$k"
	done
done

echo "podman run -d / rm -f -t 0, $n runs per kind, $(date -u +%F), $(nproc) CPUs," \
	"load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$PYTHON3" - "${runs[tartan]}" "${runs[none]}" "${runs[bridge]}" \
	"${rms[tartan]}" "${rms[none]}" "${rms[bridge]}" "${TARTAND_LOG[n1]}" <<'EOF'
import math, sys
def stats(s):
    v = sorted(int(x) for x in s.split())
    med = v[(len(v) - 1) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2
    return med, v[max(0, math.ceil(0.9 * len(v)) - 1)]
names = ["tartan", "none", "bridge"]
run = {k: stats(sys.argv[1 + i]) for i, k in enumerate(names)}
rm = {k: stats(sys.argv[4 + i]) for i, k in enumerate(names)}
print("| kind | run median (ms) | run p90 (ms) | rm median (ms) | rm p90 (ms) |")
print("|---|---|---|---|---|")
for k in names:
    print("| %s | %g | %g | %g | %g |" % (k, run[k][0], run[k][1], rm[k][0], rm[k][1]))
print()
print("run: tartan - none %+g ms, bridge - none %+g ms, tartan - bridge %+g ms" % (
    run["tartan"][0] - run["none"][0], run["bridge"][0] - run["none"][0],
    run["tartan"][0] - run["bridge"][0]))
print("rm:  tartan - none %+g ms, bridge - none %+g ms, tartan - bridge %+g ms" % (
    rm["tartan"][0] - rm["none"][0], rm["bridge"][0] - rm["none"][0],
    rm["tartan"][0] - rm["bridge"][0]))
# tartand's own time per request, from its info line "pod ADD <id> <pod> <if> <addr> ok <ms> ms"
import re
took = {"ADD": [], "DEL": []}
for line in open(sys.argv[7], errors="replace"):
    m = re.search(r"pod (ADD|DEL) \S+ \S+ \S+ \S+ ok ([0-9.]+) ms", line)
    if m:
        took[m.group(1)].append(str(float(m.group(2))))
for cmd in ("ADD", "DEL"):
    if took[cmd]:
        v = sorted(float(x) for x in took[cmd])
        print("tartand's %s (its log, %d requests): median %.1f ms, p90 %.1f ms" % (
            cmd, len(v), v[(len(v) - 1) // 2], v[max(0, math.ceil(0.9 * len(v)) - 1)]))
EOF
# (no TAP here: tap_done only stops the libs' exit trap from printing the daemon's log)
tap_done >/dev/null 2>&1
