#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/etcd/client-suite.sh TEST-BINARY: run the cmocka integration tests of the etcd client
# (test-etcd-client) against a private etcd. Sets TARTAN_TEST_ETCD to its client URL and
# TARTAN_TEST_ETCD_DEAD to a loopback URL where nothing listens, and has cmocka speak TAP,
# which meson reads (protocol: 'tap'). The etcd and its data dir go away at exit.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/etcd.sh
. "$here/../lib/etcd.sh"

if (($# != 1)) || [[ ! -x $1 ]]; then
	echo "Bail out! usage: $0 PATH-TO-test-etcd-client (got '${1:-}')"
	exit 1
fi
bin=$1

# dead_endpoint VAR: set VAR to a loopback URL where nothing listens, for as long as the test
# runs. A socket bound to the port but not listening holds it, so no other test's server can
# take it meanwhile, and a connection there is refused at once.
dead_endpoint()
{
	local dir pid pdeath=()

	tmpdir_new dir || return 1
	command -v setpriv >/dev/null 2>&1 && pdeath=(setpriv --pdeathsig KILL --)
	"${pdeath[@]}" python3 -c 'import signal, socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
signal.pause()' </dev/null >"$dir/port" &
	pid=$!
	on_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
	wait_until 10 test -s "$dir/port" || return 1
	printf -v "$1" 'http://127.0.0.1:%s' "$(<"$dir/port")"
}

if ! etcd_start client; then
	echo "Bail out! could not start etcd"
	exit 1
fi

dead=""
if ! dead_endpoint dead; then
	echo "Bail out! could not hold a dead port"
	exit 1
fi
export TARTAN_TEST_ETCD=$ETCD_ENDPOINT
export TARTAN_TEST_ETCD_DEAD=$dead
echo "# etcd $TARTAN_TEST_ETCD (pid $ETCD_PID), dead endpoint $TARTAN_TEST_ETCD_DEAD" >&2

rc=0
CMOCKA_MESSAGE_OUTPUT=TAP "$bin" || rc=$?
((rc == 0)) || etcd_dump_logs
# The TAP stream is the binary's; leave without tap_done (its exit status is the verdict).
exit "$rc"
