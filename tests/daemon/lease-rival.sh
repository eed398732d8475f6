#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# functions run through wait_until and tap_check look unreachable to shellcheck:
# shellcheck disable=SC2317
#
# tests/daemon/lease-rival.sh: the node's own lease key is ours while we hold it (TAP; root).
#
# Two host-gw nodes, n1 (192.0.2.11, with /readyz on --healthz-port, and the test-only
# TARTAN_RIVAL_CLEAR_S=8: the rival is forgotten 8 s after its last overwrite instead of
# 120 s) and n2 (192.0.2.12). Another writer puts a host-gw lease value naming PublicIP
# 192.0.2.99 (no etcd lease) on n1's key with etcdctl:
#  1. once: within 5 s the key holds n1's value again, on n1's etcd lease of before; n2
#     routes n1's subnet via 192.0.2.11 again; n1's log names 192.0.2.99; `tartanctl
#     status` shows the rival (leaseRival {"publicIP":"192.0.2.99","overwrites":1} and the
#     "Lease rival:" line) and stays healthy (one overwrite is no fight); /metrics says
#     tartan_lease_overwrites_total 1;
#  2. every 0.3 s for 5 s: then status is degraded with a reason naming 192.0.2.99 (text and
#     --json, leaseRival with at least 3 overwrites) and /readyz answers 503 naming it; the
#     key's history (etcdctl watch --rev) shows n1 wrote its value back at least 3 times, and
#     fewer times than the rival wrote (write-backs back off while the fight lasts); once the
#     rival stops, the key holds n1's value and etcd lease, n2 routes via 192.0.2.11, and
#     degraded clears by itself (status ok, no leaseRival, /readyz 200);
#  3. n1's key deleted by hand: back with n1's value within 5 s (as before).
# Finally both daemons run, logged no error and exit 0 on SIGTERM.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/etcd.sh
. "$here/../lib/etcd.sh"
# shellcheck source=tests/lib/netns.sh
. "$here/../lib/netns.sh"
# shellcheck source=tests/lib/tartand.sh
. "$here/../lib/tartand.sh"

P=$FLANNEL_PREFIX
HOSTGW_CONFIG='{"Network":"10.5.0.0/16","Backend":{"Type":"host-gw"}}'
HTTP_PORT=9105 # inside n1's own namespace: no other test can hold it
RIVAL_IP=192.0.2.99
RIVAL="{\"PublicIP\":\"$RIVAL_IP\",\"PublicIPv6\":null,\"BackendType\":\"host-gw\"}"
declare -A ip=([n1]=192.0.2.11 [n2]=192.0.2.12)

command -v curl >/dev/null || tap_bail "curl missing"
command -v timeout >/dev/null || tap_bail "timeout (coreutils) missing"
tartan_net_setup
for n in n1 n2; do
	netns_node "$n" "${ip[$n]}/24" || tap_bail "could not make node namespace $n"
done
tap_check "config put" ectl put "$P/config" "$HOSTGW_CONFIG"
TARTAND_ENV[n1]="TARTAN_RIVAL_CLEAR_S=8"
tartand_start n1 -- --resync-interval 1 --bridge cni0 \
	--healthz-ip "${ip[n1]}" --healthz-port "$HTTP_PORT" || tap_bail "could not start n1"
tartand_start n2 -- --resync-interval 1 --bridge cni0 || tap_bail "could not start n2"
for n in n1 n2; do
	if wait_until 20 tstatus_is "$n" peers 1; then
		tap_ok "$n: running with 1 peer"
	else
		tap_fail "$n: running with 1 peer" "saw: $(tstatus "$n" 2>&1)"
	fi
done
s1=$(tstatus n1 subnet 2>/dev/null || true)
[[ $s1 =~ ^10\.5\.[0-9]+\.0/24$ ]] || tap_bail "n1 has no subnet (status subnet '$s1')"
k1=$(subnet_key "$s1")
v1=$(key_value "$k1") || tap_bail "no key $k1"
l1=$(key_lease "$k1") || tap_bail "no key $k1"
[[ $l1 != 0 ]] || tap_bail "n1's key $k1 has no etcd lease"
tap_diag "n1 holds $s1 ($k1, etcd lease $l1)"

# http PATH: GET PATH on n1's health port from inside n1; the body in $TARTAN_WORK/body,
# prints the status code
http()
{
	netns_exec n1 curl -s --max-time 5 -o "$TARTAN_WORK/body" -w '%{http_code}' \
		"http://${ip[n1]}:$HTTP_PORT$1"
}

# n2_route_via ADDR: n2's tartan route to n1's subnet goes via ADDR
n2_route_via()
{
	[[ $(netns_exec n2 ip -4 route show proto 84 "$s1") == "$s1 via $1 dev eth0"* ]]
}

