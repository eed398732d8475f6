#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/daemon/etcd-cluster.sh: tartand against a 3-member etcd cluster with faults (TAP; root).
#
# The cluster's members m1, m2, m3 run in the underlay namespace on 192.0.2.254, each on its
# own ports (tests/lib/etcd.sh, etcd_cluster_start); two host-gw nodes n1 and n2 get all
# three client URLs in --etcd-endpoints; pods n1p0 and n2p0 ping each other.
#
#  1. Failover: the member n1 talks to (`tartanctl status`'s etcd_endpoint) is killed with
#     SIGKILL while a writer (etcdctl on the two other members) puts 24 new peer leases and
#     updates one more peer lease 24 times, one PublicIP after the other. n1 is connected to
#     another member within 5 s (measured); its log has exactly one "peer S at" line per new
#     lease, and the updated lease's PublicIPs in the order written, each once (a missed or
#     replayed watch event would show); n1 routes to every new lease; `ip monitor route` in
#     n1 and n2 through all of it shows the 24 new routes added and no route of tartan's
#     (proto 84) deleted.
#  2. A hung member: the member n1 talks to gets SIGSTOP. Its kernel keeps the connections
#     open, so n1's watch stream on it falls silent without failing. A peer lease put then
#     through the two others is routed by n1 within 30 s (measured: the first request that
#     times out on the hung member, a quorum read every 5 s with a 5 s timeout, moves the
#     watches too), n1 is connected to another member and not degraded, and the lease's
#     "peer S at" line is in n1's log once. The member gets SIGCONT and rejoins.
#  3. No quorum: the two members n1 does not talk to are killed (SIGKILL) for 60 s. n1's
#     watch stays connected to the lone member, which has no leader: tartand must notice
#     from its quorum reads. Within 25 s `tartanctl status` says "Health: degraded" with a
#     reason, --json has degraded true and degraded_reason, /readyz answers 503 "not
#     ready: etcd degraded: ..."; through the 60 s n1p0 pings n2p0 five times a second
#     with no loss, the routes of n1 and n2 are what they were, and `ip monitor route` shows
#     no deletion of a proto 84 route. The members come back: within 20 s status is "ok"
#     and /readyz 200, and a peer lease put then is routed by n1 within 5 s.
#  4. All members down for longer than the lease TTL: n1 restarts with the test-only
#     --subnet-lease-ttl 5 (same subnet, from subnet.env), the whole cluster is killed for
#     9 s, then started again: within 30 s n1 holds the same subnet (status, subnet.env, its
#     key in etcd with its value on a lease of 5 s) and no daemon exited.

# ETCD_*_<name> are set by tests/lib/etcd.sh
# shellcheck disable=SC2154
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/etcd.sh
. "$here/../lib/etcd.sh"
# shellcheck source=tests/lib/netns.sh
. "$here/../lib/netns.sh"
# shellcheck source=tests/lib/tartand.sh
. "$here/../lib/tartand.sh"
# shellcheck source=tests/lib/pods.sh
. "$here/../lib/pods.sh"

P=$FLANNEL_PREFIX
HOSTGW_CONFIG='{"Network":"10.5.0.0/16","Backend":{"Type":"host-gw"}}'
QUORUM_LOSS_S=60
TTL=5
# three members booting together on two busy cores take longer than one
: "${ETCD_START_TIMEOUT:=30}"

declare -A ip=([n1]=192.0.2.11 [n2]=192.0.2.12)

# --- the cluster in the underlay, instead of tartan_net_setup's single etcd -------------------
netns_require
for b in TARTAND TARTANCTL; do
	[[ -n ${!b:-} && -x ${!b} ]] || tap_bail "$b is not set to an executable (meson sets it)"
done
command -v "$ETCDCTL" >/dev/null 2>&1 || tap_bail "$ETCDCTL not found (etcd-client)"
tmpdir_new TARTAN_WORK || tap_bail "mktemp failed"
netns_underlay u || tap_bail "could not make the underlay namespace"
ETCD_NETNS=${NETNS[u]} ETCD_LISTEN_IP=$NETNS_UNDERLAY_IP etcd_cluster_start m 3 ||
	tap_bail "could not start a 3-member etcd cluster in ${NETNS[u]}"
