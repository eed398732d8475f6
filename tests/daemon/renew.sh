#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/daemon/renew.sh: lease renewal (TAP; root).
#
# Both daemons run with the test-only --subnet-lease-ttl 6: the margin (60 min by default)
# is longer than that TTL, so it becomes TTL/2 and a lease is renewed about every 3 s.
# n1 (192.0.2.11) holds an ordinary lease; n2 (192.0.2.12) holds a reservation: a key
# without an etcd lease naming its public IP, put before it starts.
#
#  1. For 19 s (more than 3 TTLs), etcd and n1's status are sampled every ~0.2 s: n1's key
#     exists in every sample (it would expire after 6 s without renewal), with n1's value
#     and the same subnet in status and subnet.env; it moves to a new etcd lease at least
#     4 times, never more than TTL s apart, each granted for 6 s; `etcdctl lease list`
#     never shows more than 2 leases (the live one and one just granted for the next
#     renewal) and no replaced lease still exists 1.5 s after the key left it (flanneld
#     leaks one per renewal: each replaced lease lives until its TTL runs out, so with a
#     6 s TTL renewed every 3 s a leak shows 3 leases at once, each listed for 3 s after
#     its renewal); at the end it lists exactly the key's lease. n2's reservation keeps
#     no lease and its value all along.
#  2. Right after a renewal, n1's key's etcd lease is revoked by hand (as an expiry would
#     delete the key): within 5 s the same subnet's key is back with n1's value, on a new
#     6 s lease; status and subnet.env unchanged; renewals go on from there.
#  3. Right after a renewal, n1 is frozen (SIGSTOP), its etcd lease revoked (the key goes,
#     as at an expiry during an outage) and the key made anew with another node's value
#     (PublicIP 192.0.2.99, its own 600 s etcd lease), as a node does with a subnet it finds
#     free; n1 thawed (SIGCONT) sees the subnet held by another node and acquires a new
#     subnet (a put over the key n1 holds is another matter: n1 writes its value back, see
#     lease-rival.sh): status and subnet.env follow,
#     the new key holds n1's value on a 6 s lease and keeps being renewed; the other node's
#     key keeps its value and its lease for two more renewals of n1 (never overwritten);
#     n1 revoked its last lease of the lost key; n1 and n2 both list the other node's lease
#     at the old subnet as a peer.
# Finally n2's reservation still has no lease after more than 3 TTLs, both daemons still
# run, neither logged an error, and both stop on SIGTERM with exit status 0.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/etcd.sh
. "$here/../lib/etcd.sh"
# shellcheck source=tests/lib/netns.sh
. "$here/../lib/netns.sh"
# shellcheck source=tests/lib/tartand.sh
. "$here/../lib/tartand.sh"

P=$FLANNEL_PREFIX
TTL=6
RESERVED=10.5.77.0/24
OTHER_IP=192.0.2.99
tartan_net_setup
netns_node n1 192.0.2.11/24 || tap_bail "could not make node namespace n1"
netns_node n2 192.0.2.12/24 || tap_bail "could not make node namespace n2"
v1="{\"PublicIP\":\"${NETNS_ADDR[n1]}\",\"PublicIPv6\":null}"
v2="{\"PublicIP\":\"${NETNS_ADDR[n2]}\",\"PublicIPv6\":null}"
vo="{\"PublicIP\":\"$OTHER_IP\",\"PublicIPv6\":null}"
kr=$(subnet_key "$RESERVED")

