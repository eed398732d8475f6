#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/demo.sh: a short show of what works today. It builds tartan, starts a private etcd
# 3.4 on 127.0.0.1 (free ports, temp data dir) and drives it with the etcd v3 client through
# build/tests/etcd/etcd-tool, the way flannel nodes use etcd: a watch on the subnet leases,
# two nodes writing their lease, one leaving. Everything it starts is stopped at exit.
#
#	bash tests/demo.sh
#
# (Later this becomes a cluster of tartand nodes in network namespaces.)

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/setup.sh
. "$here/lib/setup.sh"
# shellcheck source=tests/lib/etcd.sh
. "$here/lib/etcd.sh"

prefix=/coreos.com/network
subnets=$prefix/subnets/
tool=$TARTAN_BUILD/tests/etcd/etcd-tool
step=0

heading()
{
	step=$((step + 1))
	printf '\n=== %d. %s\n' "$step" "$*"
}

# show CMD...: print the command as one would type it (etcd-tool for the binary, $E for the
# endpoint), then run it.
show_cmd()
{
	local a line=\$
	for a in "$@"; do
		a=${a//$tool/etcd-tool}
		a=${a//$ETCD_ENDPOINT/\$E}
		if [[ $a =~ ^[][A-Za-z0-9_./:,=\$-]+$ ]]; then
			line+=" $a"
		else
			line+=" '$a'"
		fi
	done
	echo "$line"
}

show()
{
	show_cmd "$@"
	"$@"
}

heading "build tartan ($TARTAN_BUILD)"
build_main
if [[ ! -x $tool ]]; then
	echo "demo: $tool was not built" >&2
	exit 1
fi

heading "start a private etcd"
etcd_start demo
echo "etcd $("$ETCD_BIN" --version | head -n 1 | cut -d' ' -f3) listening on" \
	"E=$ETCD_ENDPOINT (pid $ETCD_PID, data in $ETCD_DATA_DIR)"
etcd=("$tool" --endpoints "$ETCD_ENDPOINT")

heading "the network config, as flannel reads it"
show "${etcd[@]}" put $prefix/config '{"Network":"10.5.0.0/16","Backend":{"Type":"host-gw"}}'

heading "watch $subnets in the background (until 3 events or 10 s)"
work=""
tmpdir_new work
watch=("${etcd[@]}" watch --prefix "$subnets" --count 3 --timeout 10)
echo "$(show_cmd "${watch[@]}") &"
"${watch[@]}" >"$work/watch.out" 2>"$work/watch.err" &
watch_pid=$!
on_exit "kill $watch_pid 2>/dev/null; wait $watch_pid 2>/dev/null"
# The watch must be in place before the first put, or it misses it: wait until the tool
# has connected to etcd, then give it a moment to send its create request.
for ((i = 0; i < 50; i++)); do
	[[ $(ss -Htnp state established "dport = :$ETCD_CLIENT_PORT" 2>/dev/null) == *"pid=$watch_pid,"* ]] &&
		break
	kill -0 "$watch_pid" 2>/dev/null || break
	sleep 0.1
done
sleep 0.5

heading "two nodes write their subnet leases"
show "${etcd[@]}" put ${subnets}10.5.34.0-24 \
	'{"PublicIP":"192.0.2.11","PublicIPv6":null,"BackendType":"host-gw"}'
show "${etcd[@]}" put ${subnets}10.5.71.0-24 \
	'{"PublicIP":"192.0.2.12","PublicIPv6":null,"BackendType":"host-gw"}'

heading "node 192.0.2.12 leaves: its lease is deleted"
show "${etcd[@]}" del ${subnets}10.5.71.0-24

heading "grant an etcd lease with a TTL of 60 s (flannel's leases are 24 h)"
show "${etcd[@]}" grant 60

heading "what the watch saw (REV PUT|DELETE KEY VALUE)"
watch_rc=0
wait "$watch_pid" || watch_rc=$?
cat "$work/watch.out"
if [[ -s $work/watch.err ]]; then
	sed 's/^/watch stderr: /' "$work/watch.err"
fi
events=$(grep -c . "$work/watch.out" || true)
if ((watch_rc != 0 || events != 3)); then
	echo "demo: expected the watch to exit 0 after 3 events (PUT, PUT, DELETE)," \
		"saw exit status $watch_rc and $events events" >&2
	exit 1
fi

heading "everything under $prefix/ now"
show "${etcd[@]}" get --prefix $prefix/

heading "clean up"
etcd_stop_all
echo "etcd stopped, temp dirs are removed at exit"
