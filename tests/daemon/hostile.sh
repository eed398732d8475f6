#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/daemon/hostile.sh: hostile data in etcd (TAP; root). Whatever a hostile or broken
# writer puts under the prefix, tartand programs nothing for it, keeps its own lease and
# routes, stays up with bounded memory, names the bad key in its log, and keeps serving the
# valid peers.
#
# Two networks in one etcd, each with two tartand nodes that run before anything hostile is
# written and have a pod on cni0 (the nodes take subnets up to .60, SubnetMax, so that the
# fixed subnets of the cases are never theirs):
#   host-gw  /coreos.com/network          10.5.0.0/16  n1 (192.0.2.11), n2 (192.0.2.12)
#   vxlan    /tartan-hostile/network      10.6.0.0/16  v1 (192.0.2.21), v2 (192.0.2.22)
# Written while they run, under each prefix, each key a case that a log line must name:
#   - n1's (v1's) own subnet under keys that are not flanneld's (A.B.C.D-024, junk before the
#     address, a sub-folder) and its upper half (/25);
#   - a lease of the whole network (10.5.0.0-16), one outside it (10.9.1.0-24), one of
#     another length inside it (/26);
#   - PublicIP 0.0.0.0, 127.0.0.1, 224.0.0.1, 255.255.255.255 and n1's (v1's) own address
#     (to the other nodes that one is a valid lease of a host that holds two: it is
#     programmed there, as flanneld would, and checked as hostile on n1 / v1 only);
#   - keys aliasing n2's (v2's) subnet (junk before the address) with valid JSON naming
#     another host, and with a value that is not JSON: n2's routes must stay as they are;
#   - huge values: a valid lease padded to 1 MiB, 1 MiB of random bytes;
#   - deep nesting: 10,000 levels of '[', and 1,000,000 inside a lease (1 MiB too);
#   - invalid UTF-8 in a valid lease, a key of invalid UTF-8, a NUL escaped in PublicIP;
#   - vxlan only: VtepMAC ff:ff:ff:ff:ff:ff (broadcast), 01:00:5e:00:00:01 (multicast),
#     00:00:00:00:00:00, none, not a MAC, and v1's and v2's own VtepMACs (to the other node
#     the latter is a peer's MAC, whose one FDB entry the lease would take over).
# Then 50,000 junk keys under each prefix, written through etcd's JSON gateway in txns of
# 128 puts (etcd's default --max-txn-ops) by a small Python writer (etcdctl per key would
# take minutes; this takes seconds): <prefix>/subnets/junk-N with bytes that are neither
# JSON nor UTF-8, subnet keys outside the network and /30s inside it with valid lease
# values, keys whose address has host bits, and keys that name no subnet
# (<prefix>/subnets/dir-N/x, <prefix>/subnetsjunk-N, <prefix>/other/N); then the same 50,000
# keys once more with new values.
#
# Asserts: on every node `ip route show proto 84` (and on the vxlan nodes `ip neigh show
# dev flannel.1` and `bridge fdb show dev flannel.1`) lists exactly the valid peers' entries,
# after the hostile leases, after the flood and after the second round; `tartanctl status`
# counts only the valid peers; each node's own key keeps its value and its etcd lease, its
# status keeps its subnet; every daemon's PID stays alive and `tartanctl status` answers;
# n1's and v1's VmRSS stays within the bounds below; a valid peer written after the hostile
# leases, after the flood and after the second round (emulated ones, no host behind them)
# is programmed: the daemon worked through everything before it; pods on n1 and n2 (v1 and
# v2) ping each other before and after; a third host-gw node n3 started into all of it (its
# first list holds 50,000 junk keys and every hostile one) takes its reservation, programs
# only the valid peers, is programmed by n1 and n2, and its pod pings theirs; v2 started
# again into all of it (its first list has v1's lease and the newer one with v1's VtepMAC)
# programs only the valid peers and its pod pings v1's; of two vxlan leases with one
# VtepMAC (as cloned VMs would write) only the older is programmed, with a log line for the
# other, which is programmed within 5 s once the older is deleted, and the list that finds
# it logs no junk key again (it had its line: one line says how many were skipped so); a
# log line names each hostile key (and a junk key of the flood); SIGTERM ends every daemon
# with exit status 0.
#
# n3 joins through a reservation because the whole-network lease overlaps every subnet:
# for allocation it is a lease like any other (flannel-compat.md 2, step d), so a new node
# without one finds the network full, as flanneld would.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/etcd.sh
. "$here/../lib/etcd.sh"
# shellcheck source=tests/lib/netns.sh
. "$here/../lib/netns.sh"
# shellcheck source=tests/lib/tartand.sh
. "$here/../lib/tartand.sh"
# shellcheck source=tests/lib/vxlan.sh
. "$here/../lib/vxlan.sh"
# shellcheck source=tests/lib/pods.sh
. "$here/../lib/pods.sh"

