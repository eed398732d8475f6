#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/daemon/etcd-tls.sh: tartand and tartanctl against etcd with TLS and client
# certificates, and against etcd with user/password authentication; wrong credentials fail
# with a clear message and retries, never an exit or a crash (TAP; root).
#
# Certificates come from tests/lib/etcd.sh's etcd_pki_make (openssl, in a temp dir): a CA,
# a server certificate for 192.0.2.254, a client certificate, a second unrelated CA and a
# client certificate that expired in 2020. In the underlay namespace run two etcds: 'tls'
# serves clients on https:// only and requires a certificate of the CA (--client-cert-auth),
# 'auth' serves http:// with authentication on, and a user tartan (password pw-right) whose
# role may read and write the flannel prefix, and nothing else.
#
#  - n1 (TLS: --etcd-cafile, --etcd-certfile, --etcd-keyfile) and n2 (auth: --etcd-username,
#    --etcd-password) each get a lease: state running, the subnet key in etcd with the node's
#    PublicIP; `tartanctl status` says connected, `tartanctl leases` lists the lease and
#    `tartanctl network get` reads the config with the same flags.
#  - n3 trusts the wrong CA (the other one), n4 shows the expired certificate, n5 gives a
#    wrong password: each keeps running for 8 s (no exit, no crash), holds no lease, writes
#    nothing into etcd, and its log says why (curl's or etcd's words: the certificate, the
#    password) and that it retries. Then they are set right without a restart: n3's and
#    n4's files are replaced by the right ones (curl reads them on every connection), n5's
#    user gets the password n5 has; each then gets its lease within 30 s by itself.
#  - tartanctl network get with the wrong CA, the expired certificate or the wrong password
#    fails (exit status 4 or 1) with a message.
#  - TLS files with an http:// endpoint: tartand refuses to start (exit status 2, "TLS needs
#    https:// etcd endpoints"): it never talks plain text when told to use TLS.

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

P=$FLANNEL_PREFIX
PASSWORD=pw-right

netns_require
for b in TARTAND TARTANCTL; do
	[[ -n ${!b:-} && -x ${!b} ]] || tap_bail "$b is not set to an executable (meson sets it)"
done
command -v "$ETCDCTL" >/dev/null 2>&1 || tap_bail "$ETCDCTL not found (etcd-client)"
tmpdir_new TARTAN_WORK || tap_bail "mktemp failed"
pki=""
tmpdir_new pki || tap_bail "mktemp failed"
etcd_pki_make "$pki" "$NETNS_UNDERLAY_IP"
netns_underlay u || tap_bail "could not make the underlay namespace"
on_exit _tartand_on_exit

ETCD_CLIENT_SCHEME=https ETCD_CLIENT_CACERT=$pki/ca.crt ETCD_CLIENT_CERT=$pki/client.crt \
	ETCD_CLIENT_KEY=$pki/client.key ETCD_NETNS=${NETNS[u]} ETCD_LISTEN_IP=$NETNS_UNDERLAY_IP \
	etcd_start tls -- --cert-file "$pki/server.crt" --key-file "$pki/server.key" \
	--client-cert-auth --trusted-ca-file "$pki/ca.crt" ||
	tap_bail "could not start etcd with TLS and client certificates"
ETCD_NETNS=${NETNS[u]} ETCD_LISTEN_IP=$NETNS_UNDERLAY_IP etcd_start auth ||
	tap_bail "could not start the etcd for authentication"
tap_like "$ETCD_ENDPOINT_tls" '^https://192\.0\.2\.254:[0-9]+$' "etcd 'tls' serves https://" || true

tls_flags=(--etcd-cafile "$pki/ca.crt" --etcd-certfile "$pki/client.crt"
	--etcd-keyfile "$pki/client.key")

ectl_tls()
{
	ip netns exec "${NETNS[u]}" env ETCDCTL_API=3 "$ETCDCTL" --endpoints "$ETCD_ENDPOINT_tls" \
		--cacert "$pki/ca.crt" --cert "$pki/client.crt" --key "$pki/client.key" \
		--dial-timeout 2s --command-timeout 5s "$@"
}

ectl_auth()
{
	ip netns exec "${NETNS[u]}" env ETCDCTL_API=3 "$ETCDCTL" --endpoints "$ETCD_ENDPOINT_auth" \
		--dial-timeout 2s --command-timeout 5s "$@"
}

# authentication: root, and tartan with read-write on the prefix only
{
	ectl_auth user add root:root-pw &&
		ectl_auth role add flannel &&
		ectl_auth role grant-permission --prefix=true flannel readwrite "$P/" &&
		ectl_auth user add "tartan:$PASSWORD" &&
		ectl_auth user grant-role tartan flannel &&
		ectl_auth auth enable &&
		ectl_auth --user root:root-pw put "$P/config" "$ALLOC_CONFIG"
} >"$TARTAN_WORK/auth-setup.log" 2>&1 || tap_bail "setting up etcd auth failed: $(cat "$TARTAN_WORK/auth-setup.log")"
ectl_tls put "$P/config" "$ALLOC_CONFIG" >/dev/null || tap_bail "could not put the config over TLS"
tap_check_fails "etcd 'auth' refuses a client without a password" ectl_auth get "$P/config"