# key_holds VALUE LEASE: n1's key holds exactly VALUE on the etcd lease LEASE (decimal)
key_holds()
{
	[[ $(key_value "$k1") == "$1" && $(key_lease "$k1") == "$2" ]]
}

# rival_is FIELD VALUE: status's leaseRival.FIELD (None: no leaseRival)
rival_is()
{
	local out
	out=$(tctl n1 --json status) || return 1
	[[ $(jget "$out" "(d.get('leaseRival') or {}).get('$1')") == "$2" ]]
}

# metric NAME: its value in n1's /metrics
metric()
{
	http /metrics >/dev/null || return 1
	awk -v n="$1" '$1 == n { print $2 }' "$TARTAN_WORK/body"
}

# history REV: n1's key's values from revision REV on, one per line (etcdctl watch --rev
# replays them; it never ends by itself)
history()
{
	timeout 4 ip netns exec "${NETNS[u]}" env ETCDCTL_API=3 "$ETCDCTL" \
		--endpoints "$ETCD_ENDPOINT_e" watch "$k1" --rev="$1" 2>/dev/null || true
}

if wait_until 10 n2_route_via "${ip[n1]}"; then
	tap_ok "n2 routes $s1 via ${ip[n1]}"
else
	tap_fail "n2 routes $s1 via ${ip[n1]}" "saw: $(netns_exec n2 ip -4 route show proto 84)"
fi
tap_is "$(metric tartan_lease_overwrites_total 2>&1)" 0 "before: tartan_lease_overwrites_total 0" ||
	true