HP=$FLANNEL_PREFIX
# the nodes take subnets up to .60 (SubnetMax): the fixed ones of the cases are above it
HG_CONFIG='{"Network":"10.5.0.0/16","SubnetMax":"10.5.60.0","Backend":{"Type":"host-gw"}}'
VP=/tartan-hostile/network
VX_CONFIG='{"Network":"10.6.0.0/16","SubnetMax":"10.6.60.0","Backend":{"Type":"vxlan"}}'
# n3's reservation, put before the others start so that neither takes it
N3_SUBNET=10.5.30.0/24
FLOOD_N=50000
# VmRSS bounds, in KiB. A daemon keeps nothing for a key it skips, so a flood may only cost
# transient buffers: a watch line of etcd's (up to 1000 revisions of events when the daemon
# lags behind; the etcd client refuses lines over 64 MiB), the events decoded from it, and
# what malloc keeps of them for later. So 64 MiB over the flood and over the whole test (the
# 1 MiB values included). A leak per skipped key would hide under that, so the second
# round, the same 50,000 keys once more, whose buffers are there already, must cost less
# than 8 MiB: that catches a leak of about 170 bytes per key (a key copy and its reason).
# Measured (2 cores, also running other tests): gcc build +0 KiB over each round, +6.1 MiB
# over the whole test (from the 1 MiB values); ASan build (no quarantine, see below) +1.9
# MiB over the flood, +0.3 MiB over the second round, +4.5 MiB over the whole test.
RSS_FLOOD_BOUND_KIB=$((64 * 1024))
RSS_ROUND2_BOUND_KIB=$((8 * 1024))

declare -A ip=([n1]=192.0.2.11 [n2]=192.0.2.12 [n3]=192.0.2.13 [v1]=192.0.2.21 [v2]=192.0.2.22)
declare -A prefix=([n1]=$HP [n2]=$HP [n3]=$HP [v1]=$VP [v2]=$VP)
declare -A subnet=() mac=() own_value=() own_lease=() rss_start=() rss0=() rss1=() rss2=()
# peers[NODE]: "KIND SUBNET IP MAC" words of the valid peers NODE must program; KIND hg
# (a route via the peer's IP on eth0), vx (neigh + fdb + onlink route on flannel.1) or al
# (a peer of the alloc backend, n3's reservation: nothing to program)
declare -A peers=()
# hostile[KEY]: what the key is (the TAP description); hostile_keys: them in the order
# written; only_for[KEY]: the one node the key is hostile to (to the others it is a valid
# lease: see "PublicIP <node>'s own" below)
declare -A hostile=() only_for=()
declare -a hostile_keys=()

