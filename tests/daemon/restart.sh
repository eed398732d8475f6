#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/daemon/restart.sh: a node keeps its subnet through a SIGKILL of the daemon, a SIGKILL
# of etcd, and its key being deleted by hand (TAP; root).
#
# Two nodes, n1 (the one disturbed) and n2 (a peer watching it).
#  1. tartand in n1 is SIGKILLed and started again: same subnet (status, subnet.env, etcd),
#     still one key for its public IP, n2 still sees it.
#  2. etcd is SIGKILLed: n1's daemon stays up, answers status and reports etcd_connected
#     false; n1's eth0 is set down (no route to etcd); etcd restarts on the same data dir
#     and port; a new peer lease is put and an existing peer lease deleted while n1 is still
#     cut off (events it can only get by resuming its watch or re-listing); n1's eth0 is set
#     up again: both daemons reconnect (etcd_connected true), see both changes, n1 keeps its
#     subnet and its key.
#  3. n1's key is deleted with etcdctl: within 10 s the same subnet is back in etcd, with
#     flanneld's value and a fresh 24 h etcd lease, without a restart of the daemon; n2 sees
#     it again.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/etcd.sh
. "$here/../lib/etcd.sh"
# shellcheck source=tests/lib/netns.sh
. "$here/../lib/netns.sh"
# shellcheck source=tests/lib/tartand.sh
. "$here/../lib/tartand.sh"

P=$FLANNEL_PREFIX
tartan_net_setup
netns_node n1 192.0.2.11/24 || tap_bail "could not make node namespace n1"
netns_node n2 192.0.2.12/24 || tap_bail "could not make node namespace n2"

put_leased()
{
	local id
	id=$(ectl lease grant 600 | awk '/granted/ { print $2 }')
	[[ -n $id ]] || return 1
	ectl put "$1" "$2" --lease="$id" >/dev/null
}

# has_subnet NODE SUBNET / lacks_subnet NODE SUBNET: tartanctl leases lists it or not
has_subnet()
{
	local out
	# not a pipe into grep -q: under pipefail the writer's SIGPIPE would fail the check
	out=$(tleases "$1") || return 1
	grep -qxF -- "$2" <<<"$out"
}
lacks_subnet()
{
	local out
	out=$(tleases "$1") || return 1
	! grep -qxF -- "$2" <<<"$out"
}

# check_own NODE SUBNET WHAT: the node holds SUBNET: status, subnet.env, its etcd key
check_own()
{
	local node=$1 s=$2 what=$3 key value lease
	key=$(subnet_key "$s")
	tap_is "$(tstatus "$node" subnet 2>&1)" "$s" "$what: status shows the same subnet" || true
	tap_is "$(cat "${TARTAND_DIR[$node]}/subnet.env" 2>&1)" "$(subnet_env_text 10.5.0.0/16 "$s" 1500)" \
		"$what: subnet.env unchanged" || true
	value=$(key_value "$key" 2>&1 || true)
	tap_is "$value" "{\"PublicIP\":\"${NETNS_ADDR[$node]}\",\"PublicIPv6\":null}" \
		"$what: $key holds the node's lease" || true
	lease=$(key_lease "$key" 2>/dev/null || echo 0)
	if [[ $lease != 0 ]] && [[ $(lease_ttl "$lease" 2>&1) =~ ^86400\ ([0-9]+)$ ]] &&
		((BASH_REMATCH[1] > 86000)); then
		tap_ok "$what: $key has a live 24 h etcd lease"
	else
		tap_fail "$what: $key has a live 24 h etcd lease" \
			"saw lease '$lease', ttl '$(lease_ttl "$lease" 2>&1)'"
	fi
	n=$(ectl get --prefix "$P/subnets" --print-value-only |
		grep -c "\"PublicIP\":\"${NETNS_ADDR[$node]}\"" || true)
	tap_is "$n" 1 "$what: exactly one key holds ${NETNS_ADDR[$node]}" || true
}

tap_check "config put" ectl put "$P/config" "$ALLOC_CONFIG"
tap_check "peer lease A put" put_leased "$P/subnets/10.5.240.0-24" \
	'{"PublicIP":"192.0.2.40","PublicIPv6":null}'
tartand_start n1 || tap_bail "could not start tartand in n1"
tartand_start n2 || tap_bail "could not start tartand in n2"
for n in n1 n2; do
	if wait_until 20 tstatus_is "$n" peers 2; then
		tap_ok "$n: running with 2 peers"
	else
		tap_fail "$n: running with 2 peers" "saw: $(tstatus "$n" 2>&1)"
	fi
done
s1=$(tstatus n1 subnet 2>/dev/null || true)
[[ $s1 =~ ^10\.5\.[0-9]+\.0/24$ ]] || tap_bail "n1 has no subnet (status subnet '$s1')"
tap_diag "n1 holds $s1"

