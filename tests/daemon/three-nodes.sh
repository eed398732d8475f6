#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/daemon/three-nodes.sh: three tartand nodes, each in its own network namespace, join
# one network through one etcd (in the underlay namespace) exactly as three flanneld nodes
# would (TAP; root).
#
# Asserts: three distinct /24 subnets inside 10.5.0.0/16 (never the first, 10.5.0.0/24,
# which flannel's SubnetMin skips); `etcdctl get --prefix` holds exactly the three keys
# /coreos.com/network/subnets/10.5.X.0-24, with the value flanneld writes for alloc,
# byte for byte ({"PublicIP":"<node>","PublicIPv6":null}), each attached to its own etcd
# lease granted for 86400 s; each subnet.env is flannel's 4 lines for that subnet, byte for
# byte, mode 0644, with FLANNEL_MTU = the node's eth0 MTU (one node has 1400, so the value is
# read, not assumed); `tartanctl status --json` in each node says running, its subnet,
# 2 peers, the right public IP, interface, backend, network, etcd endpoint, a lease expiry
# ~24 h ahead; `tartanctl leases --json` lists all three, its own marked own; the text
# forms of status and leases work too.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/etcd.sh
. "$here/../lib/etcd.sh"
# shellcheck source=tests/lib/netns.sh
. "$here/../lib/netns.sh"
# shellcheck source=tests/lib/tartand.sh
. "$here/../lib/tartand.sh"

tartan_net_setup
nodes=(n1 n2 n3)
declare -A ip=([n1]=192.0.2.11 [n2]=192.0.2.12 [n3]=192.0.2.13) mtu=([n1]=1500 [n2]=1400 [n3]=1500)
declare -A subnet=()
for n in "${nodes[@]}"; do
	netns_node "$n" "${ip[$n]}/24" || tap_bail "could not make node namespace $n"
done
netns_exec n2 ip link set eth0 mtu 1400 || tap_bail "could not set n2's MTU"

tap_check "config put" ectl put "$FLANNEL_PREFIX/config" "$ALLOC_CONFIG"

for n in "${nodes[@]}"; do
	tartand_start "$n" || tap_bail "could not start tartand in $n"
done

# -- every node holds a lease and sees the two others
for n in "${nodes[@]}"; do
	if wait_until 20 tstatus_is "$n" peers 2 && tstatus_is "$n" state running; then
		tap_ok "$n: running with 2 peers"
	else
		tap_fail "$n: running with 2 peers" "expected state running, peers 2 within 20 s" \
			"saw: $(tstatus "$n" 2>&1)" "daemon alive: $(tartand_alive "$n" && echo yes || echo no)"
	fi
	subnet[$n]=$(tstatus "$n" subnet 2>/dev/null || true)
done

# -- three distinct, valid subnets
all_valid=1
for n in "${nodes[@]}"; do
	s=${subnet[$n]}
	if [[ $s =~ ^10\.5\.([0-9]+)\.0/24$ ]] && ((BASH_REMATCH[1] >= 1 && BASH_REMATCH[1] <= 255)); then
		:
	else
		all_valid=0
		tap_diag "$n: subnet '$s' is not 10.5.X.0/24 with 1 <= X <= 255"
	fi
done
if ((all_valid)); then
	tap_ok "each subnet is a /24 of 10.5.0.0/16 between SubnetMin and SubnetMax"
else
	tap_fail "each subnet is a /24 of 10.5.0.0/16 between SubnetMin and SubnetMax" \
		"saw: n1=${subnet[n1]} n2=${subnet[n2]} n3=${subnet[n3]}"
fi
distinct=$(printf '%s\n' "${subnet[@]}" | sort -u | grep -c . || true)
tap_is "$distinct" 3 "the three subnets are distinct (n1=${subnet[n1]} n2=${subnet[n2]} n3=${subnet[n3]})" || true

# -- etcd holds exactly flanneld's keys and values
want_keys=$(for n in "${nodes[@]}"; do subnet_key "${subnet[$n]}"; done | sort)
got_keys=$(ectl get --prefix "$FLANNEL_PREFIX/subnets" --keys-only | grep . | sort || true)
tap_is "$got_keys" "$want_keys" "etcdctl get --prefix shows exactly the three flannel-format keys" || true

want_dump=""
for n in "${nodes[@]}"; do
	want_dump+="$(subnet_key "${subnet[$n]}")"$'\n'"{\"PublicIP\":\"${ip[$n]}\",\"PublicIPv6\":null}"$'\n'
done
# etcdctl prints key and value on alternate lines, in key order
want_dump=$(printf '%s' "$want_dump" | paste -d'\t' - - | sort | tr '\t' '\n')
got_dump=$(ectl get --prefix "$FLANNEL_PREFIX/subnets")
tap_is "$got_dump" "$want_dump" "keys and values are byte-exact flanneld alloc leases" || true