tartan_net_setup
GW=${ETCD_ENDPOINT_e#http://}

# -- helpers

make_node()
{
	netns_node "$1" "${ip[$1]}/24" || tap_bail "could not make node namespace $1"
	# flanneld leaves forwarding to the host's set-up, and so does tartand
	netns_exec "$1" sysctl -qw net.ipv4.ip_forward=1 || tap_bail "could not enable forwarding in $1"
}

start_node()
{
	local n=$1
	tartand_start "$n" --prefix "${prefix[$n]}" -- --resync-interval 2 --bridge cni0 \
		"--cni-conf-dir=$TARTAN_WORK/$n/cni" --rkt-net-dir= ||
		tap_bail "could not start tartand in $n"
}

# running NODE PEERS: NODE runs with PEERS peers within 30 s; sets subnet[] and mac[]
running()
{
	local n=$1
	if wait_until 30 tstatus_is "$n" peers "$2" && tstatus_is "$n" state running; then
		tap_ok "$n: running with $2 peers"
	else
		tap_fail "$n: running with $2 peers" "saw: $(tstatus "$n" 2>&1)" \
			"daemon alive: $(tartand_alive "$n" && echo yes || echo no)"
	fi
	subnet[$n]=$(tstatus "$n" subnet 2>/dev/null || true)
	[[ ${subnet[$n]} =~ ^10\.[56]\.[0-9]+\.0/24$ ]] ||
		tap_bail "$n has no subnet (status subnet '${subnet[$n]}')"
	if [[ ${prefix[$n]} == "$VP" ]]; then
		wait_until 5 has_vtep "$n" || true
		mac[$n]=$(vtep_mac "$n" 2>/dev/null || true)
	fi
}

# have_entries NODE: tartan's routes and, on a vxlan node, flannel.1's neighbours and FDB
# entries, one per line prefixed with the kind, sorted
have_entries()
{
	{
		netns_exec "$1" ip -4 route show proto 84 | sed 's/^/route /'
		if [[ ${prefix[$1]} == "$VP" ]]; then
			netns_exec "$1" ip -4 neigh show dev flannel.1 | sed 's/^/neigh /'
			netns_exec "$1" bridge fdb show dev flannel.1 | sed 's/^/fdb /'
		fi
	} 2>&1 | sed 's/ *$//' | sort
}

# want_entries NODE: what have_entries must print for NODE's valid peers
want_entries()
{
	local w=() i s
	read -r -a w <<<"${peers[$1]:-}"
	for ((i = 0; i < ${#w[@]}; i += 4)); do
		s=${w[i + 1]}
		if [[ ${w[i]} == al ]]; then
			continue
		elif [[ ${w[i]} == hg ]]; then
			printf 'route %s via %s dev eth0\n' "$s" "${w[i + 2]}"
		else
			printf 'neigh %s lladdr %s PERMANENT\n' "${s%/*}" "${w[i + 3]}"
			printf 'fdb %s dst %s self permanent\n' "${w[i + 3]}" "${w[i + 2]}"
			printf 'route %s via %s dev flannel.1 onlink\n' "$s" "${s%/*}"
		fi
	done | sort
}

entries_ok()
{
	[[ $(have_entries "$1") == "$(want_entries "$1")" ]]
}

# check_entries NODE WHAT LIMIT: NODE programs exactly its valid peers within LIMIT s
check_entries()
{
	local n=$1 what=$2 limit=${3:-10} kinds="ip route show proto 84"
	[[ ${prefix[$n]} != "$VP" ]] || kinds+=", ip neigh / bridge fdb show dev flannel.1"
	if wait_until "$limit" entries_ok "$n"; then
		tap_ok "$n: $what: $kinds list exactly the valid peers ($(want_entries "$n" |
			grep -c .) entries)"
	else
		tap_fail "$n: $what: $kinds list exactly the valid peers" \
			"expected:" "$(want_entries "$n")" "saw:" "$(have_entries "$n")"
	fi
}

# add_peer NODE KIND SUBNET IP [MAC]: one more valid peer NODE must program
add_peer()
{
	peers[$1]+=" $2 $3 $4 ${5:--}"
}

lease_key()
{
	subnet_key "${subnet[$1]}" "${prefix[$1]}"
}

# put_leased KEY VALUE: put KEY with a fresh etcd lease of 600 s, as a flanneld node would
put_leased()
{
	local id
	id=$(ectl lease grant 600 | awk '/granted/ { print $2 }')
	[[ -n $id ]] || return 1
	ectl put "$1" "$2" --lease="$id" >/dev/null
}

# put_hostile KEY DESC [VALUE]: put KEY (no etcd lease) with VALUE, or with the bytes on
# stdin (etcdctl reads the value from stdin when it is not an argument: for values too big
# for an argument, and NUL-free but otherwise arbitrary bytes); record it as a hostile case
put_hostile()
{
	local key=$1 desc=$2 out
	if (($# >= 3)); then
		out=$(ectl put "$key" "$3" 2>&1)
	else
		out=$(ectl put "$key" 2>&1)
	fi
	if [[ $out != OK ]]; then
		tap_fail "hostile lease put: $desc" "etcdctl put said: $out"
		return 0
	fi
	hostile[$key]=$desc
	hostile_keys+=("$key")
}

# hg_value IP / vx_value IP MAC (vxlan.sh): valid lease values, as flanneld writes them
hg_value()
{
	printf '{"PublicIP":"%s","PublicIPv6":null,"BackendType":"host-gw"}' "$1"
}

# printable KEY: the key as a TAP line can show it
printable()
{
	LC_ALL=C sed 's/[^[:print:]]/?/g' <<<"$1" | cut -c1-120
}

# log_names NODE KEY: the node's log has a line that names KEY (the log shows the first 200
# bytes of a key; the bytes are compared as they are)
log_lacks()
{
	! tlog_has "$1" "$2"
}

log_names()
{
	local out k=${2:0:200}
	out=$(tlog "$1") || return 1
	LC_ALL=C grep -aqF -- "$k" <<<"$out"
}

# junk_key_lines NODE: how many lines of the node's log skip $JUNK_KEY
junk_key_lines()
{
	local out
	out=$(tlog "$1") || return 1
	LC_ALL=C grep -acF -- "skipping $JUNK_KEY: " <<<"$out" || true
}

# rss_kib NODE [FIELD]: VmRSS (or FIELD, e.g. VmHWM, the peak) of the node's daemon, in KiB
rss_kib()
{
	awk -v f="${2:-VmRSS}:" '$1 == f { print $2 }' "/proc/${TARTAND_PID[$1]}/status"
}

# gw_write PREFIX BACKEND ROUND: FLOOD_N junk keys under PREFIX through etcd's JSON gateway
gw_write()
{
	netns_exec u "$PYTHON3" "$TARTAN_WORK/flood.py" "$GW" "$1" "$2" "$FLOOD_N" "$3"
}

cat >"$TARTAN_WORK/flood.py" <<'EOF'
# flood.py HOST:PORT PREFIX BACKEND N ROUND: N junk keys under PREFIX, in txns of 128 puts
# (etcd's default --max-txn-ops) over etcd's JSON gateway, 4 connections in parallel
import base64, http.client, json, queue, sys, threading, time

hostport, prefix, backend, n, rnd = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
host, port = hostport.rsplit(":", 1)
net = "10.5" if backend == "host-gw" else "10.6"

def lease(public_ip):
    v = {"PublicIP": public_ip, "PublicIPv6": None, "BackendType": backend}
    if backend == "vxlan":
        v["BackendData"] = {"VNI": 1, "VtepMAC": "02:00:c0:00:02:c9"}
    return json.dumps(v, separators=(",", ":")).encode()

def kv(i):
    k, j = i % 5, i // 5
    if k == 0:    # a name that is no subnet; bytes that are no JSON (nor UTF-8)
        return "%s/subnets/junk-%d" % (prefix, j), b"\xff\xfe junk %d round %s {[" % (j, rnd.encode())
    if k == 1:    # outside the network, a valid value
        return "%s/subnets/10.%d.%d.0-24" % (prefix, 100 + j // 256, j % 256), lease("192.0.2.201")
    if k == 2:    # /30s inside the network, a valid value
        return "%s/subnets/%s.%d.%d-30" % (prefix, net, j // 64, j % 64 * 4), lease("192.0.2.202")
    if k == 3:    # host bits for the length
        return "%s/subnets/%s.%d.%d-24" % (prefix, net, j // 255, j % 255 + 1), lease("192.0.2.203")
    name = ("%s/subnets/dir-%d/x", "%s/subnetsjunk-%d", "%s/other/%d")[j % 3] % (prefix, j)
    return name, b'{"PublicIP":"192.0.2.204","round":"%s"}' % rnd.encode()

def b64(b):
    return base64.b64encode(b if isinstance(b, bytes) else b.encode()).decode()

work = queue.Queue()
for start in range(0, n, 128):
    work.put(range(start, min(n, start + 128)))
errors = []

def writer():
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    while True:
        try:
            batch = work.get_nowait()
        except queue.Empty:
            return
        ops = []
        for i in batch:
            key, value = kv(i)
            ops.append({"requestPut": {"key": b64(key), "value": b64(value)}})
        body = json.dumps({"success": ops})
        conn.request("POST", "/v3/kv/txn", body, {"Content-Type": "application/json"})
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            errors.append("%d %s" % (resp.status, data[:200]))
            return

t0 = time.time()
threads = [threading.Thread(target=writer) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
if errors or not work.empty():
    sys.exit("flood.py: %s" % (errors[:3] or "writers stopped early"))
print("%d keys in %.1f s" % (n, time.time() - t0))
EOF

# -- the nodes, the valid peers before anything hostile
for n in n1 n2 v1 v2; do
	make_node "$n"
done
tap_check "host-gw config put under $HP" ectl put "$HP/config" "$HG_CONFIG"
tap_check "vxlan config put under $VP" ectl put "$VP/config" "$VX_CONFIG"
tap_check "reservation for n3 (${ip[n3]}) put at $N3_SUBNET, without an etcd lease" \
	ectl put "$(subnet_key "$N3_SUBNET" "$HP")" "{\"PublicIP\":\"${ip[n3]}\",\"PublicIPv6\":null}"
# In a build with AddressSanitizer, free() puts memory in a quarantine of 256 MiB before
# it can be used again (to catch a use after free), so RSS would grow by what the daemon
# frees, not by what it keeps; the two daemons whose RSS is measured get none (the others
# keep it). Without ASan the variable is not read.
for n in n1 v1; do
	TARTAND_ENV[$n]="ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0"
done
for n in n1 n2 v1 v2; do
	start_node "$n"
done
for n in n1 n2; do
	running "$n" 2
	add_peer "$n" al "$N3_SUBNET" "${ip[n3]}"
done
for n in v1 v2; do
	running "$n" 1
done
tap_diag "subnets: n1 ${subnet[n1]}, n2 ${subnet[n2]}, v1 ${subnet[v1]} ${mac[v1]}," \
	"v2 ${subnet[v2]} ${mac[v2]}"
add_peer n1 hg "${subnet[n2]}" "${ip[n2]}"
add_peer n2 hg "${subnet[n1]}" "${ip[n1]}"
add_peer v1 vx "${subnet[v2]}" "${ip[v2]}" "${mac[v2]}"
add_peer v2 vx "${subnet[v1]}" "${ip[v1]}" "${mac[v1]}"
for n in n1 n2 v1 v2; do
	check_entries "$n" "before the hostile data"
	own_value[$n]=$(key_value "$(lease_key "$n")" 2>/dev/null || true)
	own_lease[$n]=$(key_lease "$(lease_key "$n")" 2>/dev/null || true)
done
for n in n1 n2 v1 v2; do
	add_pod "$n" 0 || tap_bail "could not make a pod in $n"
done
ping_matrix n1p0 n2p0
ping_matrix v1p0 v2p0

for n in n1 v1; do
	rss_start[$n]=$(rss_kib "$n")
done
# -- hostile leases
tap_diag "at ${SECONDS} s: hostile leases"
# net_of SUBNET: 10.5.3.0/24 -> 10.5.3.0
net_of()
{
	printf '%s\n' "${1%/*}"
}

# hostile_common PREFIX NODE PEER VALUE_FN...: the cases both backends share; VALUE_FN IP is
# a valid value of the backend naming IP
hostile_common()
{
	local p=$1 n=$2 peer=$3 own peern net16 x
	shift 3
	own=$(net_of "${subnet[$n]}")
	peern=$(net_of "${subnet[$peer]}")
	net16=${own%.*.*}
	x=${own%.0}
	put_hostile "$p/subnets/$own-024" "$n's own subnet under another key ($own-024)" \
		"$("$@" 192.0.2.66)"
	put_hostile "$p/subnets/evil$own-24" "$n's own subnet after junk (evil$own-24)" \
		"$("$@" 192.0.2.66)"
	put_hostile "$p/subnets/x/$own-24" "$n's own subnet in a sub-folder" "$("$@" 192.0.2.66)"
	put_hostile "$p/subnets/$x.128-25" "the upper half of $n's own subnet ($x.128/25)" \
		"$("$@" 192.0.2.66)"
	put_hostile "$p/subnets/$net16.0.0-16" "the whole network ($net16.0.0/16)" \
		"$("$@" 192.0.2.67)"
	put_hostile "$p/subnets/10.9.1.0-24" "a subnet outside the network (10.9.1.0/24)" \
		"$("$@" 192.0.2.68)"
	put_hostile "$p/subnets/$net16.70.64-26" "a /26 inside the network ($net16.70.64/26)" \
		"$("$@" 192.0.2.69)"
	put_hostile "$p/subnets/$net16.71.0-24" "PublicIP 0.0.0.0" "$("$@" 0.0.0.0)"
	put_hostile "$p/subnets/$net16.72.0-24" "PublicIP 127.0.0.1" "$("$@" 127.0.0.1)"
	put_hostile "$p/subnets/$net16.73.0-24" "PublicIP 224.0.0.1" "$("$@" 224.0.0.1)"
	put_hostile "$p/subnets/$net16.74.0-24" "PublicIP 255.255.255.255" "$("$@" 255.255.255.255)"
	# to the other nodes a valid lease of a host that holds two: they cannot tell which of
	# them is stale (flanneld cannot either), and route to n, which is harmless
	put_hostile "$p/subnets/$net16.75.0-24" "PublicIP $n's own ${ip[$n]}" "$("$@" "${ip[$n]}")"
	only_for[$p/subnets/$net16.75.0-24]=$n
	put_hostile "$p/subnets/alias-$peern-24" "a key aliasing $peer's subnet, naming another host" \
		"$("$@" 192.0.2.76)"
	put_hostile "$p/subnets/alias2-$peern-24" "a key aliasing $peer's subnet, not JSON" \
		'{"PublicIP":'
	"$PYTHON3" -c '
import json, sys
v = json.loads(sys.argv[1])
v["Pad"] = "A" * (1 << 20)
sys.stdout.write(json.dumps(v, separators=(",", ":")))' "$("$@" 192.0.2.77)" >"$TARTAN_WORK/pad"
	put_hostile "$p/subnets/$net16.77.0-24" "a valid lease padded to 1 MiB" <"$TARTAN_WORK/pad"
	head -c $((1 << 20)) /dev/urandom | tr -d '\0' >"$TARTAN_WORK/noise"
	put_hostile "$p/subnets/$net16.78.0-24" "1 MiB of random bytes" <"$TARTAN_WORK/noise"
	printf '%*s' 10000 '' | tr ' ' '[' >"$TARTAN_WORK/deep"
	put_hostile "$p/subnets/$net16.79.0-24" "10,000 levels of [" <"$TARTAN_WORK/deep"
	printf '{"PublicIP":"192.0.2.80","Deep":' >"$TARTAN_WORK/deeper"
	printf '%*s' 1000000 '' | tr ' ' '[' >>"$TARTAN_WORK/deeper"
	put_hostile "$p/subnets/$net16.80.0-24" "1,000,000 levels of [ in a lease" \
		<"$TARTAN_WORK/deeper"
	"$@" 192.0.2.81 | sed 's/}$/,"Name":"\xc3\x28\xff"}/' >"$TARTAN_WORK/utf8"
	put_hostile "$p/subnets/$net16.81.0-24" "invalid UTF-8 in a valid lease" <"$TARTAN_WORK/utf8"
	put_hostile "$p/subnets/$(printf '\xc3\x28\xff')-$net16.82.0-24" "a key of invalid UTF-8" \
		"$("$@" 192.0.2.82)"
	put_hostile "$p/subnets/$net16.83.0-24" "a NUL in PublicIP" \
		'{"PublicIP":"192.0.2.83\u0000","PublicIPv6":null}'
}

# vxv IP: a valid vxlan value naming IP, with a VtepMAC of its own (02:00:c0:00:02:<last
# byte of IP>), so that no two hostile leases share one FDB entry
vxv()
{
	vx_value "$1" "$(printf '02:00:c0:00:02:%02x' "${1##*.}")"
}

hostile_common "$HP" n1 n2 hg_value
n_hostile_hg=${#hostile_keys[@]}
hostile_common "$VP" v1 v2 vxv
put_hostile "$VP/subnets/10.6.90.0-24" "VtepMAC ff:ff:ff:ff:ff:ff (broadcast)" \
	"$(vx_value 192.0.2.90 ff:ff:ff:ff:ff:ff)"
put_hostile "$VP/subnets/10.6.91.0-24" "VtepMAC 01:00:5e:00:00:01 (multicast)" \
	"$(vx_value 192.0.2.91 01:00:5e:00:00:01)"
put_hostile "$VP/subnets/10.6.92.0-24" "VtepMAC 00:00:00:00:00:00" \
	"$(vx_value 192.0.2.92 00:00:00:00:00:00)"
put_hostile "$VP/subnets/10.6.93.0-24" "a vxlan lease without VtepMAC" \
	'{"PublicIP":"192.0.2.93","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1}}'
put_hostile "$VP/subnets/10.6.94.0-24" "VtepMAC that is not a MAC" \
	"$(vx_value 192.0.2.94 'zz:00:00:00:00:01')"
put_hostile "$VP/subnets/10.6.95.0-24" "v1's own VtepMAC ${mac[v1]}" \
	"$(vx_value 192.0.2.95 "${mac[v1]}")"
put_hostile "$VP/subnets/10.6.96.0-24" "v2's own VtepMAC ${mac[v2]}" \
	"$(vx_value 192.0.2.96 "${mac[v2]}")"
tap_diag "${#hostile_keys[@]} hostile keys put ($n_hostile_hg under $HP)"

# a valid peer after them: once its entries are there, the daemon has read all before it
LATE1_HG=10.5.240.0/24
LATE1_VX=10.6.240.0/24
tap_check "valid host-gw lease $LATE1_HG put after them (peer 192.0.2.40)" \
	put_leased "$(subnet_key "$LATE1_HG" "$HP")" "$(hg_value 192.0.2.40)"
tap_check "valid vxlan lease $LATE1_VX put after them (peer 192.0.2.41)" \
	put_leased "$(subnet_key "$LATE1_VX" "$VP")" "$(vx_value 192.0.2.41 02:00:c0:00:02:29)"
for n in n1 n2; do
	add_peer "$n" hg "$LATE1_HG" 192.0.2.40
done
for n in v1 v2; do
	add_peer "$n" vx "$LATE1_VX" 192.0.2.41 02:00:c0:00:02:29
done
# the lease naming n1's (v1's) address is a valid one to the others
add_peer n2 hg "${subnet[n1]%.*.0/24}.75.0/24" "${ip[n1]}"
add_peer v2 vx "${subnet[v1]%.*.0/24}.75.0/24" "${ip[v1]}" 02:00:c0:00:02:15

# own_ok NODE WHAT [restarted]: the node's own lease, subnet and daemon are as before; after
# a new start the key has a new etcd lease (the daemon takes its lease again with one)
own_ok()
{
	local n=$1 what=$2 restarted=${3:-}
	tap_check "$n: $what: tartand still runs (pid ${TARTAND_PID[$n]})" tartand_alive "$n" || true
	tap_check "$n: $what: tartanctl status answers" tstatus "$n" || true
	tap_is "$(tstatus "$n" subnet 2>&1)" "${subnet[$n]}" "$n: $what: status keeps its subnet" || true
	tap_is "$(key_value "$(lease_key "$n")" 2>&1)" "${own_value[$n]}" \
		"$n: $what: its lease key keeps its value" || true
	[[ -n $restarted ]] ||
		tap_is "$(key_lease "$(lease_key "$n")" 2>&1)" "${own_lease[$n]}" \
			"$n: $what: its lease key keeps its etcd lease" || true
}

# peers_ok NODE WHAT: tartanctl counts only the valid peers
peers_ok()
{
	local w=()
	read -r -a w <<<"${peers[$1]}"
	tap_is "$(tstatus "$1" peers 2>&1)" $((${#w[@]} / 4)) \
		"$1: $2: tartanctl status counts only the valid peers" || true
}

for n in n1 n2 v1 v2; do
	check_entries "$n" "after the hostile leases" 15
	peers_ok "$n" "after the hostile leases"
	own_ok "$n" "after the hostile leases"
done
for ((i = 0; i < ${#hostile_keys[@]}; i++)); do
	k=${hostile_keys[$i]}
	if ((i < n_hostile_hg)); then nodes="n1 n2"; else nodes="v1 v2"; fi
	for n in $nodes; do
		[[ -z ${only_for[$k]:-} || ${only_for[$k]} == "$n" ]] || continue
		if log_names "$n" "$k"; then
			tap_ok "$n: the log names the key of: ${hostile[$k]} ($(printable "$k"))"
		else
			tap_fail "$n: the log names the key of: ${hostile[$k]}" \
				"no line with $(printable "$k"); last lines:" "$(tlog "$n" | tail -n 5)"
		fi
	done
done
ping_matrix n1p0 n2p0
ping_matrix v1p0 v2p0

# -- the flood
tap_diag "at ${SECONDS} s: the flood"
for n in n1 v1; do
	rss0[$n]=$(rss_kib "$n")
done
tap_diag "VmRSS before the hostile leases: n1 ${rss_start[n1]} KiB, v1 ${rss_start[v1]} KiB;" \
	"before the flood: n1 ${rss0[n1]} KiB, v1 ${rss0[v1]} KiB"
t0=$SECONDS
gw_write "$HP" host-gw 1 >"$TARTAN_WORK/flood-hg.out" 2>&1 &
flood_hg=$!
gw_write "$VP" vxlan 1 >"$TARTAN_WORK/flood-vx.out" 2>&1 &
flood_vx=$!
rc_hg=0 rc_vx=0
wait "$flood_hg" || rc_hg=$?
wait "$flood_vx" || rc_vx=$?
tap_is "$rc_hg: $(cat "$TARTAN_WORK/flood-hg.out")" "0: $FLOOD_N keys in $(sed -n 's/.* in //p' \
	"$TARTAN_WORK/flood-hg.out")" "$FLOOD_N junk keys written under $HP" || true
tap_is "$rc_vx: $(cat "$TARTAN_WORK/flood-vx.out")" "0: $FLOOD_N keys in $(sed -n 's/.* in //p' \
	"$TARTAN_WORK/flood-vx.out")" "$FLOOD_N junk keys written under $VP" || true
tap_diag "flood written in $((SECONDS - t0)) s"

LATE2_HG=10.5.241.0/24
LATE2_VX=10.6.241.0/24
tap_check "valid host-gw lease $LATE2_HG put after the flood (peer 192.0.2.42)" \
	put_leased "$(subnet_key "$LATE2_HG" "$HP")" "$(hg_value 192.0.2.42)"
tap_check "valid vxlan lease $LATE2_VX put after the flood (peer 192.0.2.43)" \
	put_leased "$(subnet_key "$LATE2_VX" "$VP")" "$(vx_value 192.0.2.43 02:00:c0:00:02:2b)"
for n in n1 n2; do
	add_peer "$n" hg "$LATE2_HG" 192.0.2.42
done
for n in v1 v2; do
	add_peer "$n" vx "$LATE2_VX" 192.0.2.43 02:00:c0:00:02:2b
done
t0=$SECONDS
for n in n1 n2 v1 v2; do
	check_entries "$n" "after the flood, with the peer put after it" 60
done
tap_diag "the daemons were through the flood $((SECONDS - t0)) s after it was written"
for n in n1 v1; do
	rss1[$n]=$(rss_kib "$n")
	grow=$((rss1[$n] - rss0[$n]))
	if ((grow < RSS_FLOOD_BOUND_KIB)); then
		tap_ok "$n: VmRSS ${rss0[$n]} KiB before the flood, ${rss1[$n]} KiB after (+$grow KiB, bound $RSS_FLOOD_BOUND_KIB)"
	else
		tap_fail "$n: VmRSS grew by less than $RSS_FLOOD_BOUND_KIB KiB over the flood" \
			"before ${rss0[$n]} KiB, after ${rss1[$n]} KiB"
	fi
done
for n in n1 n2 v1 v2; do
	peers_ok "$n" "after the flood"
	own_ok "$n" "after the flood"
done
for n in n1 v1; do
	k=${prefix[$n]}/subnets/junk-$((FLOOD_N / 5 - 1))
	tap_check "$n: the log names a junk key of the flood ($k)" log_names "$n" "$k" || true
done
ping_matrix n1p0 n2p0
ping_matrix v1p0 v2p0

# -- the same keys once more: no growth per event
tap_diag "at ${SECONDS} s: the same keys once more: no growth per event"
gw_write "$HP" host-gw 2 >"$TARTAN_WORK/flood-hg.out" 2>&1 &
flood_hg=$!
gw_write "$VP" vxlan 2 >"$TARTAN_WORK/flood-vx.out" 2>&1 &
flood_vx=$!
rc_hg=0 rc_vx=0
wait "$flood_hg" || rc_hg=$?
wait "$flood_vx" || rc_vx=$?
tap_is "$rc_hg $rc_vx" "0 0" "the $FLOOD_N junk keys written once more under both prefixes" || true
LATE3_HG=10.5.242.0/24
tap_check "valid host-gw lease $LATE3_HG put after the second round (peer 192.0.2.44)" \
	put_leased "$(subnet_key "$LATE3_HG" "$HP")" "$(hg_value 192.0.2.44)"
LATE3_VX=10.6.242.0/24
tap_check "valid vxlan lease $LATE3_VX put after the second round (peer 192.0.2.45)" \
	put_leased "$(subnet_key "$LATE3_VX" "$VP")" "$(vx_value 192.0.2.45 02:00:c0:00:02:2d)"
for n in n1 n2; do
	add_peer "$n" hg "$LATE3_HG" 192.0.2.44
done
for n in v1 v2; do
	add_peer "$n" vx "$LATE3_VX" 192.0.2.45 02:00:c0:00:02:2d
done
for n in n1 n2 v1 v2; do
	check_entries "$n" "after the second round" 60
done
for n in n1 v1; do
	rss2[$n]=$(rss_kib "$n")
	grow=$((rss2[$n] - rss1[$n]))
	if ((grow < RSS_ROUND2_BOUND_KIB)); then
		tap_ok "$n: VmRSS ${rss2[$n]} KiB after the second round (+$grow KiB, bound $RSS_ROUND2_BOUND_KIB)"
	else
		tap_fail "$n: VmRSS grew by less than $RSS_ROUND2_BOUND_KIB KiB over the second round" \
			"after the first ${rss1[$n]} KiB, after the second ${rss2[$n]} KiB"
	fi
done

for n in n1 v1; do
	grow=$((rss2[$n] - rss_start[$n]))
	if ((grow < RSS_FLOOD_BOUND_KIB)); then
		tap_ok "$n: VmRSS ${rss_start[$n]} KiB before the hostile leases, ${rss2[$n]} KiB after all (+$grow KiB, bound $RSS_FLOOD_BOUND_KIB)"
	else
		tap_fail "$n: VmRSS grew by less than $RSS_FLOOD_BOUND_KIB KiB over the whole test" \
			"before ${rss_start[$n]} KiB, after ${rss2[$n]} KiB"
	fi
done

tap_diag "VmHWM (peak RSS): n1 $(rss_kib n1 VmHWM) KiB, v1 $(rss_kib v1 VmHWM) KiB"
# -- a node that starts into all of it
tap_diag "at ${SECONDS} s: a node that starts into all of it"
make_node n3
start_node n3
subnet[n3]=$N3_SUBNET
# n3's lease value gets its BackendType: n1 and n2 route to it
for n in n1 n2; do
	peers[$n]=${peers[$n]/" al $N3_SUBNET ${ip[n3]} -"/" hg $N3_SUBNET ${ip[n3]} -"}
done
# n3's peers: n1, n2 and the three late ones
peers[n3]=""
add_peer n3 hg "${subnet[n1]}" "${ip[n1]}"
add_peer n3 hg "${subnet[n2]}" "${ip[n2]}"
add_peer n3 hg "$LATE1_HG" 192.0.2.40
add_peer n3 hg "$LATE2_HG" 192.0.2.42
add_peer n3 hg "$LATE3_HG" 192.0.2.44
add_peer n3 hg "${subnet[n1]%.*.0/24}.75.0/24" "${ip[n1]}"
running n3 6
tap_is "${subnet[n3]}" "$N3_SUBNET" "n3: took its reservation" || true
tap_diag "n3: VmRSS $(rss_kib n3) KiB once running, peak $(rss_kib n3 VmHWM) KiB"
for n in n3 n1 n2; do
	check_entries "$n" "with n3" 30
done
for ((i = 0; i < n_hostile_hg; i++)); do
	k=${hostile_keys[$i]}
	[[ -z ${only_for[$k]:-} ]] || continue
	tap_check "n3: the log names the key of: ${hostile[$k]}" log_names n3 "$k" || true
done
add_pod n3 0 || tap_bail "could not make a pod in n3"
ping_matrix n1p0 n2p0 n3p0

# -- v2 starts again into all of it: its first list holds v1's lease and the newer one
# with v1's VtepMAC, of which only v1's may be programmed
tartand_stop v2 TERM || true
tap_is "$TARTAND_RC" 0 "v2: tartand exits 0 on SIGTERM" || true
start_node v2
w=()
read -r -a w <<<"${peers[v2]}"
running v2 $((${#w[@]} / 4))
check_entries v2 "started again into the hostile data and the flood" 30
for k in "$VP/subnets/10.6.95.0-24" "$VP/subnets/10.6.96.0-24" "$VP/subnets/junk-7"; do
	tap_check "v2: after the new start, the log names $k" log_names v2 "$k" || true
done
own_ok v2 "after the new start" restarted
ping_matrix v1p0 v2p0

# -- two leases with one VtepMAC (cloned VMs): the older keeps it, the other is programmed
# once the older is gone (refused leases are not cached: the daemon lists them again)
CL1=10.6.243.0/24
CL2=10.6.244.0/24
CL_MAC=02:00:c0:00:02:2e
tap_check "vxlan lease $CL1 put (peer 192.0.2.46, VtepMAC $CL_MAC)" \
	put_leased "$(subnet_key "$CL1" "$VP")" "$(vx_value 192.0.2.46 "$CL_MAC")"
for n in v1 v2; do
	add_peer "$n" vx "$CL1" 192.0.2.46 "$CL_MAC"
	check_entries "$n" "with $CL1" 10
done
tap_check "vxlan lease $CL2 put (peer 192.0.2.47) with the same VtepMAC" \
	put_leased "$(subnet_key "$CL2" "$VP")" "$(vx_value 192.0.2.47 "$CL_MAC")"
for n in v1 v2; do
	tap_check "$n: the log names $CL2's key, refused for its VtepMAC" \
		wait_until 5 tlog_has "$n" "${VP}/subnets/${CL2/\//-}: its VtepMAC $CL_MAC is the one" || true
	check_entries "$n" "$CL1 keeps its VtepMAC, nothing for $CL2" 1
done
# the list after the delete holds every junk key, unchanged since its log line: no line again
JUNK_KEY=$VP/subnets/junk-$((FLOOD_N / 5 - 1))
declare -A junk_lines
for n in v1 v2; do
	junk_lines[$n]=$(junk_key_lines "$n")
done
tap_check "vxlan lease $CL1 deleted" ectl del "$(subnet_key "$CL1" "$VP")"
for n in v1 v2; do
	peers[$n]=${peers[$n]/" vx $CL1 192.0.2.46 $CL_MAC"/" vx $CL2 192.0.2.47 $CL_MAC"}
	check_entries "$n" "$CL1 deleted: $CL2 programmed in its place" 20
	# the peer watch was dropped for that list on purpose: etcd was never lost
	tap_check "$n: the list after $CL1 went is not logged as a lost etcd watch" \
		log_lacks "$n" "lost the etcd watch stream" || true
	tap_check "$n: that list says it skipped the unusable keys it logged before" \
		tlog_has "$n" "skipped [0-9]+ unusable keys unchanged since their log line" || true
	tap_is "$(junk_key_lines "$n")" "${junk_lines[$n]}" \
		"$n: that list logs no line again for the junk key $JUNK_KEY" || true
done
ping_matrix v1p0 v2p0

for n in n1 n2 n3 v1 v2; do
	tap_check "$n: tartand still runs at the end" tartand_alive "$n" || true
	tartand_stop "$n" TERM || true
	tap_is "$TARTAND_RC" 0 "$n: tartand exits 0 on SIGTERM" || true
done

tap_done
