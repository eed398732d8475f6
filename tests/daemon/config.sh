#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/daemon/config.sh: a daemon started before the network config exists waits for it,
# reports bad configs and waits them out, joins when a valid one appears, and stops cleanly
# on SIGTERM and SIGINT (TAP; root).
#
# Asserts, in order:
#  - no config: the log says it waits for <prefix>/config, status is waiting-for-config, no
#    lease key, no subnet.env;
#  - {"Network":"10.5.0.0/29"} (too small): reported in the log (the reason named), the
#    daemon keeps waiting (state, no key, no subnet.env) and stays up;
#  - the valid alloc config: the daemon acquires a lease (running, key in etcd, subnet.env);
#  - SIGTERM: exit status 0 within 5 s, the control socket is gone, the lease key stays in
#    etcd with its etcd lease still alive (not revoked), subnet.env stays;
#  - started again, it takes the same subnet; SIGINT: exit status 0 too;
#  - a second daemon, on a second prefix: {"Network":"10.6.0.0/16"} (no Backend, which is
#    udp for flannel), then Backend udp, then Backend without Type: each reported and waited
#    out as above (tartan has no udp backend: these are bad configs for it, as the issue says);
#    then the valid config is picked up without a restart; SIGTERM: exit status 0.

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

no_subnet_keys()
{
	[[ -z $(ectl get --prefix "$P/subnets" --keys-only) ]]
}

# still_waiting WHAT: the daemon runs, says waiting-for-config, holds nothing
still_waiting()
{
	local what=$1
	tap_check "$what: tartand still runs" tartand_alive n1 || true
	tap_is "$(tstatus n1 state 2>&1)" waiting-for-config "$what: state waiting-for-config" || true
	tap_check "$what: no lease key in etcd" no_subnet_keys || true
	tap_check_fails "$what: no subnet.env" test -e "${TARTAND_DIR[n1]}/subnet.env" || true
}

# log_reports WHAT REGEX: a new log line (after line FROM) matches REGEX, within 10 s
log_reports()
{
	local what=$1 re=$2
	if wait_until 10 bash -c 'tail -n "+$1" "$2" | grep -Eq -- "$3"' _ "$from" \
		"${TARTAND_LOG[n1]}" "$re"; then
		tap_ok "$what is reported in the log"
	else
		tap_fail "$what is reported in the log" "expected a new line matching: $re" \
			"new log lines:" "$(tail -n "+$from" "${TARTAND_LOG[n1]}")"
	fi
}

# -- no config yet
tartand_start n1 || tap_bail "could not start tartand"
if wait_until 10 tlog_has n1 "$P/config"; then
	tap_ok "no config: the log names the key it waits for"
else
	tap_fail "no config: the log names the key it waits for" "expected a line with $P/config; log:" \
		"$(tlog n1)"
fi
wait_until 10 tstatus n1 || true
still_waiting "no config"

# -- a bad config, waited out
from=$(($(wc -l <"${TARTAND_LOG[n1]}") + 1))
tap_check "config with a /29 network put" ectl put "$P/config" '{"Network":"10.5.0.0/29"}'
log_reports "the /29 network" '10\.5\.0\.0/29|too small|/28'
still_waiting "/29 network"

# -- the valid config
tap_check "valid alloc config put" ectl put "$P/config" "$ALLOC_CONFIG"
if wait_until 10 tstatus_is n1 state running; then
	tap_ok "the valid config is picked up: running"
else
	tap_fail "the valid config is picked up: running" "saw: $(tstatus n1 2>&1)"
	tap_diag "restarting tartand so that the SIGTERM checks below can run"
	tartand_stop n1 KILL || true
	tartand_start n1 || tap_bail "could not restart tartand"
	wait_until 10 tstatus_is n1 state running || true