for n in "${nodes[@]}"; do
	key=$(subnet_key "${subnet[$n]}")
	value=$(key_value "$key" || echo "(no key)")
	tap_is "$value" "{\"PublicIP\":\"${ip[$n]}\",\"PublicIPv6\":null}" "$n: value of $key" || true
	lease=$(key_lease "$key" || echo 0)
	if [[ $lease == 0 ]]; then
		tap_fail "$n: $key has an etcd lease of about 24 h" "the key has no etcd lease"
		continue
	fi
	ttl=$(lease_ttl "$lease" || echo "? ?")
	read -r granted remaining <<<"$ttl"
	if [[ $granted == 86400 ]] && ((remaining > 86400 - 300 && remaining <= 86400)); then
		tap_ok "$n: $key has an etcd lease of 24 h (granted $granted s, $remaining s left)"
	else
		tap_fail "$n: $key has an etcd lease of 24 h" \
			"expected granted TTL 86400 s and 86100..86400 s left" "saw: '$ttl' (lease $lease)"
	fi
done
leases_distinct=$(for n in "${nodes[@]}"; do key_lease "$(subnet_key "${subnet[$n]}")" || true; done |
	sort -u | grep -vc '^0$' || true)
tap_is "$leases_distinct" 3 "each key has its own etcd lease" || true

# -- subnet.env, byte for byte
for n in "${nodes[@]}"; do
	f=${TARTAND_DIR[$n]}/subnet.env
	want=$(subnet_env_text 10.5.0.0/16 "${subnet[$n]}" "${mtu[$n]}"; echo x)
	got=$(cat "$f" 2>&1; echo x)
	tap_is "$got" "$want" "$n: subnet.env is flannel's, byte for byte" || true
	tap_is "$(stat -c %a "$f" 2>&1)" 644 "$n: subnet.env has mode 0644" || true
done

# -- tartanctl status and leases
now=$(date +%s)
for n in "${nodes[@]}"; do
	st=$(tstatus "$n" || echo '{}')
	got=$(jget "$st" '" ".join(str(d.get(k)) for k in
		("state", "network", "subnet", "public_ip", "interface", "backend", "mtu", "peers",
		 "etcd_endpoint", "etcd_connected", "subnet_file", "subnet_file_written"))')
	want="running 10.5.0.0/16 ${subnet[$n]} ${ip[$n]} eth0 alloc ${mtu[$n]} 2 $ETCD_ENDPOINT_e True"
	want+=" ${TARTAND_DIR[$n]}/subnet.env True"
	tap_is "$got" "$want" "$n: tartanctl status --json" || true
	expiry=$(jget "$st" 'd.get("lease_expiry")')
	if [[ $expiry =~ ^[0-9]+$ ]] && ((expiry > now + 86400 - 300 && expiry <= now + 86400 + 5)); then
		tap_ok "$n: status lease_expiry is about now + 24 h"
	else
		tap_fail "$n: status lease_expiry is about now + 24 h" \
			"expected a unix time in $((now + 86100))..$((now + 86405))" "saw: $expiry"
	fi

	ls=$(tctl "$n" --json leases || echo '{"leases":[]}')
	got=$(jget "$ls" '"\n".join(sorted("%s %s %s %s" % (l["subnet"], l["public_ip"], l["backend"], l["own"])
		for l in d["leases"]))')
	want=$(for m in "${nodes[@]}"; do
		own=False
		[[ $m == "$n" ]] && own=True
		echo "${subnet[$m]} ${ip[$m]} alloc $own"
	done | sort)
	tap_is "$got" "$want" "$n: tartanctl leases --json lists all three, its own marked" || true

	text=$(tctl "$n" status 2>&1) && rc=0 || rc=$?
	if ((rc == 0)) && [[ $text == *"${subnet[$n]}"* && $text == *running* ]]; then
		tap_ok "$n: tartanctl status (text) shows the state and the subnet"
	else
		tap_fail "$n: tartanctl status (text) shows the state and the subnet" \
			"expected exit 0 and output naming running and ${subnet[$n]}" "saw (exit $rc): $text"
	fi
	text=$(tctl "$n" leases 2>&1) && rc=0 || rc=$?
	missing=""
	for m in "${nodes[@]}"; do
		[[ $text == *"${subnet[$m]}"* ]] || missing+=" ${subnet[$m]}"
	done
	if ((rc == 0)) && [[ -z $missing ]]; then
		tap_ok "$n: tartanctl leases (text) lists the three subnets"
	else
		tap_fail "$n: tartanctl leases (text) lists the three subnets" \
			"missing:${missing:- none}, exit $rc; output:" "$text"
	fi
done

# -- nothing alarming in the logs, and all still running
for n in "${nodes[@]}"; do
	tap_check "$n: tartand still runs" tartand_alive "$n" || true
	bad=$(tlog_errors "$n")
	tap_is "$bad" "" "$n: no error in the log" || true
done

tap_done