# snap: one look at etcd: SNAP_LEASE[key] (decimal etcd lease, 0 for none) and
# SNAP_VALUE[key] of every subnet key, SNAP_LEASES the IDs of every etcd lease (decimal).
declare -gA SNAP_LEASE=() SNAP_VALUE=()
declare -ga SNAP_LEASES=()
snap()
{
	local kvs leases out
	kvs=$(ectl get --prefix "$P/subnets/" -w json) || return 1
	leases=$(ectl lease list -w json) || return 1
	out=$("$PYTHON3" -c '
import base64, json, shlex, sys
kvs = json.loads(sys.argv[1]).get("kvs") or []
leases = json.loads(sys.argv[2]).get("leases") or []
q = shlex.quote
dec = lambda s: base64.b64decode(s or "").decode()
print("SNAP_LEASE=(%s)" % " ".join("[%s]=%d" % (q(dec(k["key"])), k.get("lease", 0))
                                   for k in kvs))
print("SNAP_VALUE=(%s)" % " ".join("[%s]=%s" % (q(dec(k["key"])), q(dec(k.get("value"))))
                                   for k in kvs))
print("SNAP_LEASES=(%s)" % " ".join(str(l["id"]) for l in leases))
' "$kvs" "$leases") || return 1
	SNAP_LEASE=()
	SNAP_VALUE=()
	eval "$out"
}

# now_ms: wall clock in milliseconds
now_ms()
{
	local t=${EPOCHREALTIME//[!0-9]/}
	echo $((t / 1000))
}

# granted_ok LEASE: the etcd lease was granted for TTL s and has not expired
granted_ok()
{
	[[ $(lease_ttl "$1" 2>/dev/null) =~ ^$TTL\ ([0-9]+)$ ]] && ((BASH_REMATCH[1] >= 1))
}

# lease_changed KEY OLD: KEY exists and its etcd lease is no longer OLD
lease_changed()
{
	local l
	l=$(key_lease "$1") || return 1
	[[ $l != "$2" ]]
}

# leases_of KEY...: `etcdctl lease list` shows exactly the etcd leases of these keys
leases_of()
{
	local k want=()
	snap || return 1
	for k in "$@"; do
		[[ ${SNAP_LEASE[$k]:-0} == 0 ]] || want+=("${SNAP_LEASE[$k]}")
	done
	[[ $(printf '%s\n' "${SNAP_LEASES[@]}" | sort) == "$(printf '%s\n' "${want[@]}" | sort)" ]]
}

# file_is FILE TEXT: FILE holds exactly TEXT
file_is()
{
	[[ $(cat "$1" 2>/dev/null) == "$2" ]]
}

# has_subnet NODE SUBNET: tartanctl leases lists it
has_subnet()
{
	local out
	# not a pipe into grep -q: under pipefail the writer's SIGPIPE would fail the check
	out=$(tleases "$1") || return 1
	grep -qxF -- "$2" <<<"$out"
}

# subnet_is_not NODE SUBNET: status shows a subnet, another one than SUBNET
subnet_is_not()
{
	local s
	s=$(tstatus "$1" subnet) || return 1
	[[ $s =~ ^10\.5\. && $s != "$2" ]]
}

# check_reservation WHEN: n2 still holds the reservation: no lease, its value, status
check_reservation()
{
	snap || true
	tap_is "${SNAP_LEASE[$kr]:-absent} ${SNAP_VALUE[$kr]:-}" "0 $v2" \
		"$1: the reservation $kr still has no etcd lease and n2's value" || true
	tap_is "$(tstatus n2 subnet 2>&1) $(tstatus n2 lease_expiry 2>&1)" "$RESERVED null" \
		"$1: n2 holds $RESERVED with no expiry" || true
}

tap_check "config put" ectl put "$P/config" "$ALLOC_CONFIG"
tap_check "reservation for n2 put (no etcd lease)" ectl put "$kr" "$v2"
t_start=$SECONDS
tartand_start n1 -- --subnet-lease-ttl "$TTL" || tap_bail "could not start tartand in n1"
tartand_start n2 -- --subnet-lease-ttl "$TTL" || tap_bail "could not start tartand in n2"
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
env1=$(subnet_env_text 10.5.0.0/16 "$s1" 1500)
tap_diag "n1 holds $s1"
check_reservation "at start"

# -- 1. renewals: same key, same value, a new 6 s etcd lease each time, the old one revoked
declare -A replaced_at=() stale=()
ids=()
times=()
samples=0 snap_errors=0 missing=0 wrong_value=0 wrong_subnet=0 wrong_env=0 max_leases=0
bad_ttl=() resv_bad=0 last=""
end=$(($(now_ms) + 19000))
while (($(now_ms) < end)); do
	if ! snap; then
		snap_errors=$((snap_errors + 1))
		sleep 0.2
		continue
	fi
	samples=$((samples + 1))
	t=$(now_ms)
	if [[ -z ${SNAP_LEASE[$k1]:-} ]]; then
		missing=$((missing + 1))
		tap_diag "sample $samples: $k1 is missing"
	else
		[[ ${SNAP_VALUE[$k1]} == "$v1" ]] || wrong_value=$((wrong_value + 1))
		l=${SNAP_LEASE[$k1]}
		if [[ $l != "$last" ]]; then
			[[ -z $last ]] || replaced_at[$last]=$t
			ids+=("$l")
			times+=("$t")
			# the lease the key had at the first sample may be replaced any moment: only
			# the ones seen arriving are sure to be alive for a second or two
			((${#ids[@]} == 1)) || granted_ok "$l" || bad_ttl+=("$l: $(lease_ttl "$l" 2>&1)")
			last=$l
		fi
	fi
	((${#SNAP_LEASES[@]} <= max_leases)) || max_leases=${#SNAP_LEASES[@]}
	for l in "${SNAP_LEASES[@]}"; do
		if [[ -n ${replaced_at[$l]:-} ]] && ((t - ${replaced_at[$l]} > 1500)); then
			stale[$l]=1
		fi
	done
	[[ ${SNAP_LEASE[$kr]:-absent} == 0 && ${SNAP_VALUE[$kr]:-} == "$v2" ]] ||
		resv_bad=$((resv_bad + 1))
	[[ $(tstatus n1 subnet 2>/dev/null) == "$s1" ]] || wrong_subnet=$((wrong_subnet + 1))
	[[ $(cat "${TARTAND_DIR[n1]}/subnet.env" 2>/dev/null) == "$env1" ]] ||
		wrong_env=$((wrong_env + 1))
	sleep 0.2
done
renewals=$((${#ids[@]} - 1))
gaps=() max_gap=0
for ((i = 1; i < ${#times[@]}; i++)); do
	g=$((times[i] - times[i - 1]))
	gaps+=("$g")
	((g <= max_gap)) || max_gap=$g
done
tap_diag "$samples samples in 19 s ($snap_errors failed), $renewals renewals," \
	"ms between them: ${gaps[*]:-none}; at most $max_leases etcd leases at once"
if ((samples >= 20 && snap_errors <= samples / 10)); then
	tap_ok "etcd sampled $samples times over 19 s (more than 3 TTLs of $TTL s)"
else
	tap_fail "etcd sampled at least 20 times over 19 s" "saw $samples samples, $snap_errors failed"
fi
tap_is "$missing" 0 "$k1 existed in every sample: renewed before each expiry" || true
tap_is "$wrong_value" 0 "$k1 held n1's value $v1 in every sample" || true
tap_is "$wrong_subnet $wrong_env" "0 0" "n1's status subnet and subnet.env never changed" || true
if ((renewals >= 4)); then
	tap_ok "the key moved to a new etcd lease $renewals times in 19 s (at least 4)"
else
	tap_fail "the key moved to a new etcd lease at least 4 times in 19 s" \
		"saw $renewals changes: lease IDs ${ids[*]:-none}"
fi
if ((renewals >= 1 && max_gap < TTL * 1000)); then
	tap_ok "renewals at most $max_gap ms apart, under the TTL of $TTL s"
else
	tap_fail "renewals less than $TTL s apart" "saw gaps (ms): ${gaps[*]:-none}"
fi
tap_is "${bad_ttl[*]:-}" "" "every etcd lease the key moved to was granted for $TTL s" || true
if ((max_leases >= 1 && max_leases <= 2)); then
	tap_ok "etcdctl lease list never showed more than 2 leases (saw at most $max_leases)"
else
	tap_fail "etcdctl lease list never shows more than 2 leases" \
		"saw up to $max_leases leases over $renewals renewals (a leak keeps each replaced" \
		"lease listed until its $TTL s run out)"
fi
tap_is "${!stale[*]}" "" "no replaced etcd lease was still listed 1.5 s after the renewal" || true
if wait_until 2 leases_of "$k1"; then
	tap_ok "etcdctl lease list shows exactly the key's lease"
else
	tap_fail "etcdctl lease list shows exactly the key's lease" \
		"saw: ${SNAP_LEASES[*]:-none} (key's lease: ${SNAP_LEASE[$k1]:-none})"
fi
tap_is "$resv_bad" 0 "n2's reservation kept no etcd lease and its value in every sample" || true

# -- 2. the key's etcd lease revoked by hand, as an expiry would do: the same subnet is back
cur=$(key_lease "$k1" 2>/dev/null || echo 0)
if wait_until 6 lease_changed "$k1" "$cur"; then
	tap_ok "a renewal went by before the revoke"
else
	tap_fail "a renewal goes by within 6 s" "the key's lease stayed $cur"
fi
gone=$(key_lease "$k1" 2>/dev/null || echo 0)
tap_check "n1's etcd lease $gone revoked with etcdctl" ectl lease revoke "$(printf '%x' "$gone")"
t0=$(now_ms)
if wait_until 5 lease_changed "$k1" "$gone"; then
	tap_ok "the same subnet's key is back within $((($(now_ms) - t0) / 1000 + 1)) s (limit 5 s)"
else
	tap_fail "the same subnet's key is back within 5 s" "keys now:" \
		"$(ectl get --prefix "$P/subnets" 2>&1)"
fi
tap_is "$(key_value "$k1" 2>&1)" "$v1" "after the revoke: $k1 holds n1's value" || true
back=$(key_lease "$k1" 2>/dev/null || echo 0)
if [[ $back != 0 && $back != "$gone" ]] && granted_ok "$back"; then
	tap_ok "after the revoke: $k1 is on a new etcd lease granted for $TTL s"
else
	tap_fail "after the revoke: $k1 is on a new etcd lease granted for $TTL s" \
		"saw lease '$back' (revoked: $gone), ttl '$(lease_ttl "$back" 2>&1)'"
fi
tap_is "$(tstatus n1 subnet 2>&1)" "$s1" "after the revoke: status subnet unchanged" || true
tap_is "$(cat "${TARTAND_DIR[n1]}/subnet.env" 2>&1)" "$env1" \
	"after the revoke: subnet.env unchanged" || true
tap_check "after the revoke: n1 logged the loss" tlog_has n1 "was deleted" || true
if wait_until 6 lease_changed "$k1" "$back"; then
	tap_ok "after the revoke: renewals go on"
else
	tap_fail "after the revoke: renewals go on" "the key's lease stayed $back for 6 s"
fi
if wait_until 2 leases_of "$k1"; then
	tap_ok "after the revoke: etcdctl lease list shows exactly the key's lease"
else
	tap_fail "after the revoke: etcdctl lease list shows exactly the key's lease" \
		"saw: ${SNAP_LEASES[*]:-none} (key's lease: ${SNAP_LEASE[$k1]:-none})"
fi

# -- 3. the key gone while n1 was frozen, and taken by another node: n1 moves to a new
#       subnet, never overwrites it
other=$(ectl lease grant 600 | awk '/granted/ { print $2 }')
[[ -n $other ]] || tap_bail "could not grant an etcd lease for the other node"
other_dec=$((16#$other))
cur=$(key_lease "$k1" 2>/dev/null || echo 0)
wait_until 6 lease_changed "$k1" "$cur" || true
lost=$(key_lease "$k1" 2>/dev/null || echo 0)
kill -s STOP "${TARTAND_PID[n1]}"
tap_check "n1 frozen; its etcd lease $lost revoked (the key goes)" \
	ectl lease revoke "$(printf '%x' "$lost")" || true
tap_check "$k1 made anew with another node's value ($OTHER_IP, etcd lease $other)" \
	ectl put "$k1" "$vo" --lease="$other" || true
kill -s CONT "${TARTAND_PID[n1]}"
t0=$(now_ms)
if wait_until 10 subnet_is_not n1 "$s1"; then
	tap_ok "n1 took a new subnet $((($(now_ms) - t0) / 1000 + 1)) s after the overwrite"
else
	tap_fail "n1 takes a new subnet within 10 s of the overwrite" "saw: $(tstatus n1 2>&1)"
fi
s1b=$(tstatus n1 subnet 2>/dev/null || true)
k1b=$(subnet_key "$s1b")
tap_diag "n1 moved from $s1 to $s1b"
if [[ $s1b =~ ^10\.5\.[0-9]+\.0/24$ && $s1b != "$s1" && $s1b != "$RESERVED" ]]; then
	tap_ok "the new subnet $s1b is a free /24 of the network"
else
	tap_fail "the new subnet is a free /24 of the network" "saw '$s1b' (old $s1, reserved $RESERVED)"
fi
env1b=$(subnet_env_text 10.5.0.0/16 "$s1b" 1500)
if wait_until 3 file_is "${TARTAND_DIR[n1]}/subnet.env" "$env1b"; then
	tap_ok "subnet.env follows the new subnet"
else
	tap_fail "subnet.env follows the new subnet" "saw:" "$(cat "${TARTAND_DIR[n1]}/subnet.env" 2>&1)"
fi
tap_check "n1 logged that another node holds its subnet" \
	tlog_has n1 "held by another node|was taken meanwhile" || true
tap_is "$(key_value "$k1b" 2>&1)" "$v1" "$k1b holds n1's value" || true
newl=$(key_lease "$k1b" 2>/dev/null || echo 0)
if [[ $newl != 0 ]] && granted_ok "$newl"; then
	tap_ok "$k1b is on an etcd lease granted for $TTL s"
else
	tap_fail "$k1b is on an etcd lease granted for $TTL s" \
		"saw lease '$newl', ttl '$(lease_ttl "$newl" 2>&1)'"
fi
# two more renewals of n1 while watching the other node's key
untouched=1 moves=0 seen_l=$newl
end=$(($(now_ms) + 7000))
while (($(now_ms) < end)); do
	snap || { sleep 0.2; continue; }
	if [[ ${SNAP_VALUE[$k1]:-} != "$vo" || ${SNAP_LEASE[$k1]:-} != "$other_dec" ]]; then
		untouched=0
		tap_diag "$k1 is now '${SNAP_VALUE[$k1]:-absent}' on lease ${SNAP_LEASE[$k1]:-none}"
	fi
	if [[ -n ${SNAP_LEASE[$k1b]:-} && ${SNAP_LEASE[$k1b]} != "$seen_l" ]]; then
		moves=$((moves + 1))
		seen_l=${SNAP_LEASE[$k1b]}
	fi
	sleep 0.2
done
tap_is "$untouched" 1 "the other node's key kept its value and etcd lease for 7 s" || true
if ((moves >= 2)); then
	tap_ok "$k1b renewed $moves times in 7 s"
else
	tap_fail "$k1b renewed at least twice in 7 s" "saw $moves lease changes"
fi
n=$(ectl get --prefix "$P/subnets" --print-value-only |
	grep -cF "\"PublicIP\":\"${NETNS_ADDR[n1]}\"" || true)
tap_is "$n" 1 "exactly one key holds ${NETNS_ADDR[n1]}" || true
if wait_until 2 leases_of "$k1b" "$k1"; then
	tap_ok "etcdctl lease list shows exactly n1's live lease and the other node's"
else
	tap_fail "etcdctl lease list shows exactly n1's live lease and the other node's" \
		"saw: ${SNAP_LEASES[*]:-none} (n1's: ${SNAP_LEASE[$k1b]:-none}," \
		"the other node's: $other_dec; n1's lease on the lost key was $lost)"
fi
for n in n1 n2; do
	if wait_until 5 has_subnet "$n" "$s1"; then
		tap_ok "$n lists the other node's lease at $s1 as a peer"
	else
		tap_fail "$n lists the other node's lease at $s1 as a peer" "saw:" "$(tleases "$n" 2>&1)"
	fi
done
tap_check "n2 lists n1's new subnet $s1b" wait_until 5 has_subnet n2 "$s1b" || true

# -- 5. the reservation after all that (more than 3 TTLs since the start)
tap_diag "$((SECONDS - t_start)) s since the daemons started"
check_reservation "at the end"
for n in n1 n2; do
	tap_check "$n: tartand still runs" tartand_alive "$n" || true
	tap_is "$(tlog_errors "$n")" "" "$n logged no error" || true
	# exit 0 also means no leak report in a sanitizer build
	tartand_stop "$n" TERM || true
	tap_is "$TARTAND_RC" 0 "$n: SIGTERM stops tartand with exit status 0" || true
	tap_is "$(tlog "$n" | grep -E 'runtime error:|Sanitizer' || true)" "" \
		"$n: no sanitizer report in its log" || true
done

tap_done