# now_ms: wall clock in milliseconds
now_ms()
{
	local t=${EPOCHREALTIME//[!0-9]/}
	echo $((t / 1000))
}

# -- 1. one overwrite: undone at once, reported, not a fight
tap_check "$k1 overwritten with PublicIP $RIVAL_IP (no etcd lease)" ectl put "$k1" "$RIVAL"
t0=$(now_ms)
if wait_until 5 key_holds "$v1" "$l1"; then
	tap_diag "once: n1's value back on the key $(($(now_ms) - t0)) ms after etcdctl put returned"
	tap_ok "once: within 5 s the key holds n1's value on n1's etcd lease $l1 again"
else
	tap_fail "once: within 5 s the key holds n1's value on n1's etcd lease again" \
		"saw '$(key_value "$k1" 2>&1)' on lease $(key_lease "$k1" 2>&1) (want $l1)"
fi
tap_check "once: n1 logged the rival's PublicIP" \
	tlog_has n1 "our lease key $k1 was overwritten by another writer \\(PublicIP $RIVAL_IP, BackendType host-gw; no etcd lease\\)" ||
	true
if wait_until 10 n2_route_via "${ip[n1]}"; then
	tap_ok "once: n2 routes $s1 via ${ip[n1]}"
else
	tap_fail "once: n2 routes $s1 via ${ip[n1]}" \
		"saw: $(netns_exec n2 ip -4 route show proto 84)"
fi
if wait_until 3 rival_is overwrites 1; then
	tap_ok "once: status leaseRival counts 1 overwrite"
else
	tap_fail "once: status leaseRival counts 1 overwrite" "saw: $(tstatus n1 2>&1)"
fi
tap_is "$(tstatus n1 leaseRival 2>&1)" "{\"overwrites\": 1, \"publicIP\": \"$RIVAL_IP\"}" \
	"once: status leaseRival names $RIVAL_IP" || true
tap_like "$(tctl n1 status 2>&1)" "Lease rival:  PublicIP $RIVAL_IP overwrote our lease key 1 time"$'\n' \
	"once: tartanctl status shows the rival line" || true
tap_is "$(tstatus n1 health 2>&1)" ok "once: one overwrite is no fight: health ok" || true
tap_is "$(metric tartan_lease_overwrites_total 2>&1)" 1 "once: tartan_lease_overwrites_total 1" ||
	true

# -- 2. a fight: every 0.3 s for 5 s
start_rev=$(jget "$(ectl get "$k1" -w json)" 'd["header"]["revision"]')
puts=0 put_errors=0
end=$((${EPOCHREALTIME//[!0-9]/} + 5000000))
while ((${EPOCHREALTIME//[!0-9]/} < end)); do
	if ectl put "$k1" "$RIVAL" >/dev/null 2>&1; then
		puts=$((puts + 1))
	else
		put_errors=$((put_errors + 1))
	fi
	sleep 0.3
done
t0=$(now_ms)
tap_diag "the rival put its value $puts times in 5 s ($put_errors failed)"
if wait_until 3 tstatus_is n1 health degraded; then
	tap_ok "fight: status health degraded"
else
	tap_fail "fight: status health degraded" "saw: $(tstatus n1 2>&1)"
fi
tap_like "$(tstatus n1 degraded_reason 2>&1)" "PublicIP $RIVAL_IP" \
	"fight: the degraded reason names $RIVAL_IP" || true
rival=$(tstatus n1 leaseRival 2>/dev/null || true)
n=$(jget "$rival" 'd["overwrites"]' 2>/dev/null || echo 0)
if ((n >= 3)); then
	tap_ok "fight: leaseRival counts $n overwrites (at least 3)"
else
	tap_fail "fight: leaseRival counts at least 3 overwrites" "saw: $(tstatus n1 2>&1)"
fi
text=$(tctl n1 status 2>&1)
tap_like "$text" "Health: +degraded" "fight: tartanctl status says degraded" || true
tap_like "$text" "Lease rival:  PublicIP $RIVAL_IP overwrote our lease key [0-9]+ times" \
	"fight: tartanctl status shows the rival line" || true
code=$(http /readyz 2>&1)
tap_like "$code $(cat "$TARTAN_WORK/body" 2>&1)" \
	"^503 not ready: lease key overwritten [0-9]+ times by another writer \\(PublicIP $RIVAL_IP\\); holding it$" \
	"fight: /readyz answers 503 naming $RIVAL_IP" || true
tap_check "fight: n1 logged the fight" \
	tlog_has n1 "overwritten 3 times within 60 s .*PublicIP $RIVAL_IP" || true
if wait_until 40 key_holds "$v1" "$l1"; then
	tap_diag "after the fight: n1's value back $(($(now_ms) - t0)) ms after the rival's last put"
	tap_ok "after the fight: the key holds n1's value on n1's etcd lease $l1"
else
	tap_fail "after the fight: the key holds n1's value on n1's etcd lease" \
		"saw '$(key_value "$k1" 2>&1)' on lease $(key_lease "$k1" 2>&1) (want $l1)"
fi
mapfile -t values < <(history "$((start_rev + 1))" | grep '^{')
ours=0 theirs=0
for v in "${values[@]}"; do
	[[ $v == "$v1" ]] && ours=$((ours + 1))
	[[ $v == "$RIVAL" ]] && theirs=$((theirs + 1))
done
tap_diag "the key's history since the fight began: $theirs rival puts, $ours write-backs by n1"
if ((puts >= 6 && theirs >= puts && ours >= 3 && ours < theirs)); then
	tap_ok "fight: n1 wrote back $ours times against $theirs puts (at least 3; fewer: backoff)"
else
	tap_fail "fight: n1 writes back at least 3 times, and fewer times than the rival wrote" \
		"saw $ours write-backs, $theirs rival puts in the history ($puts sent)"
fi
if wait_until 10 n2_route_via "${ip[n1]}"; then
	tap_ok "after the fight: n2 routes $s1 via ${ip[n1]}"
else
	tap_fail "after the fight: n2 routes $s1 via ${ip[n1]}" \
		"saw: $(netns_exec n2 ip -4 route show proto 84)"
fi
if wait_until 20 tstatus_is n1 health ok; then
	tap_diag "after the fight: healthy again $(($(now_ms) - t0)) ms after the rival's last put"
	tap_ok "after the fight: degraded clears by itself"
else
	tap_fail "after the fight: degraded clears by itself" "saw: $(tstatus n1 2>&1)"
fi
tap_is "$(tstatus n1 leaseRival 2>&1)" null "after the fight: no leaseRival in status" || true
tap_is "$(http /readyz 2>&1)" 200 "after the fight: /readyz answers 200" || true
tap_is "$(metric tartan_lease_overwrites_total 2>&1)" "$((1 + theirs))" \
	"after the fight: tartan_lease_overwrites_total counts every overwrite once" || true
tap_check "after the fight: n1 logged that the rival is forgotten" \
	tlog_has n1 "no overwrite of our lease key $k1 for 8 s" || true
tap_is "$(key_value "$k1" 2>&1) $(key_lease "$k1" 2>&1)" "$v1 $l1" \
	"after the fight: the key still holds n1's value and lease" || true

# -- 3. deleted by hand: re-created
tap_check "$k1 deleted with etcdctl" ectl del "$k1"
if wait_until 5 key_exists "$k1"; then
	tap_ok "deleted: the key is back within 5 s"
else
	tap_fail "deleted: the key is back within 5 s" "keys: $(ectl get --prefix "$P/subnets" 2>&1)"
fi
tap_is "$(key_value "$k1" 2>&1)" "$v1" "deleted: the key holds n1's value" || true
tap_is "$(tstatus n1 subnet 2>&1)" "$s1" "deleted: n1 still holds $s1" || true

for n in n1 n2; do
	tap_check "$n: tartand still runs" tartand_alive "$n" || true
	tap_is "$(tlog_errors "$n")" "" "$n logged no error" || true
	tartand_stop "$n" TERM || true
	tap_is "$TARTAND_RC" 0 "$n: SIGTERM stops tartand with exit status 0" || true
	tap_is "$(tlog "$n" | grep -E 'runtime error:|Sanitizer' || true)" "" \
		"$n: no sanitizer report in its log" || true
done

tap_done
