# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# tests/lib/vxlan.sh: looking at a node's flannel.1 and links, for the vxlan tests (needs
# root). Source it after tests/lib/etcd.sh, tests/lib/netns.sh and tests/lib/tartand.sh
# (it uses netns_exec and jget).
#
#	vtep_mac n1                  # flannel.1's MAC in n1
#	has_vtep n1                  # flannel.1 exists in n1
#	vtep_params n1               # "vxlan id=1 local=192.0.2.11 link=eth0 port=8472 ..."
#	addrs n1 flannel.1           # its IPv4 addresses, sorted, one a line
#	addrs_are n1 cni0 "$want"
#	vx_value 192.0.2.11 "$mac"   # the lease value flanneld's vxlan backend (VNI 1) writes

if [[ -n ${_TARTAN_VXLAN_SH:-} ]]; then
	return 0
fi
_TARTAN_VXLAN_SH=1

if [[ -z ${_TARTAN_TARTAND_SH:-} ]]; then
	echo "Bail out! tests/lib/vxlan.sh: source tests/lib/tartand.sh first"
	exit 1
fi

# vtep_mac NODE: the MAC of flannel.1 in NODE
vtep_mac()
{
	netns_exec "$1" ip -o link show dev flannel.1 | sed -n 's|.* link/ether \([0-9a-f:]*\) .*|\1|p'
}

has_vtep()
{
	[[ -n $(vtep_mac "$1") ]]
}

# vtep_params NODE: flannel.1's kind, VXLAN parameters, MTU and up flag, on one line
vtep_params()
{
	local out
	out=$(netns_exec "$1" ip -d -j link show dev flannel.1) || return 1
	jget "$out" '(lambda l, i: "%s id=%s local=%s link=%s port=%s learning=%s mtu=%s up=%s" % (
		l["linkinfo"]["info_kind"], i.get("id"), i.get("local"), i.get("link"), i.get("port"),
		i.get("learning"), l.get("mtu"), "UP" in l.get("flags", [])))(
		d[0], d[0]["linkinfo"].get("info_data", {}))'
}

# addrs NODE DEV: the IPv4 addresses of DEV in NODE, sorted
addrs()
{
	netns_exec "$1" ip -4 -o addr show dev "$2" | awk '{ print $4 }' | sort
}

addrs_are()
{
	[[ $(addrs "$1" "$2" 2>/dev/null) == "$3" ]]
}

# vx_value IP MAC: the lease value flanneld's vxlan backend (VNI 1) writes
vx_value()
{
	printf '{"PublicIP":"%s","PublicIPv6":null,"BackendType":"vxlan",' "$1"
	printf '"BackendData":{"VNI":1,"VtepMAC":"%s"}}' "$2"
}