# node NAME: namespace NAME on the underlay at 192.0.2.(10+N)
declare -A ip=([n1]=192.0.2.11 [n2]=192.0.2.12 [n3]=192.0.2.13 [n4]=192.0.2.14 [n5]=192.0.2.15
	[n6]=192.0.2.16)
for n in n1 n2 n3 n4 n5 n6; do
	netns_node "$n" "${ip[$n]}/24" || tap_bail "could not make node $n"
done

# start NODE ENDPOINT FLAGS...: tartand on ENDPOINT
start()
{
	local n=$1
	ETCD_ENDPOINT_e=$2
	shift 2
	tartand_start "$n" -- "$@" || tap_bail "could not start tartand in $n"
}

# has_lease NODE GETTER: the node's status has a subnet whose key in etcd names its PublicIP
has_lease()
{
	local n=$1 s v
	tstatus_is "$n" state running || return 1
	s=$(tstatus "$n" subnet) || return 1
	v=$("$2" get "$(subnet_key "$s")" --print-value-only) || return 1
	[[ $v == *"\"PublicIP\":\"${ip[$n]}\""* ]]
}

# keys_of GETTER IP: the subnet keys in etcd naming IP
keys_of()
{
	"$2" get --prefix "$P/subnets/" 2>/dev/null | grep -c "\"PublicIP\":\"$1\"" || true
}

ectl_auth_root()
{
	ectl_auth --user root:root-pw "$@"
}

works()
{
	local n=$1 getter=$2 what=$3 out
	shift 3
	if wait_until 30 has_lease "$n" "$getter"; then
		tap_ok "$what: $n gets a lease ($(tstatus "$n" subnet)), its key is in etcd"
	else
		tap_fail "$what: $n gets a lease within 30 s" "status: $(tstatus "$n" 2>&1)" \
			"log: $(tlog "$n" | tail -5)"
		return 0
	fi
	tap_check "$what: tartanctl status says connected" wait_until 10 tstatus_is "$n" etcd_connected true || true
	out=$(tctl "$n" leases 2>&1 || true)
	tap_like "$out" "$(tstatus "$n" subnet | sed 's/\./\\./g')" "$what: tartanctl leases lists the lease" ||
		true
	out=$(tctl "$n" --json network get "$@" 2>&1 || true)
	tap_like "$out" '"network": *"10\.5\.0\.0/16"' "$what: tartanctl network get reads the config" ||
		true
}

# --- the right credentials -------------------------------------------------------------------
start n1 "$ETCD_ENDPOINT_tls" "${tls_flags[@]}"
start n2 "$ETCD_ENDPOINT_auth" --etcd-username tartan --etcd-password "$PASSWORD"
works n1 ectl_tls "TLS" --etcd-endpoints "$ETCD_ENDPOINT_tls" "${tls_flags[@]}"
works n2 ectl_auth_root "auth" --etcd-endpoints "$ETCD_ENDPOINT_auth" --etcd-username tartan \
	--etcd-password "$PASSWORD"

# --- wrong credentials: clear message, retries, no exit; then set right ----------------------
cp "$pki/other.crt" "$TARTAN_WORK/n3-ca.crt"
cp "$pki/expired.crt" "$TARTAN_WORK/n4.crt"
cp "$pki/expired.key" "$TARTAN_WORK/n4.key"
start n3 "$ETCD_ENDPOINT_tls" --etcd-cafile "$TARTAN_WORK/n3-ca.crt" \
	--etcd-certfile "$pki/client.crt" --etcd-keyfile "$pki/client.key"
start n4 "$ETCD_ENDPOINT_tls" --etcd-cafile "$pki/ca.crt" --etcd-certfile "$TARTAN_WORK/n4.crt" \
	--etcd-keyfile "$TARTAN_WORK/n4.key"