fi
s1=$(tstatus n1 subnet 2>/dev/null || true)
tap_like "$s1" '^10\.5\.[0-9]+\.0/24$' "it holds a subnet of 10.5.0.0/16" || true
key=$(subnet_key "$s1")
tap_is "$(key_value "$key" 2>&1)" '{"PublicIP":"192.0.2.11","PublicIPv6":null}' "its key $key is in etcd" || true
if wait_until 5 test -e "${TARTAND_DIR[n1]}/subnet.env"; then
	tap_is "$(cat "${TARTAND_DIR[n1]}/subnet.env")" "$(subnet_env_text 10.5.0.0/16 "$s1" 1500)" \
		"subnet.env written" || true
else
	tap_fail "subnet.env written" "no ${TARTAND_DIR[n1]}/subnet.env after 5 s"
fi
lease=$(key_lease "$key" 2>/dev/null || echo 0)

# -- SIGTERM
if tartand_stop n1 TERM 5; then
	tap_ok "SIGTERM: tartand exits within 5 s"
else
	tap_fail "SIGTERM: tartand exits within 5 s" "it had to be SIGKILLed"
fi
tap_is "$TARTAND_RC" 0 "SIGTERM: exit status 0" || true
tap_check_fails "SIGTERM: the control socket is removed" test -e "${TARTAND_SOCK[n1]}" || true
tap_is "$(key_value "$key" 2>&1)" '{"PublicIP":"192.0.2.11","PublicIPv6":null}' \
	"SIGTERM: the lease key stays in etcd" || true
ttl=$(lease_ttl "$lease" 2>&1 || true)
if [[ $lease != 0 && $ttl =~ ^86400\ ([0-9]+)$ ]] && ((BASH_REMATCH[1] > 86000)); then
	tap_ok "SIGTERM: its etcd lease is not revoked ($ttl)"
else
	tap_fail "SIGTERM: its etcd lease is not revoked" "lease $lease: '$ttl'"
fi
tap_check "SIGTERM: subnet.env stays" test -s "${TARTAND_DIR[n1]}/subnet.env" || true

# -- again, then SIGINT
tartand_start n1 || tap_bail "could not restart tartand"
if wait_until 10 tstatus_is n1 state running; then
	tap_is "$(tstatus n1 subnet 2>&1)" "$s1" "restarted: the config is read at start, same subnet" || true
else
	tap_fail "restarted: running with the same subnet" "saw: $(tstatus n1 2>&1)"
fi
tartand_stop n1 INT 5 || true
tap_is "$TARTAND_RC" 0 "SIGINT: exit status 0" || true
tap_check "SIGINT: the lease key stays in etcd" key_exists "$key" || true

# -- configs flannel accepts but tartan cannot run (udp): reported and waited out too
P=/cfg2/network
tartand_start n1 --dir "$TARTAN_WORK/n1-cfg2" --prefix "$P" || tap_bail "could not start tartand"
wait_until 10 tlog_has n1 "$P/config" || true
still_waiting "second prefix, no config"
for bad in '{"Network":"10.6.0.0/16"}|no Backend (udp)|[Uu][Dd][Pp]' \
	'{"Network":"10.6.0.0/16","Backend":{"Type":"udp"}}|Backend udp|[Uu][Dd][Pp]' \
	'{"Network":"10.6.0.0/16","Backend":{}}|Backend without Type|[Bb]ackend'; do
	IFS='|' read -r value what re <<<"$bad"
	from=$(($(wc -l <"${TARTAND_LOG[n1]}") + 1))
	tap_check "config with $what put" ectl put "$P/config" "$value"
	log_reports "$what" "$re"
	still_waiting "$what"
done
tap_check "valid alloc config put after them" ectl put "$P/config" \
	'{"Network":"10.6.0.0/16","Backend":{"Type":"alloc"}}'
if wait_until 10 tstatus_is n1 state running; then
	tap_ok "after the udp configs the valid one is picked up: running"
else
	tap_fail "after the udp configs the valid one is picked up: running" \
		"expected state running within 10 s" "saw: $(tstatus n1 2>&1)" "log of this run:" "$(tlog n1)"
fi
tap_like "$(tstatus n1 subnet 2>&1)" '^10\.6\.[0-9]+\.0/24$' "it holds a subnet of 10.6.0.0/16" || true
tartand_stop n1 TERM 5 || true
tap_is "$TARTAND_RC" 0 "SIGTERM: exit status 0" || true

tap_done
