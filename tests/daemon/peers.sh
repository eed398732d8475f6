#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/daemon/peers.sh: leases written by hand with etcdctl, as flanneld nodes write them,
# are peers; malformed ones are skipped; a reservation is honoured (TAP; root).
#
# Before the daemon starts, etcd holds (each valid one with its own etcd lease):
#   - a vxlan lease as flanneld >= 0.18 writes it (BackendType, BackendData with VNI and
#     VtepMAC, PublicIPv6 null),
#   - a vxlan lease as flanneld 0.10 wrote it (no PublicIPv6, BackendData without VNI),
#   - a reservation for this node: a key without an etcd lease whose PublicIP is the node's,
#   - a lease that is not JSON and a key that is not a subnet.
# Once it runs: a host-gw lease (seen through the watch), then a lease with PublicIP 0.0.0.0,
# one outside the network, one overlapping the node's own subnet (10.5.77.128/25) and one
# overlapping a peer's (10.5.202.0/23 over 10.5.202.0/24), then one more valid lease
# (10.5.203.0/24: the watch still works after the bad ones).
#
# Asserts: the daemon takes exactly the reserved subnet, whose key still has no etcd lease
# and the same value afterwards (also after a restart of the daemon); `tartanctl leases
# --json` lists every valid lease with its public IP, backend and VTEP MAC, not own, and
# none of the malformed ones; each malformed one gets a log line naming its key; the daemon
# keeps running and answering; a peer deleted with etcdctl leaves the list.

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

# put_leased KEY VALUE: put with a fresh etcd lease of 600 s, as another node's daemon would
put_leased()
{
	local id
	id=$(ectl lease grant 600 | awk '/granted/ { print $2 }')
	[[ -n $id ]] || return 1
	ectl put "$1" "$2" --lease="$id" >/dev/null
}

# leases_lines NODE: "subnet public_ip backend own vtep_mac" per lease, sorted
leases_lines()
{
	local out
	out=$(tctl "$1" --json leases) || return 1
	jget "$out" '"\n".join(sorted("%s %s %s %s %s" % (l["subnet"], l["public_ip"], l["backend"],
		l["own"], l.get("vtep_mac", "-")) for l in d["leases"]))'
}

# has_lease NODE LINE: leases_lines shows LINE
has_lease()
{
	local out
	# not a pipe into grep -q: under pipefail the writer's SIGPIPE would fail the check
	out=$(leases_lines "$1") || return 1
	grep -qxF -- "$2" <<<"$out"
}

# lacks_subnet NODE SUBNET: no lease for SUBNET is listed
lacks_subnet()
{
	local out
	out=$(leases_lines "$1") || return 1
	! grep -q "^$2 " <<<"$out"
}

VXLAN_NEW='{"PublicIP":"192.0.2.50","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"}}'
VXLAN_OLD='{"PublicIP":"192.0.2.52","BackendType":"vxlan","BackendData":{"VtepMAC":"0a:58:0a:f4:00:01"}}'
HOSTGW='{"PublicIP":"192.0.2.51","PublicIPv6":null,"BackendType":"host-gw"}'
RESERVED='{"PublicIP":"192.0.2.11","PublicIPv6":null}'
LATE='{"PublicIP":"192.0.2.53","PublicIPv6":null,"BackendType":"host-gw"}'
BAD_JSON_KEY=$P/subnets/10.5.210.0-24
BAD_NAME_KEY=$P/subnets/garbage
ZERO_IP_KEY=$P/subnets/10.5.211.0-24
OUTSIDE_KEY=$P/subnets/10.6.1.0-24
OVERLAP_KEY=$P/subnets/10.5.77.128-25
OVERLAP_PEERS_KEY=$P/subnets/10.5.202.0-23

tap_check "config put" ectl put "$P/config" "$ALLOC_CONFIG"
tap_check "vxlan lease (flanneld >= 0.18 format) put" put_leased "$P/subnets/10.5.200.0-24" "$VXLAN_NEW"
tap_check "vxlan lease (flanneld 0.10 format) put" put_leased "$P/subnets/10.5.202.0-24" "$VXLAN_OLD"
tap_check "reservation for 192.0.2.11 put without an etcd lease" \
	ectl put "$P/subnets/10.5.77.0-24" "$RESERVED"
tap_check "lease that is not JSON put" put_leased "$BAD_JSON_KEY" '{"PublicIP":"192.0.2.60",'
tap_check "key that is not a subnet put" put_leased "$BAD_NAME_KEY" \
	'{"PublicIP":"192.0.2.61","PublicIPv6":null}'

tartand_start n1 || tap_bail "could not start tartand"

# -- the reservation
if wait_until 20 tstatus_is n1 state running; then
	tap_ok "tartand runs"
else
	tap_fail "tartand runs" "expected state running within 20 s" "saw: $(tstatus n1 2>&1)"
fi
tap_is "$(tstatus n1 subnet 2>&1)" 10.5.77.0/24 "the daemon took exactly the reserved subnet" || true
tap_is "$(cat "${TARTAND_DIR[n1]}/subnet.env" 2>&1)" \
	"$(subnet_env_text 10.5.0.0/16 10.5.77.0/24 1500)" "subnet.env has the reserved subnet" || true
sleep 1
tap_is "$(key_lease "$P/subnets/10.5.77.0-24" 2>&1)" 0 \
	"the reservation's key still has no etcd lease (etcdctl get -w json)" || true
tap_is "$(key_value "$P/subnets/10.5.77.0-24" 2>&1)" "$RESERVED" "the reservation's value is unchanged" || true
n_own=$(ectl get --prefix "$P/subnets" --print-value-only | grep -c '"PublicIP":"192.0.2.11"' || true)
tap_is "$n_own" 1 "no other lease was made for 192.0.2.11" || true

