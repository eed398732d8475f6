#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/etcd/watch-resume.sh ETCD-TOOL: a watch survives etcd going away in the middle of a
# stream of writes and delivers every event exactly once, in order (TAP).
#
# For an etcd killed with SIGKILL and one stopped with SIGTERM: a watcher (etcd-tool watch,
# from a fixed revision, 1000 events) runs in the background while a writer puts k0000..k0499
# one by one; once 250 puts are acknowledged and the watcher has seen events, etcd is
# stopped, restarted on the same data dir and port, and k<first unacknowledged>..k0999 are
# put. The watcher must print exactly 1000 lines: keys k0000..k0999 in order, each once,
# with strictly increasing revisions.
#
# The writer uses --if-absent (a txn on create_revision 0) so that a put etcd committed but
# could not acknowledge before it died is not written, and watched, a second time when the
# rest are put.
#
# Then etcd-tool itself: a from-now watch across a restart, endpoints [dead, live], its exit
# statuses, and auth (users and roles set up with etcdctl).

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/etcd.sh
. "$here/../lib/etcd.sh"

if (($# != 1)) || [[ ! -x $1 ]]; then
	echo "Bail out! usage: $0 PATH-TO-etcd-tool (got '${1:-}')"
	exit 1
fi
tool=$1
N=1000
FIRST=500    # the writer's first run puts k0000..k0499
KILL_AFTER=250

work=""
tmpdir_new work
etcd_start resume || tap_bail "could not start etcd"

etool()
{
	"$tool" --endpoints "$ETCD_ENDPOINT" "$@"
}

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

# at_least FILE N: FILE has N complete lines or more (called through wait_until)
# shellcheck disable=SC2317
at_least()
{
	[[ -f $1 ]] && (($(wc -l <"$1") >= $2))
}

# bg_cleanup PID: kill a background helper at exit if it still runs (SIGKILL: it may be
# stopped)
bg_cleanup()
{
	on_exit "kill -KILL $1 2>/dev/null; wait $1 2>/dev/null"
}

# check_watch_output NAME FILE PREFIX: the watcher saw PREFIXk0000..k0999 once each, in order
check_watch_output()
{
	local name=$1 out=$2 prefix=$3 got want dups bad

	got=$(wc -l <"$out")
	tap_is "$got" "$N" "$name: the watcher printed exactly $N events" || true

	want=$(for ((i = 0; i < N; i++)); do printf 'PUT %sk%04d v%04d\n' "$prefix" "$i" "$i"; done)
	if [[ $(cut -d' ' -f2- "$out") == "$want" ]]; then
		tap_ok "$name: events are PUT ${prefix}k0000..k0999 with their values, in order"
	else
		tap_fail "$name: events are PUT ${prefix}k0000..k0999 with their values, in order" \
			"first difference (expected vs seen):" \
			"$(diff <(echo "$want") <(cut -d' ' -f2- "$out") | head -n 10)"
	fi

	dups=$(cut -d' ' -f3 "$out" | sort | uniq -d | head -n 5)
	tap_is "$dups" "" "$name: no key was delivered twice" || true

	bad=$(awk 'NR > 1 && $1 <= prev { printf "line %d: revision %s after %s\n", NR, $1, prev }
		{ prev = $1 }' "$out" | head -n 5)
	tap_is "$bad" "" "$name: revisions strictly increase" || true
}

# resume_case NAME SIGNAL: the scenario above with etcd stopped by SIGNAL (KILL or TERM)
resume_case()
{
	local name=$1 sig=$2 prefix=/resume-$1/ out=$work/$1.watch rev
	local watch_pid put_pid put_rc=0 watch_rc=0 acked seen_at_stop

	rev=$(etool status)
	"$tool" --endpoints "$ETCD_ENDPOINT" watch "$prefix" --prefix --from $((rev + 1)) \
		--count "$N" --timeout 60 >"$out" 2>"$out.err" &
	watch_pid=$!
	bg_cleanup "$watch_pid"

	"$tool" --endpoints "$ETCD_ENDPOINT" put-many "$prefix" "$FIRST" --if-absent \
		>"$work/$name.put1" 2>"$work/$name.put1.err" &
	put_pid=$!
	bg_cleanup "$put_pid"

	if ! wait_until 60 at_least "$work/$name.put1" "$KILL_AFTER"; then
		tap_fail "$name: $KILL_AFTER puts acknowledged" "$(cat "$work/$name.put1.err")"
		return 1
	fi
	if ! wait_until 30 at_least "$out" 1; then
		tap_fail "$name: the watcher sees events before etcd stops" "$(cat "$out.err")"
		return 1
	fi
	if [[ $sig == KILL ]]; then
		etcd_kill -9 resume
	else
		etcd_kill resume
	fi
	seen_at_stop=$(wc -l <"$out")
	# With etcd gone the writer fails at once (connection refused or reset); it is out of
	# the way before etcd comes back, so nothing of it can land later.
	wait "$put_pid" || put_rc=$?
	acked=$(wc -l <"$work/$name.put1")
	tap_diag "$name: SIG$sig with $acked of $FIRST puts acknowledged (writer exit $put_rc)" \
		"and $seen_at_stop events watched"
	if ((put_rc != 0)) && ! grep -q "put-many: ${prefix}k" "$work/$name.put1.err"; then
		tap_fail "$name: the writer failed only because etcd went away" \
			"$(cat "$work/$name.put1.err")"
		return 1
	fi
	# the kill must fall inside the writes, or the resume path goes untested
	if ((acked >= FIRST)); then
		tap_fail "$name: etcd stopped with SIG$sig in the middle of the writes" \
			"all $FIRST puts were acknowledged before the stop"
		return 1
	fi
	tap_ok "$name: etcd stopped with SIG$sig in the middle of the writes"

	if ! etcd_restart resume; then
		tap_fail "$name: etcd restarts on the same data dir and port"
		return 1
	fi
	tap_ok "$name: etcd restarts on the same data dir and port"

	if ! "$tool" --endpoints "$ETCD_ENDPOINT" put-many "$prefix" $((N - acked)) \
		--start "$acked" --if-absent >"$work/$name.put2" 2>"$work/$name.put2.err"; then
		tap_fail "$name: the rest are put (k$(printf %04d "$acked")..k0999)" \
			"$(cat "$work/$name.put2.err")"
		return 1
	fi
	tap_ok "$name: the rest are put (k$(printf %04d "$acked")..k0999)"
	# a put that etcd committed before it died, but could not acknowledge
	tap_diag "$name: $(grep -c ' exists$' "$work/$name.put2" || true) key(s) already there"

	wait "$watch_pid" || watch_rc=$?
	if ((watch_rc == 0)); then
		tap_ok "$name: the watcher ends after $N events"
	else
		tap_fail "$name: the watcher ends after $N events" \
			"exit status $watch_rc (3: timeout); stderr:" "$(cat "$out.err")"
	fi
	check_watch_output "$name" "$out" "$prefix"
}

# gap_case: a watch "from now" that has delivered nothing yet loses no event written while
# it is disconnected. The watcher is frozen (SIGSTOP) while etcd is killed and restarted and a
# key is put, so the put surely falls between its two connections; it must resume after the
# revision it was created at, not from "now" again.
gap_case()
{
	local out=$work/gap.watch pid rc=0 rev

	"$tool" --endpoints "$ETCD_ENDPOINT" watch /gap/ --prefix --count 1 --timeout 20 \
		--verbose >"$out" 2>"$out.err" &
	pid=$!
	bg_cleanup "$pid"
	if ! wait_until 30 grep -qx "etcd-tool watch: connected" "$out.err"; then
		tap_fail "gap: the watcher connects" "$(cat "$out.err")"
		return 1
	fi
	kill -STOP "$pid"
	etcd_restart -9 resume || { kill -CONT "$pid"; tap_bail "etcd did not restart"; }
	rev=$(etool status)
	etool put /gap/k written-in-the-gap >/dev/null
	kill -CONT "$pid"
	wait "$pid" || rc=$?
	tap_is "$rc:$(cat "$out")" "0:$((rev + 1)) PUT /gap/k written-in-the-gap" \
		"gap: a from-now watch sees the put made while it was disconnected" ||
		tap_diag "watcher stderr:" "$(cat "$out.err")"
}

resume_case sigkill KILL || true
resume_case sigterm TERM || true
gap_case || true

# --- etcd-tool with a dead endpoint first, and its exit statuses --------------------------------

dead=""
dead_endpoint dead || tap_bail "could not hold a dead port"
both=("$tool" --endpoints "$dead,$ETCD_ENDPOINT")

tap_is "$("${both[@]}" put /failover/k 'value with spaces' 2>&1)" OK \
	"failover: put through [dead, live]" || true
tap_is "$("${both[@]}" get /failover/k 2>&1)" "/failover/k value with spaces" \
	"failover: get through [dead, live]" || true
rev=$(etool status)
etool put /failover/k second >/dev/null
tap_like "$("${both[@]}" watch /failover/k --from $((rev + 1)) --count 1 --timeout 30 2>&1)" \
	"^$((rev + 1)) PUT /failover/k second$" "failover: watch through [dead, live]" || true

rc=0
err=$("$tool" --endpoints "$dead" get /failover/k 2>&1 >/dev/null) || rc=$?
tap_is "$rc" 1 "a dead endpoint alone: exit status 1" || true
tap_like "$err" "^etcd-tool get: Connection refused: .*127\.0\.0\.1" \
	"a dead endpoint alone: the message names the command and the cause" || true

rc=0
"$tool" frobnicate >/dev/null 2>&1 || rc=$?
tap_is "$rc" 2 "an unknown command: exit status 2" || true
rc=0
"$tool" --endpoints ftp://x get /k >/dev/null 2>&1 || rc=$?
tap_is "$rc" 2 "an ftp:// endpoint: exit status 2" || true
rc=0
"$tool" --endpoints "$ETCD_ENDPOINT" --cacert /etc/ssl/certs/ca-certificates.crt get /k \
	>/dev/null 2>&1 || rc=$?
tap_is "$rc" 2 "TLS files with an http:// endpoint: exit status 2" || true

rc=0
out=$(etool watch /nothing/here/ --prefix --timeout 1 2>/dev/null) || rc=$?
tap_is "$rc:$out" "3:" "watch: exit status 3 and no output on its timeout" || true

rev=$(etool status)
etool compact "$rev" >/dev/null
rc=0
out=$(etool watch /failover/ --prefix --from 1 --count 5 --timeout 30 2>&1) || rc=$?
tap_is "$rc" 4 "watch: exit status 4 from a compacted revision" || true
tap_like "$out" "compacted" "watch: the message says compacted" || true

# --- with auth on (last: it stays on): a token for every call, watch refused -> exit 5 --------

if command -v etcdctl >/dev/null 2>&1; then
	ctl()
	{
		ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINT" "$@" >/dev/null
	}
	if ctl role add root && ctl user add root:rootpw && ctl user grant-role root root &&
		ctl role add app && ctl role grant-permission app readwrite /app/ --prefix=true &&
		ctl user add u1:pw1 && ctl user grant-role u1 app && ctl auth enable; then
		u1=("$tool" --endpoints "$ETCD_ENDPOINT" --user u1 --password pw1)
		rev=$("${u1[@]}" status)
		tap_is "$("${u1[@]}" put /app/k v1 2>&1)" OK "auth: put as a user" || true
		tap_is "$("${u1[@]}" get /app/k 2>&1)" "/app/k v1" "auth: get as a user" || true
		rc=0
		err=$("${u1[@]}" get /other 2>&1) || rc=$?
		tap_like "$rc:$err" "^1:etcd-tool get: Permission denied: .*permission denied" \
			"auth: a key outside the user's role is refused" || true
		rc=0
		err=$("$tool" --endpoints "$ETCD_ENDPOINT" --user u1 --password wrong get /app/k \
			2>&1) || rc=$?
		tap_like "$rc:$err" "^1:.*authentication failed" "auth: a wrong password" || true
		rc=0
		out=$("${u1[@]}" watch /app/ --prefix --from $((rev + 1)) --count 1 --timeout 30 \
			2>&1) || rc=$?
		tap_is "$rc:$out" "0:$((rev + 1)) PUT /app/k v1" "auth: watch as a user" || true
		rc=0
		out=$("${u1[@]}" watch /other --timeout 30 2>&1) || rc=$?
		tap_like "$rc:$out" "^5:etcd-tool watch: failed: .*permission denied" \
			"auth: a watch etcd refuses ends with exit status 5" || true
	else
		tap_fail "auth: set up users and roles with etcdctl"
	fi
else
	tap_skip "auth" "etcdctl (Debian etcd-client) is not installed"
fi

tap_done