# -- 1. SIGKILL of the daemon
pid_before=${TARTAND_PID[n1]}
tartand_stop n1 KILL || true
tap_is "$TARTAND_RC" 137 "n1's tartand killed with SIGKILL" || true
tap_check "its key outlives the daemon" key_exists "$(subnet_key "$s1")" || true
tartand_start n1 || tap_bail "could not restart tartand in n1"
if wait_until 20 tstatus_is n1 state running; then
	tap_ok "n1 runs again (pid $pid_before -> ${TARTAND_PID[n1]})"
else
	tap_fail "n1 runs again" "saw: $(tstatus n1 2>&1)"
fi
check_own n1 "$s1" "after SIGKILL and restart"
if wait_until 10 tstatus_is n1 peers 2; then
	tap_ok "after SIGKILL and restart: n1 sees its 2 peers"
else
	tap_fail "after SIGKILL and restart: n1 sees its 2 peers" "saw: $(tstatus n1 2>&1)"
fi
tap_check "n2 still lists n1's subnet" has_subnet n2 "$s1" || true

# -- 2. SIGKILL of etcd
etcd_kill -9 e || tap_bail "could not kill etcd"
if wait_until 10 tstatus_is n1 etcd_connected false; then
	tap_ok "etcd killed: n1 reports etcd_connected false"
else
	tap_fail "etcd killed: n1 reports etcd_connected false" "saw: $(tstatus n1 2>&1)"
fi
# n1 is also cut off from the underlay (its eth0 down: no route to etcd) until the peer
# events below are written, so that it can only learn them by resuming its watch from the
# last revision it saw or by re-listing; n2 stays connected and may come back at once.
tap_check "n1 cut off from the underlay (eth0 down)" netns_exec n1 ip link set eth0 down
sleep 2
tap_check "etcd down: n1's tartand still runs" tartand_alive n1 || true
tap_is "$(tstatus n1 subnet 2>&1)" "$s1" "etcd down: status still answers with the subnet" || true
etcd_restart e || tap_bail "could not restart etcd"
tap_check "etcd back: peer lease B put" put_leased "$P/subnets/10.5.241.0-24" \
	'{"PublicIP":"192.0.2.41","PublicIPv6":null}'
tap_check "etcd back: peer lease A deleted" ectl del "$P/subnets/10.5.240.0-24"
tap_is "$(tstatus n1 etcd_connected 2>&1)" false \
	"n1 was still away from etcd when the two events were written" || true
tap_diag "n2 etcd_connected=$(tstatus n2 etcd_connected 2>&1) after the two events"
tap_check "n1 back on the underlay (eth0 up)" netns_exec n1 ip link set eth0 up
for n in n1 n2; do
	when="while it was away"
	[[ $n == n1 ]] || when="right after etcd came back"
	if wait_until 20 tstatus_is "$n" etcd_connected true; then
		tap_ok "$n reconnects to etcd (etcd_connected true)"
	else
		tap_fail "$n reconnects to etcd (etcd_connected true)" "saw: $(tstatus "$n" 2>&1)"
	fi
	if wait_until 10 has_subnet "$n" 10.5.241.0/24; then
		tap_ok "$n sees peer B, put $when"
	else
		tap_fail "$n sees peer B, put $when" "saw:" "$(tleases "$n" 2>&1)"
	fi
	if wait_until 10 lacks_subnet "$n" 10.5.240.0/24; then
		tap_ok "$n drops peer A, deleted $when"
	else
		tap_fail "$n drops peer A, deleted $when" "saw:" "$(tleases "$n" 2>&1)"
	fi
done
check_own n1 "$s1" "after etcd's SIGKILL"
tap_check "n1's tartand never stopped" tartand_alive n1 || true

# -- 3. its key deleted by hand
key=$(subnet_key "$s1")
tap_check "n1's key deleted with etcdctl" ectl del "$key"
t0=$SECONDS
if wait_until 10 key_exists "$key"; then
	tap_ok "the same subnet's key is back within $((SECONDS - t0 + 1)) s (limit 10 s)"
else
	tap_fail "the same subnet's key is back within 10 s" "keys now:" \
		"$(ectl get --prefix "$P/subnets" 2>&1)"
fi
check_own n1 "$s1" "after its key was deleted"
tap_is "${TARTAND_PID[n1]}" "$(tartand_alive n1 && echo "${TARTAND_PID[n1]}")" \
	"n1's tartand did not exit (pid ${TARTAND_PID[n1]})" || true
if wait_until 10 has_subnet n2 "$s1"; then
	tap_ok "n2 lists n1's subnet again"
else
	tap_fail "n2 lists n1's subnet again" "saw:" "$(tleases n2 2>&1)"
fi
for n in n1 n2; do
	tap_check "$n: tartand still runs" tartand_alive "$n" || true
done

tap_done