# -- peers from the list
want_new="10.5.200.0/24 192.0.2.50 vxlan False c6:d2:32:6f:8f:44"
want_old="10.5.202.0/24 192.0.2.52 vxlan False 0a:58:0a:f4:00:01"
if wait_until 10 has_lease n1 "$want_new"; then
	tap_ok "vxlan lease in flanneld >= 0.18 format is a peer (VtepMAC read)"
else
	tap_fail "vxlan lease in flanneld >= 0.18 format is a peer (VtepMAC read)" \
		"expected the line: $want_new" "saw:" "$(leases_lines n1 2>&1)"
fi
if has_lease n1 "$want_old"; then
	tap_ok "vxlan lease in flanneld 0.10 format (no PublicIPv6, no VNI) is a peer"
else
	tap_fail "vxlan lease in flanneld 0.10 format (no PublicIPv6, no VNI) is a peer" \
		"expected the line: $want_old" "saw:" "$(leases_lines n1 2>&1)"
fi

# -- peers from the watch
tap_check "host-gw lease put while the daemon runs" put_leased "$P/subnets/10.5.201.0-24" "$HOSTGW"
want_hgw="10.5.201.0/24 192.0.2.51 host-gw False -"
if wait_until 10 has_lease n1 "$want_hgw"; then
	tap_ok "host-gw lease put later is seen as a peer"
else
	tap_fail "host-gw lease put later is seen as a peer" "expected the line: $want_hgw" \
		"saw:" "$(leases_lines n1 2>&1)"
fi

tap_check "lease with PublicIP 0.0.0.0 put" put_leased "$ZERO_IP_KEY" '{"PublicIP":"0.0.0.0","PublicIPv6":null}'
tap_check "lease outside the network put" put_leased "$OUTSIDE_KEY" '{"PublicIP":"192.0.2.62","PublicIPv6":null}'
tap_check "lease overlapping the node's own subnet put" put_leased "$OVERLAP_KEY" \
	'{"PublicIP":"192.0.2.63","PublicIPv6":null}'
tap_check "lease overlapping a peer's subnet put" put_leased "$OVERLAP_PEERS_KEY" \
	'{"PublicIP":"192.0.2.64","PublicIPv6":null}'
tap_check "one more valid lease put after the bad ones" put_leased "$P/subnets/10.5.203.0-24" "$LATE"
want_late="10.5.203.0/24 192.0.2.53 host-gw False -"
if wait_until 10 has_lease n1 "$want_late"; then
	tap_ok "a valid lease after the malformed ones is still seen (the watch goes on)"
else
	tap_fail "a valid lease after the malformed ones is still seen (the watch goes on)" \
		"expected the line: $want_late" "saw:" "$(leases_lines n1 2>&1)"
fi

# -- malformed ones: skipped, each named in the log, daemon up
tap_check "tartand still runs after the malformed leases" tartand_alive n1 || true
tap_check "tartand still answers status" tstatus n1 || true
want_list=$(printf '%s\n' "10.5.77.0/24 192.0.2.11 alloc True -" "$want_new" "$want_hgw" "$want_old" \
	"$want_late" | sort)
tap_is "$(leases_lines n1 2>&1)" "$want_list" \
	"tartanctl leases --json: exactly the own lease and the four valid peers" || true
tap_is "$(tstatus n1 peers 2>&1)" 4 "status counts 4 peers" || true
tap_is "$(tstatus n1 subnet 2>&1)" 10.5.77.0/24 "the overlapping lease did not move the node off its subnet" || true
for key in "$BAD_JSON_KEY" "$BAD_NAME_KEY" "$ZERO_IP_KEY" "$OUTSIDE_KEY" "$OVERLAP_KEY" \
	"$OVERLAP_PEERS_KEY"; do
	n=$(tlog n1 | grep -cF -- "$key" || true)
	if ((n >= 1)); then
		tap_ok "the log names the skipped key $key"
	else
		tap_fail "the log names the skipped key $key" \
			"expected a log line containing $key; log of this run:" "$(tlog n1 | tail -n 30)"
	fi
done

# -- a peer deleted by hand leaves the list (the DELETE event carries no value)
tap_check "vxlan peer deleted with etcdctl" ectl del "$P/subnets/10.5.200.0-24"
if wait_until 10 lacks_subnet n1 10.5.200.0/24; then
	tap_ok "the deleted peer leaves tartanctl leases"
else
	tap_fail "the deleted peer leaves tartanctl leases" "saw:" "$(leases_lines n1 2>&1)"
fi

# -- the reservation survives a restart of the daemon
tartand_stop n1 TERM || true
tap_is "$TARTAND_RC" 0 "SIGTERM: exit status 0" || true
tartand_start n1 || tap_bail "could not restart tartand"
if wait_until 20 tstatus_is n1 state running; then
	tap_is "$(tstatus n1 subnet 2>&1)" 10.5.77.0/24 "after a restart the daemon takes the reserved subnet again" || true
else
	tap_fail "after a restart the daemon takes the reserved subnet again" \
		"expected state running within 20 s" "saw: $(tstatus n1 2>&1)"
fi
sleep 1
tap_is "$(key_lease "$P/subnets/10.5.77.0-24" 2>&1)" 0 "after the restart the reservation still has no etcd lease" || true
tap_is "$(key_value "$P/subnets/10.5.77.0-24" 2>&1)" "$RESERVED" "after the restart its value is unchanged" || true

tap_done
