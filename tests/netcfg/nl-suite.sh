#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/netcfg/nl-suite.sh TEST-BINARY: run test-nl (cmocka, TAP) inside a fresh network
# namespace of its own, with a second one for the veth peer test. The namespace gets lo up
# and an 'eth0' with 198.51.100.2/24 (RFC 5737 documentation range): a dummy link, or one end
# of a veth pair where the kernel has no dummy driver. Both namespaces are deleted at exit,
# whatever happens; the root namespace is never touched. Without root: "1..0 # SKIP".

set -euo pipefail

if (($# != 1)) || [[ ! -x $1 ]]; then
	echo "Bail out! usage: $0 PATH-TO-test-nl (got '${1:-}')"
	exit 1
fi
bin=$1

if ((EUID != 0)); then
	echo "1..0 # SKIP needs root (network namespaces)"
	exit 0
fi
if ! command -v ip >/dev/null 2>&1; then
	echo "1..0 # SKIP needs ip(8)"
	exit 0
fi

# unique per run, at most 15 characters, so parallel runs never share a namespace
tag=$(printf 'nl%x%04x' "$$" "$((RANDOM % 65536))")
ns1=${tag}a
ns2=${tag}b
created=()
cleanup()
{
	local ns
	for ns in "${created[@]}"; do
		ip netns delete "$ns" 2>/dev/null || true
	done
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

for ns in "$ns1" "$ns2"; do
	if ! ip netns add "$ns"; then
		echo "Bail out! ip netns add $ns failed"
		exit 1
	fi
	created+=("$ns")
	ip -n "$ns" link set lo up
done

if ! ip -n "$ns1" link add eth0 type dummy 2>/dev/null; then
	ip -n "$ns1" link add eth0 type veth peer name eth0p
	ip -n "$ns1" link set eth0p up
fi
ip -n "$ns1" link set eth0 up
ip -n "$ns1" addr add 198.51.100.2/24 dev eth0

# not exec: the trap must still delete the namespaces
rc=0
TARTAN_TEST_NETNS2=$ns2 CMOCKA_MESSAGE_OUTPUT=TAP ip netns exec "$ns1" "$bin" || rc=$?
exit "$rc"