# tartand_start and ectl use ETCD_ENDPOINT_e: all three members
ETCD_ENDPOINT_e=$ETCD_ENDPOINTS_m
on_exit _tartand_on_exit
declare -A member_of=()
for m in m1 m2 m3; do
	v=ETCD_ENDPOINT_$m
	member_of[${!v}]=$m
done
tap_like "$ETCD_ENDPOINT_e" '^http://192\.0\.2\.254:[0-9]+,http://192\.0\.2\.254:[0-9]+,http://192\.0\.2\.254:[0-9]+$' \
	"etcd_cluster_start: three members, three client URLs" || true
tap_is "$(ectl member list | wc -l)" 3 "etcdctl member list: 3 members" || true

# ectl_on MEMBER...: etcdctl on these members only
ectl_on()
{
	local eps="" m v
	while [[ $1 != -- ]]; do
		v=ETCD_ENDPOINT_$1
		eps+=${eps:+,}${!v}
		shift
	done
	shift
	ip netns exec "${NETNS[u]}" env ETCDCTL_API=3 "$ETCDCTL" --endpoints "$eps" \
		--dial-timeout 2s --command-timeout 5s "$@"
}

elapsed()
{
	local now=${EPOCHREALTIME//[!0-9]/} t0=${1//[!0-9]/}
	printf '%d.%02d' $(((now - t0) / 1000000)) $(((now - t0) / 10000 % 100))
}

# n1's etcd member (m1..m3) from status
member_now()
{
	local ep
	ep=$(tstatus "$1" etcd_endpoint) || return 1
	printf '%s\n' "${member_of[$ep]:-?$ep}"
}

# members_except M: the cluster's members but M, one per line
members_except()
{
	local m
	for m in m1 m2 m3; do
		[[ $m == "$1" ]] || echo "$m"
	done
}

connected_elsewhere()
{
	local m
	m=$(member_now "$1") || return 1
	[[ $m != "$2" && $m != \?* ]] && tstatus_is "$1" etcd_connected true
}

routes84()
{
	netns_exec "$1" ip -4 route show proto 84 | sed 's/ *$//' | sort
}

has_route()
{
	[[ -n $(netns_exec "$1" ip -4 route show "$2" proto 84 2>/dev/null) ]]
}

lease_value()
{
	printf '{"PublicIP":"%s","PublicIPv6":null,"BackendType":"host-gw"}' "$1"
}

HTTP_PORT=$(free_port)
URL=http://${ip[n1]}:$HTTP_PORT
# readyz: the HTTP code of n1's /readyz; the body in $TARTAN_WORK/readyz.body
readyz()
{
	netns_exec n1 curl -s --max-time 5 -o "$TARTAN_WORK/readyz.body" -w '%{http_code}' \
		"$URL/readyz"
}

readyz_is()
{
	[[ $(readyz 2>/dev/null) == "$1" ]]
}

# monitor_start NAME NODE: `ip -4 monitor route` in NODE into $TARTAN_WORK/NAME.mon
declare -A mon_pid=()
monitor_start()
{
	local pid
	: >"$TARTAN_WORK/$1.mon"
	netns_spawn pid "$2" "$TARTAN_WORK/$1.mon" ip -4 monitor route
	mon_pid[$1]=$pid
	# ip monitor subscribes before it prints: give it a moment to be listening
	sleep 0.3
}

monitor_stop()
{
	kill -s TERM "${mon_pid[$1]}" 2>/dev/null || true
	wait "${mon_pid[$1]}" 2>/dev/null || true
}

# the deletions of tartan's routes in a monitor log
deleted84()
{
	grep -E '^Deleted .*proto 84' "$TARTAN_WORK/$1.mon" || true
}

# --- two host-gw nodes with a pod each -------------------------------------------------------
netns_node n1 "${ip[n1]}/24" || tap_bail "could not make node n1"
netns_node n2 "${ip[n2]}/24" || tap_bail "could not make node n2"
ectl put "$P/config" "$HOSTGW_CONFIG" >/dev/null || tap_bail "could not put the config"
tartand_start n1 -- --bridge cni0 --resync-interval 2 --healthz-ip "${ip[n1]}" \
	--healthz-port "$HTTP_PORT" || tap_bail "could not start tartand in n1"
tartand_start n2 -- --bridge cni0 --resync-interval 2 || tap_bail "could not start tartand in n2"
for n in n1 n2; do
	wait_until 30 tstatus_is "$n" state running || tap_bail "$n is not running: $(tlog "$n" | tail -5)"
	netns_exec "$n" sysctl -qw net.ipv4.ip_forward=1 || tap_bail "no forwarding in $n"
done
declare -A subnet=([n1]=$(tstatus n1 subnet) [n2]=$(tstatus n2 subnet))
wait_until 10 has_route n1 "${subnet[n2]}" || tap_bail "n1 has no route to n2"
wait_until 10 has_route n2 "${subnet[n1]}" || tap_bail "n2 has no route to n1"
wait_until 10 bash -c "[[ -n \$(ip -n ${NETNS[n1]} -4 addr show dev cni0) ]]" || tap_bail "no cni0 in n1"
wait_until 10 bash -c "[[ -n \$(ip -n ${NETNS[n2]} -4 addr show dev cni0) ]]" || tap_bail "no cni0 in n2"
add_pod n1 0 || tap_bail "could not make pod n1p0"
add_pod n2 0 || tap_bail "could not make pod n2p0"
ping_matrix
tap_is "$(tstatus n1 health)" ok "n1: status health is ok with the whole cluster up" || true
tap_is "$(readyz)" 200 "n1: /readyz answers 200 with the whole cluster up" || true

# subnets for the peer leases put by the test: 10.5.200-254.0/24 less the nodes' own
free_octets=()
for ((x = 200; x <= 254 && ${#free_octets[@]} < 27; x++)); do
	s=10.5.$x.0/24
	[[ $s == "${subnet[n1]}" || $s == "${subnet[n2]}" ]] || free_octets+=("$x")
done

# ---------------------------------------------------------------------------------------------
# 1. the member n1 talks to dies with SIGKILL while peer leases are written

victim=$(member_now n1)
tap_like "$victim" '^m[123]$' "failover: n1 talks to a member of the cluster ($victim)" || true
mapfile -t others < <(members_except "$victim")
upd_subnet=10.5.${free_octets[0]}.0/24
ectl put "$(subnet_key "$upd_subnet")" "$(lease_value 192.0.2.100)" >/dev/null ||
	tap_bail "could not put the updated peer's first lease"
wait_until 10 has_route n1 "$upd_subnet" || tap_bail "n1 did not route the first peer lease"
route_n2_before=$(netns_exec n2 ip -4 route show "${subnet[n1]}" proto 84)
monitor_start mon1 n1
monitor_start mon2 n2

# the writer: through the members that stay, one put every ~0.1 s. When the victim was the
# leader, puts time out until the two others have elected one (about a second): the writer
# tries each put again, up to 5 times; a put that timed out may have been applied all the
# same, so a value can be written twice in a row (same value, which tartand does not count
# as a change). A put that never went through is noted.
put_retry()
{
	local i
	for ((i = 0; i < 5; i++)); do
		ectl_on "${others[@]}" -- put "$1" "$2" >/dev/null 2>&1 && return 0
		echo "retry: $1" >>"$TARTAN_WORK/writer.retries"
		sleep 0.5
	done
	return 1
}
(
	set +e
	for ((k = 1; k <= 24; k++)); do
		put_retry "$(subnet_key "$upd_subnet")" "$(lease_value "192.0.2.$((100 + k))")" ||
			echo "update $k failed"
		put_retry "$(subnet_key "10.5.${free_octets[k]}.0/24")" \
			"$(lease_value "192.0.2.$((100 + k))")" || echo "new $k failed"
		sleep 0.1
	done
) >"$TARTAN_WORK/writer.out" 2>&1 &
writer=$!
sleep 0.5
t_kill=$EPOCHREALTIME
etcd_kill -9 "$victim"
if wait_until 10 connected_elsewhere n1 "$victim"; then
	failover_s=$(elapsed "$t_kill")
	tap_ok "failover: n1 is connected to $(member_now n1) $failover_s s after $victim died"
else
	failover_s=none
	tap_fail "failover: n1 is connected to another member after $victim died" \
		"status: $(tstatus n1 2>&1)"
fi
tap_like "$failover_s" '^[0-4]\.[0-9]+$' "failover: within 5 s (took $failover_s s)" || true
wait "$writer" || true
tap_is "$(cat "$TARTAN_WORK/writer.out")" "" "failover: every put of the writer went through" || true
[[ ! -s $TARTAN_WORK/writer.retries ]] ||
	tap_diag "failover: puts tried again (leader election): $(wc -l <"$TARTAN_WORK/writer.retries")"
all_routed()
{
	local k
	has_route n1 "$upd_subnet" || return 1
	for ((k = 1; k <= 24; k++)); do
		has_route n1 "10.5.${free_octets[k]}.0/24" || return 1
	done
}
if wait_until 10 all_routed; then
	tap_ok "failover: n1 routes to all 24 new peer leases"
else
	tap_fail "failover: n1 routes to all 24 new peer leases" "routes: $(routes84 n1)"
fi
tap_is "$(netns_exec n1 ip -4 route show "$upd_subnet" proto 84 | sed 's/ *$//')" \
	"$upd_subnet via 192.0.2.124 dev eth0" \
	"failover: the updated peer is routed via its last PublicIP" || true
log1=$(tlog n1)
bad=""
for ((k = 1; k <= 24; k++)); do
	s=10.5.${free_octets[k]}.0/24
	c=$(grep -cF "peer $s at " <<<"$log1" || true)
	[[ $c == 1 ]] || bad+=" $s:$c"
done
tap_is "$bad" "" "failover: each new peer lease reached n1's watch exactly once (subnet:count)" || true
seen=$(grep -oE "peer ${upd_subnet//./\\.} at 192\.0\.2\.[0-9]+" <<<"$log1" | sed 's/.* at //' |
	paste -sd ' ')
want=$(for ((k = 0; k <= 24; k++)); do echo "192.0.2.$((100 + k))"; done | paste -sd ' ')
tap_is "$seen" "$want" \
	"failover: the updated lease's 25 values reached n1 in order, each once" || true
sleep 1
monitor_stop mon1
monitor_stop mon2
bad=""
for ((k = 1; k <= 24; k++)); do
	s=10.5.${free_octets[k]}.0/24
	c=$(grep -cE "^${s//./\\.} via .*proto 84" "$TARTAN_WORK/mon1.mon" || true)
	[[ $c == 1 ]] || bad+=" $s:$c"
done
tap_is "$bad" "" "failover: ip monitor in n1 saw each new peer's route added once (subnet:count)" ||
	true
tap_is "$(deleted84 mon1)" "" "failover: no tartan route deleted in n1 (ip monitor route)" || true
tap_is "$(deleted84 mon2)" "" "failover: no tartan route deleted in n2 (ip monitor route)" || true
tap_is "$(netns_exec n2 ip -4 route show "${subnet[n1]}" proto 84)" "$route_n2_before" \
	"failover: n2's route to n1 is unchanged" || true
etcd_restart "$victim" || tap_bail "could not restart $victim"

# ---------------------------------------------------------------------------------------------
# 2. the member n1 talks to hangs: SIGSTOP, its connections stay open and silent

wait_until 10 tstatus_is n1 etcd_connected true || true
hung=$(member_now n1)
tap_like "$hung" '^m[123]$' "hung member: n1 talks to $hung" || true
mapfile -t awake < <(members_except "$hung")
hung_subnet=10.5.${free_octets[26]}.0/24
t_stop=$EPOCHREALTIME
etcd_pause "$hung" || tap_bail "could not SIGSTOP $hung"
# when the hung member led the cluster, puts time out until the two others have elected
# another leader
put_awake()
{
	ectl_on "${awake[@]}" -- put "$(subnet_key "$hung_subnet")" "$(lease_value 192.0.2.126)"
}
tap_check "hung member: a peer lease can be put through ${awake[*]}" wait_until 30 put_awake || true
if wait_until 30 has_route n1 "$hung_subnet"; then
	tap_ok "hung member: n1 routes a peer lease put while $hung hangs ($(elapsed "$t_stop") s after its SIGSTOP)"
else
	tap_fail "hung member: n1 routes a peer lease put while $hung hangs, within 30 s" \
		"status: $(tstatus n1 2>&1)" "log: $(tlog n1 | tail -5)"
fi
tap_check "hung member: n1 is connected to another member" \
	wait_until 10 connected_elsewhere n1 "$hung" || true
tap_is "$(tstatus n1 degraded)" false "hung member: n1 is not degraded (two members hold the quorum)" ||
	true
tap_is "$(tlog n1 | grep -cF "peer $hung_subnet at " || true)" 1 \
	"hung member: the lease reached n1's watch once" || true
etcd_resume "$hung" || tap_bail "could not SIGCONT $hung"
member_healthy()
{
	ectl_on "$hung" -- endpoint health >/dev/null 2>&1
}
wait_until 30 member_healthy || tap_bail "$hung is not healthy again after SIGCONT"

# ---------------------------------------------------------------------------------------------
# 3. no quorum for 60 s: the two members n1 does not talk to die

wait_until 10 tstatus_is n1 etcd_connected true || true
lone=$(member_now n1)
tap_like "$lone" '^m[123]$' "no quorum: n1 talks to $lone, which stays up" || true
mapfile -t dead < <(members_except "$lone")
routes_before1=$(routes84 n1)
routes_before2=$(routes84 n2)
monitor_start mon3 n1
monitor_start mon4 n2
# 5 pings a second from n1p0 to n2p0 through the whole outage
pinger=""
ping_log=$TARTAN_WORK/ping.out
ip netns exec "${pod_ns[n1p0]}" ping -q -i 0.2 -W 1 -w "$QUORUM_LOSS_S" "${pod_ip[n2p0]}" \
	>"$ping_log" 2>&1 &
pinger=$!
on_exit '[[ -z $pinger ]] || kill $pinger 2>/dev/null || true'
t_loss=$EPOCHREALTIME
etcd_kill -9 "${dead[0]}"
etcd_kill -9 "${dead[1]}"
is_degraded()
{
	tstatus_is n1 degraded true
}
if wait_until 25 is_degraded; then
	degraded_s=$(elapsed "$t_loss")
	tap_ok "no quorum: n1's status says degraded $degraded_s s after the quorum was lost"
else
	degraded_s=none
	tap_fail "no quorum: n1's status says degraded within 25 s" "status: $(tstatus n1 2>&1)" \
		"log: $(tlog n1 | tail -5)"
fi
st=$(tstatus n1 2>&1 || true)
tap_like "$(jget "$st" 'd.get("degraded_reason")' 2>&1)" '^etcd degraded: no quorum read answered for [0-9]+ s' \
	"no quorum: status --json gives the reason in degraded_reason" || true
tap_is "$(jget "$st" 'd.get("health")' 2>&1)" degraded "no quorum: status --json health is degraded" || true
# etcd 3.4 keeps serving watches from a member without a leader: the quorum reads tell
tap_diag "no quorum: n1's watches connected to the lone member: $(jget "$st" 'd.get("etcd_connected")' 2>&1)"
txt=$(tctl n1 status 2>&1 || true)
tap_like "$txt" $'(^|\n)Health: +degraded\n' "no quorum: tartanctl status says Health: degraded" || true
tap_like "$txt" $'(^|\n)Why: +etcd degraded: ' "no quorum: tartanctl status says why" || true
tap_is "$(readyz)" 503 "no quorum: /readyz answers 503" || true
tap_like "$(cat "$TARTAN_WORK/readyz.body")" '^not ready: etcd degraded: no quorum read answered for' \
	"no quorum: /readyz gives the reason" || true
tap_check "no quorum: the log says degraded once, with the reason" \
	tlog_has n1 'warning: etcd degraded: .*traffic keeps flowing and nothing is deleted, retrying'
# the rest of the 60 s
now_us=${EPOCHREALTIME//[!0-9]/}
t0_us=${t_loss//[!0-9]/}
left=$((QUORUM_LOSS_S - (now_us - t0_us) / 1000000))
((left <= 0)) || sleep "$left"
tap_is "$(routes84 n1)" "$routes_before1" "no quorum: n1's routes after 60 s are those before" || true
tap_is "$(routes84 n2)" "$routes_before2" "no quorum: n2's routes after 60 s are those before" || true
tap_check "no quorum: n1 still says degraded after 60 s" is_degraded || true
tap_check "no quorum: both daemons still run" bash -c "kill -0 ${TARTAND_PID[n1]} && kill -0 ${TARTAND_PID[n2]}" || true
wait "$pinger" || true
pinger=""
ping_sum=$(grep -E 'packets transmitted' "$ping_log" || true)
tap_like "$ping_sum" '^([0-9]{3}) packets transmitted, \1 received, 0% packet loss' \
	"no quorum: n1p0 pinged n2p0 all through the 60 s with no loss ($ping_sum)" || true
t_back=$EPOCHREALTIME
etcd_restart "${dead[0]}" || tap_bail "could not restart ${dead[0]}"
etcd_restart "${dead[1]}" || tap_bail "could not restart ${dead[1]}"
not_degraded()
{
	tstatus_is n1 degraded false && tstatus_is n1 health ok
}
if wait_until 20 not_degraded; then
	tap_ok "no quorum: n1's status is ok again $(elapsed "$t_back") s after the quorum came back"
else
	tap_fail "no quorum: n1's status is ok again within 20 s of the quorum" "status: $(tstatus n1 2>&1)"
fi
tap_check "no quorum: /readyz answers 200 again" wait_until 5 readyz_is 200 || true
tap_check "no quorum: the log says healthy again" tlog_has n1 'info: etcd healthy again' || true
monitor_stop mon3
monitor_stop mon4
tap_is "$(deleted84 mon3)" "" "no quorum: no tartan route deleted in n1 (ip monitor route)" || true
tap_is "$(deleted84 mon4)" "" "no quorum: no tartan route deleted in n2 (ip monitor route)" || true
late=10.5.${free_octets[25]}.0/24
t_put=$EPOCHREALTIME
ectl put "$(subnet_key "$late")" "$(lease_value 192.0.2.125)" >/dev/null ||
	tap_fail "no quorum: a peer lease can be put after recovery"
if wait_until 5 has_route n1 "$late"; then
	tap_ok "no quorum: a peer lease put after recovery is routed by n1 ($(elapsed "$t_put") s)"
else
	tap_fail "no quorum: a peer lease put after recovery is routed by n1 within 5 s" \
		"routes: $(routes84 n1)"
fi

# ---------------------------------------------------------------------------------------------
# 4. the whole cluster down for longer than the lease TTL

tartand_stop n1 TERM || true
tap_is "$TARTAND_RC" 0 "TTL: n1 stops with exit status 0 on SIGTERM" || true
env_before=$(cat "$TARTAN_WORK/n1/subnet.env")
tartand_start n1 -- --bridge cni0 --resync-interval 2 --subnet-lease-ttl "$TTL" ||
	tap_bail "could not restart tartand in n1"
key1=$(subnet_key "${subnet[n1]}")
short_lease()
{
	local l
	tstatus_is n1 subnet "${subnet[n1]}" || return 1
	l=$(key_lease "$key1") && [[ $l != 0 ]] && [[ $(lease_ttl "$l") == "$TTL "* ]]
}
tap_check "TTL: n1 is back on ${subnet[n1]} with a $TTL s etcd lease" wait_until 20 short_lease || true
t_down=$EPOCHREALTIME
etcd_stop_all -9
sleep $((TTL + 4))
tap_check "TTL: n1 still runs with no etcd at all" tartand_alive n1 || true
tap_check "TTL: n2's route to n1 stays while etcd is away" has_route n2 "${subnet[n1]}" || true
etcd_cluster_restart m || tap_bail "could not start the cluster again"
down_s=$(elapsed "$t_down")
same_subnet()
{
	local v
	tstatus_is n1 subnet "${subnet[n1]}" && tstatus_is n1 etcd_connected true || return 1
	v=$(key_value "$key1") || return 1
	[[ $v == "$(lease_value "${ip[n1]}")" ]]
}
t_up=$EPOCHREALTIME
if wait_until 30 same_subnet; then
	tap_ok "TTL: after $down_s s without etcd n1 holds ${subnet[n1]} again ($(elapsed "$t_up") s after etcd was back)"
else
	tap_fail "TTL: n1 holds ${subnet[n1]} again within 30 s" "status: $(tstatus n1 2>&1)" \
		"key: $(key_value "$key1" 2>&1)"
fi
tap_check "TTL: its key is on a $TTL s lease again" wait_until 10 short_lease || true
tap_is "$(cat "$TARTAN_WORK/n1/subnet.env")" "$env_before" "TTL: subnet.env is unchanged" || true
tap_check "TTL: n2 routes to n1 again" wait_until 10 has_route n2 "${subnet[n1]}" || true
tap_check "TTL: pods on n1 and n2 still reach each other" wait_until 10 pod_ping n1p0 "${pod_ip[n2p0]}" || true
if tlog n1 | grep -qE 'lost|expired|taken'; then
	tap_diag "TTL: the key expired while etcd was back and n1 took it again: $(tlog n1 | grep -E 'lost|expired|taken' | head -2)"
fi
for n in n1 n2; do
	tap_check "$n: still runs" tartand_alive "$n" || true
	tartand_stop "$n" TERM || true
	tap_is "$TARTAND_RC" 0 "$n: exits 0 on SIGTERM" || true
done

tap_done