start n5 "$ETCD_ENDPOINT_auth" --etcd-username tartan --etcd-password pw-wrong
sleep 8
declare -A why=(
	[n3]='certificate|issuer|verify'
	[n4]='certificate|alert|handshake|SSL|TLS|Recv failure|reset'
	[n5]='authentication failed|invalid user ID or password'
)
declare -A what=([n3]="wrong CA" [n4]="expired certificate" [n5]="wrong password")
declare -A getter=([n3]=ectl_tls [n4]=ectl_tls [n5]=ectl_auth_root)
for n in n3 n4 n5; do
	tap_check "${what[$n]}: $n still runs after 8 s" tartand_alive "$n" || true
	tap_is "$(tstatus "$n" state 2>&1)" waiting-for-config "${what[$n]}: $n waits (state waiting-for-config)" ||
		tap_diag "status: $(tstatus "$n" 2>&1)"
	tap_is "$(keys_of "${ip[$n]}" "${getter[$n]}")" 0 "${what[$n]}: $n wrote no lease" || true
	line=$(tlog "$n" | grep -E "${why[$n]}" | head -1 || true)
	tap_like "$line" "(${why[$n]}).*retrying|retrying.*(${why[$n]})" \
		"${what[$n]}: $n's log says why and that it retries" || tap_diag "log: $(tlog "$n")"
	tap_is "$(tlog "$n" | grep -cE 'AddressSanitizer|runtime error|Segmentation' || true)" 0 \
		"${what[$n]}: no crash report in $n's log" || true
done
tap_diag "wrong CA: $(tlog n3 | grep -E "${why[n3]}" | head -1)"
tap_diag "expired certificate: $(tlog n4 | grep -E "${why[n4]}" | head -1)"
tap_diag "wrong password: $(tlog n5 | grep -E "${why[n5]}" | head -1)"

out=$(netns_exec n3 "$TARTANCTL" network get --etcd-endpoints "$ETCD_ENDPOINT_tls" \
	--etcd-cafile "$pki/other.crt" --etcd-certfile "$pki/client.crt" \
	--etcd-keyfile "$pki/client.key" 2>&1) && rc=0 || rc=$?
tap_like "$rc $out" '^[14] .*(certificate|SSL|issuer)' "wrong CA: tartanctl network get fails and says why" || true
out=$(netns_exec n4 "$TARTANCTL" network get --etcd-endpoints "$ETCD_ENDPOINT_tls" \
	--etcd-cafile "$pki/ca.crt" --etcd-certfile "$pki/expired.crt" \
	--etcd-keyfile "$pki/expired.key" 2>&1) && rc=0 || rc=$?
tap_like "$rc $out" '^[14] .*https://' "expired certificate: tartanctl network get fails and names etcd" || true
out=$(netns_exec n5 "$TARTANCTL" network get --etcd-endpoints "$ETCD_ENDPOINT_auth" \
	--etcd-username tartan --etcd-password pw-wrong 2>&1) && rc=0 || rc=$?
tap_like "$rc $out" '^[14] .*(authentication failed|invalid user ID or password)' \
	"wrong password: tartanctl network get fails and says why" || true

# set right, no restart
cp "$pki/ca.crt" "$TARTAN_WORK/n3-ca.tmp" && mv "$TARTAN_WORK/n3-ca.tmp" "$TARTAN_WORK/n3-ca.crt"
cp "$pki/client.key" "$TARTAN_WORK/n4.key.tmp" && cp "$pki/client.crt" "$TARTAN_WORK/n4.crt.tmp"
mv "$TARTAN_WORK/n4.crt.tmp" "$TARTAN_WORK/n4.crt" && mv "$TARTAN_WORK/n4.key.tmp" "$TARTAN_WORK/n4.key"
ectl_auth_root user passwd tartan --interactive=false <<<"pw-wrong" >/dev/null ||
	tap_fail "could not change tartan's password"
for n in n3 n4 n5; do
	t0=$SECONDS
	if wait_until 30 has_lease "$n" "${getter[$n]}"; then
		tap_ok "${what[$n]}: set right, $n gets its lease by itself ($((SECONDS - t0)) s, no restart)"
	else
		tap_fail "${what[$n]}: set right, $n gets its lease by itself within 30 s" \
			"status: $(tstatus "$n" 2>&1)" "log: $(tlog "$n" | tail -5)"
	fi
done

# --- TLS files with a plain-text endpoint: refused, never plain text -------------------------
start n6 "http://$NETNS_UNDERLAY_IP:$ETCD_CLIENT_PORT_auth" "${tls_flags[@]}"
if wait_until 10 bash -c "! kill -0 ${TARTAND_PID[n6]} 2>/dev/null"; then
	tartand_stop n6 TERM 2>/dev/null || true
	tap_is "$TARTAND_RC" 2 "TLS files with http://: tartand refuses the options (exit status 2)" || true
else
	tartand_stop n6 KILL || true
	tap_fail "TLS files with http://: tartand exits"
fi
tap_check "TLS files with http://: it says why" tlog_has n6 'TLS needs https:// etcd endpoints' || true
tap_is "$(keys_of "${ip[n6]}" ectl_auth_root)" 0 "TLS files with http://: nothing written" || true

for n in n1 n2 n3 n4 n5; do
	tartand_stop "$n" TERM || true
	tap_is "$TARTAND_RC" 0 "$n: exits 0 on SIGTERM" || true
done
tap_done
