#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/cni/plugin.sh: the tartan CNI plugin binary run exactly as a runtime runs it (a clean
# environment holding only the CNI_* variables, the network config on stdin), checking its
# stdout, stderr and exit status (TAP; no root needed, no network change).
#
# Asserts, without any daemon: with no CNI_COMMAND it prints what it is on stderr, nothing on
# stdout, and exits 0 (as skel); VERSION answers {"cniVersion":<asked>,"supportedVersions":
# ["0.3.1","0.4.0","1.0.0","1.1.0"]} for each supported version (1.1.0 when nothing is asked),
# exit 0; every kind of bad input (unknown command, missing variables for ADD/DEL/GC, a bad
# container id, interface names too long or holding '/' or '.', a relative netns, bad JSON, a
# non-object, a missing or bad network name, an unsupported or missing cniVersion, CHECK below
# 0.4.0, GC and STATUS below 1.1.0, a prevResult that is no object, a relative socket path, a
# bad TARTAN_CNI_WAIT_S, stdin over 1 MiB, stdin never closed (cut off after
# TARTAN_CNI_STDIN_TIMEOUT_S), a bad TARTAN_CNI_STDIN_TIMEOUT_S, a relative pendingDelDir)
# prints exactly the spec's error object with its code on stdout and exits 1 -- and none of
# them ever reaches the socket. Each way of not reaching a daemon has its own message: no
# socket file ("no socket at PATH": ADD waits TARTAN_CNI_WAIT_S=1, and once
# "daemonWaitSeconds":1 instead; CHECK waits too; STATUS answers 50 and GC 11 at once, with
# the wait set to 20 s), a socket nobody listens on ("nothing listening at PATH", after the
# wait), a regular file at the socket path ("PATH is not a socket", code 5, not waited for);
# ADD of a CNI_NETNS that does not exist is code 3 before any socket. DEL never waits (wait
# set to 20 s, each DEL asserted under 5 s, the times printed): with no socket, nothing
# listening, or no socket at the path, it exits 0 printing nothing and leaves exactly its
# record (cni/pending.h) in pendingDelDir (mode 0700, no temp file left); when the record
# cannot be written either, code 11 naming both failures.
#
# tartand's side is tested end to end in tests/daemon/pods.sh and pending-del.sh. The
# remaining checks here use a tiny python3 unix-socket server (below) that stands in for the
# daemon's control socket ONLY to check the plugin's wire format: it records each request
# line byte for byte, and the fds that came with it, and answers with a canned line the test
# chooses. It does not pretend to be tartand: nothing here asserts what tartand does with a
# request. With it: ADD for each of the four versions sends exactly the protocol's line
# (command, containerID, netns, "netnsFd":true, ifName, args, path, cniVersion, the whole
# stdin object as config) with one fd, CNI_NETNS opened (same inode), and prints the canned
# neutral result rendered for that version (0.3.1 and 0.4.0 with "version":"4" in each ip),
# exit 0; DEL without CNI_NETNS sends no "netns" and no fd, DEL of a namespace that is gone
# sends the path without "netnsFd" and no fd; CHECK sends its fd; DEL, CHECK, GC
# (valid-attachments passed through) and STATUS send their exact lines and print nothing,
# exit 0; a CNI error answered by the daemon (STATUS code 50) is printed in the request's
# version, exit 1; {"ok":false,...} becomes error 11 "tartand at PATH refused the request:
# MSG"; a daemon that does not answer within TARTAN_CNI_TIMEOUT_S=1 ("did not answer in 1
# s"), or hangs up without a line ("closed the connection without an answer"), gives error
# 11; a DEL answered in any of these ways, or with error 11, is recorded and exits 0, one
# answered with error 101 is printed and not recorded; a malformed answer or result gives
# error 5; a plugin started before the socket exists (the node booting) waits and succeeds
# once the socket appears.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/etcd.sh
. "$here/../lib/etcd.sh"

: "${TARTAN_CNI:?set TARTAN_CNI to the tartan plugin binary (meson does)}"
command -v python3 >/dev/null || tap_bail "python3 is needed for the socket stand-in"

tmpdir_new T
SOCK=$T/tartand.sock
SUPPORTED='"supportedVersions":["0.3.1","0.4.0","1.0.0","1.1.0"]'
NEUTRAL='{"interfaces":[{"name":"veth1a2b3c4d","mac":"aa:bb:cc:dd:ee:01"},{"name":"eth0","mac":"aa:bb:cc:dd:ee:02","sandbox":"/var/run/netns/pod1"}],"ips":[{"address":"10.5.3.7/24","gateway":"10.5.3.1","interface":1}],"routes":[{"dst":"0.0.0.0/0","gw":"10.5.3.1"}],"dns":{}}'
ARGS='IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-1'

# cni STDIN VAR=VALUE...: run the plugin as a runtime does (env -i: only these variables);
# sets RC, OUT (stdout, exactly, without its final newline), ERR (stderr) and NL (1 when stdout
# ended in exactly one newline); STDIN is a file name
cni()
{
	local in=$1
	shift
	set +e
	env -i PATH=/usr/bin:/bin ${SAN_ENV[@]+"${SAN_ENV[@]}"} "$@" "$TARTAN_CNI" <"$in" >"$T/out" \
		2>"$T/err"
	RC=$?
	set -e
	collect
}

# collect: OUT, ERR and NL from $T/out and $T/err
collect()
{
	OUT=$(<"$T/out")
	ERR=$(<"$T/err")
	NL=0
	if [[ -s $T/out && $(tail -c 1 "$T/out" | od -An -c | tr -d ' ') == '\n' ]] &&
		[[ $(wc -l <"$T/out") == 1 ]]; then
		NL=1
	fi
}

# conf NAME JSON: write a stdin file
conf()
{
	printf '%s' "$2" >"$T/$1"
	CONF=$T/$1
}

# expect DESC RC STDOUT: one check of the last run: exit status, stdout (and its newline)
expect()
{
	local want_nl=1
	[[ -z $3 ]] && want_nl=0
	# a sanitizer's report is a failure even when the output looks right
	if ((RC == $2)) && [[ $OUT == "$3" ]] && ((NL == want_nl)) &&
		[[ $ERR != *"runtime error:"* && $ERR != *Sanitizer* ]]; then
		tap_ok "$1"
	else
		tap_fail "$1" "expected exit $2, stdout: $3" "saw exit $RC, stdout: $OUT (newline: $NL)" \
			"stderr: $ERR"
	fi
}

# a runtime passes its whole environment on; the sanitizer settings of a sanitized build
# (tests/run.sh) must reach the plugin through env -i as well
SAN_ENV=()
for v in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS; do
	if [[ -n ${!v:-} ]]; then
		SAN_ENV+=("$v=${!v}")
	fi
done

# the plugin opens CNI_NETNS and sends the fd; the stand-in takes any file for a namespace
# (tartand checks the kind, tests/daemon/pods.sh)
NETNS=$T/netns-pod1
: >"$NETNS"
NETNS_INO=$(stat -c %i "$NETNS")
ADD_ENV=(CNI_COMMAND=ADD CNI_CONTAINERID=ctr-0001 "CNI_NETNS=$NETNS" CNI_IFNAME=eth0
	"CNI_ARGS=$ARGS" CNI_PATH=/usr/lib/cni)

# ---------------------------------------------------------------------------------------------
# The socket stand-in (see the header): records request lines in STATEDIR/requests, answers with
# the bytes of STATEDIR/answer as they are when a request arrives; SILENT holds the connection
# open without an answer, CLOSE hangs up without one.
cat >"$T/server.py" <<'EOF'
import os, socket, sys

path, state = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(16)
while True:
    c, _ = s.accept()
    buf = b""
    fds = []
    while b"\n" not in buf:
        d, more, _, _ = socket.recv_fds(c, 65536, 4)
        fds += more
        if not d:
            break
        buf += d
    with open(os.path.join(state, "requests"), "ab") as f:
        f.write(buf)
    # the fds that came with the request: how many, and the inode of each (to compare with
    # the file the plugin was told to open)
    with open(os.path.join(state, "fds"), "a") as f:
        f.write(" ".join(["%d" % len(fds)] + ["%d" % os.fstat(fd).st_ino for fd in fds]) + "\n")
    for fd in fds:
        os.close(fd)
    with open(os.path.join(state, "answer"), "rb") as f:
        answer = f.read()
    if answer == b"SILENT\n":
        while c.recv(65536):
            pass
    elif answer != b"CLOSE\n":
        c.sendall(answer)
    c.close()
EOF

# server_start SOCKET STATEDIR: a stand-in listening on SOCKET, its files in STATEDIR
server_start()
{
	local pid
	mkdir -p "$2"
	[[ -e $2/answer ]] || printf 'CLOSE\n' >"$2/answer"
	python3 "$T/server.py" "$1" "$2" 2>>"$T/server.log" &
	pid=$!
	on_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
	wait_until 10 test -S "$1" || tap_bail "the socket stand-in did not start: $(cat "$T/server.log")"
}

# answer LINE: what the stand-in at $SOCK answers next; clears its recorded requests and fds
answer()
{
	printf '%s\n' "$1" >"$T/d/answer"
	: >"$T/d/requests"
	: >"$T/d/fds"
}

# expect_fds DESC WANT: the stand-in's record of the fds of the requests since answer()
expect_fds()
{
	tap_is "$(paste -sd ';' "$T/d/fds")" "$2" "$1" || true
}

# expect_request DESC LINE: the stand-in received exactly LINE and its '\n', nothing else
expect_request()
{
	printf '%s\n' "$2" >"$T/want"
	if cmp -s "$T/want" "$T/d/requests"; then
		tap_ok "$1"
	else
		tap_fail "$1" "expected: $2" "saw:      $(cat -A "$T/d/requests")"
	fi
}

# now_us: microseconds since the epoch
now_us()
{
	echo "${EPOCHREALTIME//[!0-9]/}"
}

# the neutral result rendered for a version: ips[] gain "version":"4" before 1.0.0
rendered()
{
	local ips='"ips":[{"address":"10.5.3.7/24","gateway":"10.5.3.1","interface":1}]'
	[[ $1 == 0.* ]] && ips='"ips":[{"version":"4","address":"10.5.3.7/24","gateway":"10.5.3.1","interface":1}]'
	printf '{"cniVersion":"%s","interfaces":[{"name":"veth1a2b3c4d","mac":"aa:bb:cc:dd:ee:01"},{"name":"eth0","mac":"aa:bb:cc:dd:ee:02","sandbox":"/var/run/netns/pod1"}],%s,"routes":[{"dst":"0.0.0.0/0","gw":"10.5.3.1"}],"dns":{}}' "$1" "$ips"
}

# ---------------------------------------------------------------------------------------------
# No daemon needed

: >"$T/empty"
cni "$T/empty"
if ((RC == 0)) && [[ -z $OUT && $ERR == *"CNI plugin tartan v"* &&
	$ERR == *"CNI protocol versions supported: 0.3.1, 0.4.0, 1.0.0, 1.1.0"* ]]; then
	tap_ok "no CNI_COMMAND: about text on stderr, nothing on stdout, exit 0"
else
	tap_fail "no CNI_COMMAND: about text on stderr, nothing on stdout, exit 0" \
		"exit $RC, stdout: $OUT" "stderr: $ERR"
fi

for v in 0.3.1 0.4.0 1.0.0 1.1.0; do
	conf version.json "{\"cniVersion\":\"$v\"}"
	cni "$CONF" CNI_COMMAND=VERSION
	expect "VERSION asked in $v" 0 "{\"cniVersion\":\"$v\",$SUPPORTED}"
done
cni "$T/empty" CNI_COMMAND=VERSION
expect "VERSION with nothing on stdin answers 1.1.0" 0 "{\"cniVersion\":\"1.1.0\",$SUPPORTED}"

# Every input error. The conf names the stand-in's socket, which records any request: none of
# them may get that far.
server_start "$SOCK" "$T/d"
answer "{\"ok\":true,\"result\":{\"result\":$NEUTRAL}}"
GOOD="{\"cniVersion\":\"1.0.0\",\"name\":\"tartan-net\",\"type\":\"tartan\",\"socket\":\"$SOCK\"}"
conf good.json "$GOOD"

cni "$T/good.json" CNI_COMMAND=FROB CNI_PATH=/usr/lib/cni
expect "unknown CNI_COMMAND: code 4" 1 \
	'{"cniVersion":"1.1.0","code":4,"msg":"unknown CNI_COMMAND: FROB","details":""}'
cni "$T/good.json" CNI_COMMAND=ADD
expect "ADD without its variables: code 4 naming them" 1 \
	'{"cniVersion":"1.1.0","code":4,"msg":"required env variables [CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH] missing","details":""}'
cni "$T/good.json" CNI_COMMAND=DEL CNI_NETNS=/var/run/netns/pod1
expect "DEL without its variables (CNI_NETNS is optional): code 4" 1 \
	'{"cniVersion":"1.1.0","code":4,"msg":"required env variables [CNI_CONTAINERID,CNI_IFNAME,CNI_PATH] missing","details":""}'
conf gc11.json "{\"cniVersion\":\"1.1.0\",\"name\":\"tartan-net\",\"socket\":\"$SOCK\"}"
cni "$CONF" CNI_COMMAND=GC
expect "GC without CNI_PATH: code 4" 1 \
	'{"cniVersion":"1.1.0","code":4,"msg":"required env variables [CNI_PATH] missing","details":""}'
cni "$T/good.json" "${ADD_ENV[@]}" CNI_CONTAINERID=bad/id
expect "container id with a '/': code 4, the id in details" 1 \
	'{"cniVersion":"1.1.0","code":4,"msg":"invalid characters in containerID","details":"bad/id"}'
cni "$T/good.json" "${ADD_ENV[@]}" CNI_CONTAINERID=-ctr
expect "container id not starting alphanumeric: code 4" 1 \
	'{"cniVersion":"1.1.0","code":4,"msg":"invalid characters in containerID","details":"-ctr"}'
cni "$T/good.json" "${ADD_ENV[@]}" CNI_IFNAME=eth0123456789abc
expect "interface name of 16 bytes: code 4" 1 \
	'{"cniVersion":"1.1.0","code":4,"msg":"interface name is too long","details":"interface name should be less than 16 characters"}'
cni "$T/good.json" "${ADD_ENV[@]}" CNI_IFNAME=../eth0
expect "interface name with '/': code 4" 1 \
	'{"cniVersion":"1.1.0","code":4,"msg":"interface name contains / or : or whitespace characters","details":""}'
cni "$T/good.json" "${ADD_ENV[@]}" CNI_IFNAME=..
expect "interface name '..': code 4" 1 \
	'{"cniVersion":"1.1.0","code":4,"msg":"interface name is . or ..","details":""}'
cni "$T/good.json" "${ADD_ENV[@]}" CNI_NETNS=netns/pod1
expect "relative CNI_NETNS: code 4" 1 \
	'{"cniVersion":"1.1.0","code":4,"msg":"CNI_NETNS is not an absolute path","details":"netns/pod1"}'
cni "$T/good.json" "${ADD_ENV[@]}" TARTAN_CNI_WAIT_S=soon
expect "TARTAN_CNI_WAIT_S not a number: code 4" 1 \
	'{"cniVersion":"1.1.0","code":4,"msg":"TARTAN_CNI_WAIT_S is not a number of seconds in [0, 3600]","details":"soon"}'
conf bad.json '{"cniVersion":"1.0.0","name":"tartan-net",bad}'
cni "$CONF" "${ADD_ENV[@]}"
expect "bad JSON on stdin: code 6" 1 \
	'{"cniVersion":"1.1.0","code":6,"msg":"error decoding network config: string or '"'}'"' expected near '"'bad'"' (line 1, column 45)","details":""}'
conf array.json '[{"cniVersion":"1.0.0","name":"tartan-net"}]'
cni "$CONF" "${ADD_ENV[@]}"
expect "stdin not an object: code 6" 1 \
	'{"cniVersion":"1.1.0","code":6,"msg":"error decoding network config: not a JSON object","details":""}'
cni "$T/empty" "${ADD_ENV[@]}"
expect "empty stdin: code 6" 1 \
	'{"cniVersion":"1.1.0","code":6,"msg":"error decoding network config: unexpected token near end of file (line 1, column 0)","details":""}'
conf noname.json "{\"cniVersion\":\"1.0.0\",\"socket\":\"$SOCK\"}"
cni "$CONF" "${ADD_ENV[@]}"
expect "no network name: code 7" 1 \
	'{"cniVersion":"1.1.0","code":7,"msg":"missing network name","details":""}'
conf badname.json "{\"cniVersion\":\"1.0.0\",\"name\":\"my net\",\"socket\":\"$SOCK\"}"
cni "$CONF" "${ADD_ENV[@]}"
expect "network name with a space: code 7" 1 \
	'{"cniVersion":"1.1.0","code":7,"msg":"invalid characters found in network name","details":"my net"}'
conf v12.json "{\"cniVersion\":\"1.2.0\",\"name\":\"tartan-net\",\"socket\":\"$SOCK\"}"
cni "$CONF" "${ADD_ENV[@]}"
expect "cniVersion 1.2.0: code 1" 1 \
	'{"cniVersion":"1.1.0","code":1,"msg":"incompatible CNI versions","details":"config is \"1.2.0\", plugin supports [\"0.3.1\" \"0.4.0\" \"1.0.0\" \"1.1.0\"]"}'
conf nov.json "{\"name\":\"tartan-net\",\"socket\":\"$SOCK\"}"
cni "$CONF" "${ADD_ENV[@]}"
expect "no cniVersion (0.1.0): code 1" 1 \
	'{"cniVersion":"1.1.0","code":1,"msg":"incompatible CNI versions","details":"config is \"0.1.0\", plugin supports [\"0.3.1\" \"0.4.0\" \"1.0.0\" \"1.1.0\"]"}'
conf v031.json "{\"cniVersion\":\"0.3.1\",\"name\":\"tartan-net\",\"socket\":\"$SOCK\"}"
cni "$CONF" CNI_COMMAND=CHECK CNI_CONTAINERID=ctr-0001 CNI_NETNS=/var/run/netns/pod1 \
	CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni
expect "CHECK at 0.3.1: code 1" 1 \
	'{"cniVersion":"1.1.0","code":1,"msg":"config version does not allow CHECK","details":""}'
cni "$T/good.json" CNI_COMMAND=GC CNI_PATH=/usr/lib/cni
expect "GC at 1.0.0: code 1" 1 \
	'{"cniVersion":"1.1.0","code":1,"msg":"config version does not allow GC","details":""}'
cni "$T/good.json" CNI_COMMAND=STATUS CNI_PATH=/usr/lib/cni
expect "STATUS at 1.0.0: code 1" 1 \
	'{"cniVersion":"1.1.0","code":1,"msg":"config version does not allow STATUS","details":""}'
conf prev.json "{\"cniVersion\":\"0.4.0\",\"name\":\"tartan-net\",\"socket\":\"$SOCK\",\"prevResult\":[]}"
cni "$CONF" "${ADD_ENV[@]}"
expect "prevResult not an object: code 6, in the request's version" 1 \
	'{"cniVersion":"0.4.0","code":6,"msg":"error decoding network config: prevResult is not an object","details":""}'
conf relsock.json '{"cniVersion":"1.0.0","name":"tartan-net","socket":"run/tartand.sock"}'
cni "$CONF" "${ADD_ENV[@]}"
expect "relative socket path: code 7" 1 \
	'{"cniVersion":"1.0.0","code":7,"msg":"socket is not an absolute path of at most 107 bytes","details":"run/tartand.sock"}'
{
	printf '%s' "$GOOD"
	head -c $((1024 * 1024)) /dev/zero | tr '\0' ' '
} >"$T/big.json"
cni "$T/big.json" "${ADD_ENV[@]}"
expect "stdin over 1 MiB: code 7" 1 \
	'{"cniVersion":"1.1.0","code":7,"msg":"network config is longer than 1048576 bytes","details":""}'
# a runtime that writes the config and never closes stdin: cut off, not waited for forever
# (the FIFO is held open for writing here, so the plugin never sees its end)
mkfifo "$T/stdin.fifo"
exec 7<>"$T/stdin.fifo"
printf '%s' "$GOOD" >&7
start=$(now_us)
cni "$T/stdin.fifo" "${ADD_ENV[@]}" TARTAN_CNI_STDIN_TIMEOUT_S=1
elapsed=$(($(now_us) - start))
exec 7>&-
expect "stdin never closed: code 5" 1 \
	'{"cniVersion":"1.1.0","code":5,"msg":"stdin was not closed within 1 s: the runtime must write the network config and close stdin","details":""}'
((elapsed >= 1000000 && elapsed < 5000000)) &&
	tap_ok "the stdin time limit held ($((elapsed / 1000)) ms)" ||
	tap_fail "the stdin time limit held" "took $((elapsed / 1000)) ms"
cni "$T/good.json" "${ADD_ENV[@]}" TARTAN_CNI_STDIN_TIMEOUT_S=0
expect "TARTAN_CNI_STDIN_TIMEOUT_S=0: code 4" 1 \
	'{"cniVersion":"1.1.0","code":4,"msg":"TARTAN_CNI_STDIN_TIMEOUT_S: not a whole number of seconds in 1..3600","details":"0"}'
if [[ ! -s $T/d/requests ]]; then
	tap_ok "no input error reached the socket"
else
	tap_fail "no input error reached the socket" "it got: $(cat "$T/d/requests")"
fi

# No daemon, each way a daemon can be missing: its own message, code 11; ADD and CHECK wait
# (TARTAN_CNI_WAIT_S, else "daemonWaitSeconds"), the others do not. The times are printed,
# asserted only as "waited at least the wait" and, for what must not wait, "well under it".
NONE=$T/none.sock
conf none.json "{\"cniVersion\":\"1.1.0\",\"name\":\"tartan-net\",\"socket\":\"$NONE\"}"
start=$(now_us)
cni "$CONF" "${ADD_ENV[@]}" TARTAN_CNI_WAIT_S=1
elapsed=$(($(now_us) - start))
expect "no socket, TARTAN_CNI_WAIT_S=1: code 11, 'no socket at PATH'" 1 \
	"{\"cniVersion\":\"1.1.0\",\"code\":11,\"msg\":\"no socket at $NONE (waited 1 s for tartand to start)\",\"details\":\"tartand is not running, or listens elsewhere (the conf's \\\"socket\\\")\"}"
if ((elapsed >= 1000000)); then
	tap_ok "ADD waited 1 s for the socket before giving up ($((elapsed / 1000)) ms)"
else
	tap_fail "ADD waited 1 s for the socket before giving up" "took $((elapsed / 1000)) ms"
fi
[[ $ERR == *"waiting up to 1 s for tartand at $NONE"* ]] &&
	tap_ok "stderr says it is waiting" || tap_fail "stderr says it is waiting" "stderr: $ERR"

conf wait1.json "{\"cniVersion\":\"0.3.1\",\"name\":\"tartan-net\",\"socket\":\"$NONE\",\"daemonWaitSeconds\":1}"
start=$(now_us)
cni "$CONF" "${ADD_ENV[@]}"
elapsed=$(($(now_us) - start))
expect "no socket, conf daemonWaitSeconds 1: code 11 in 0.3.1" 1 \
	"{\"cniVersion\":\"0.3.1\",\"code\":11,\"msg\":\"no socket at $NONE (waited 1 s for tartand to start)\",\"details\":\"tartand is not running, or listens elsewhere (the conf's \\\"socket\\\")\"}"
((elapsed >= 1000000)) &&
	tap_ok "daemonWaitSeconds bounds the wait ($((elapsed / 1000)) ms)" ||
	tap_fail "daemonWaitSeconds bounds the wait" "took $((elapsed / 1000)) ms"

# CHECK waits as ADD does (a daemon restarting must not make a running pod look broken)
start=$(now_us)
cni "$T/none.json" CNI_COMMAND=CHECK CNI_CONTAINERID=ctr-0001 "CNI_NETNS=$NETNS" CNI_IFNAME=eth0 \
	CNI_PATH=/usr/lib/cni TARTAN_CNI_WAIT_S=1
elapsed=$(($(now_us) - start))
expect "CHECK, no socket: code 11 after the wait" 1 \
	"{\"cniVersion\":\"1.1.0\",\"code\":11,\"msg\":\"no socket at $NONE (waited 1 s for tartand to start)\",\"details\":\"tartand is not running, or listens elsewhere (the conf's \\\"socket\\\")\"}"
((elapsed >= 1000000)) && tap_ok "CHECK waited 1 s ($((elapsed / 1000)) ms)" ||
	tap_fail "CHECK waited 1 s" "took $((elapsed / 1000)) ms"

# STATUS and GC answer at once: STATUS with the spec's "not available" (50)
start=$(now_us)
cni "$T/none.json" CNI_COMMAND=STATUS CNI_PATH=/usr/lib/cni TARTAN_CNI_WAIT_S=20
elapsed=$(($(now_us) - start))
expect "STATUS, no socket: code 50 at once" 1 \
	"{\"cniVersion\":\"1.1.0\",\"code\":50,\"msg\":\"no socket at $NONE\",\"details\":\"tartand is not running, or listens elsewhere (the conf's \\\"socket\\\")\"}"
tap_diag "STATUS without a daemon took $((elapsed / 1000)) ms (wait set to 20 s)"
((elapsed < 5000000)) && tap_ok "STATUS did not wait for the daemon" ||
	tap_fail "STATUS did not wait for the daemon" "took $((elapsed / 1000)) ms"
start=$(now_us)
cni "$T/none.json" CNI_COMMAND=GC CNI_PATH=/usr/lib/cni TARTAN_CNI_WAIT_S=20
elapsed=$(($(now_us) - start))
expect "GC, no socket: code 11 at once" 1 \
	"{\"cniVersion\":\"1.1.0\",\"code\":11,\"msg\":\"no socket at $NONE\",\"details\":\"tartand is not running, or listens elsewhere (the conf's \\\"socket\\\")\"}"
((elapsed < 5000000)) && tap_ok "GC did not wait for the daemon ($((elapsed / 1000)) ms)" ||
	tap_fail "GC did not wait for the daemon" "took $((elapsed / 1000)) ms"

# a socket file nobody listens on (a daemon that died): ECONNREFUSED, also waited for
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$T/dead.sock"
conf dead.json "{\"cniVersion\":\"1.1.0\",\"name\":\"tartan-net\",\"socket\":\"$T/dead.sock\"}"
start=$(now_us)
cni "$CONF" "${ADD_ENV[@]}" TARTAN_CNI_WAIT_S=1
elapsed=$(($(now_us) - start))
expect "socket without a listener: code 11, 'nothing listening at PATH', after the wait" 1 \
	"{\"cniVersion\":\"1.1.0\",\"code\":11,\"msg\":\"nothing listening at $T/dead.sock (waited 1 s for tartand to start)\",\"details\":\"tartand is not running (the socket was left by one that stopped)\"}"
((elapsed >= 1000000)) &&
	tap_ok "refused connections were retried for 1 s ($((elapsed / 1000)) ms)" ||
	tap_fail "refused connections were retried for 1 s" "took $((elapsed / 1000)) ms"

# a path that is no socket: its own message, code 5, no wait (no daemon makes it one)
: >"$T/plain-file"
conf notsock.json "{\"cniVersion\":\"1.1.0\",\"name\":\"tartan-net\",\"socket\":\"$T/plain-file\"}"
start=$(now_us)
cni "$CONF" "${ADD_ENV[@]}" TARTAN_CNI_WAIT_S=20
elapsed=$(($(now_us) - start))
expect "socket path is a regular file: code 5, 'PATH is not a socket'" 1 \
	"{\"cniVersion\":\"1.1.0\",\"code\":5,\"msg\":\"$T/plain-file is not a socket\",\"details\":\"the conf's \\\"socket\\\" must name tartand's --socket\"}"
((elapsed < 5000000)) && tap_ok "a path that is no socket is not waited for ($((elapsed / 1000)) ms)" ||
	tap_fail "a path that is no socket is not waited for" "took $((elapsed / 1000)) ms"

# ADD of a namespace that does not exist: tartand's words (daemon/podanswer.c), before any socket
rm -f "$T/d/requests"
cni "$T/good.json" "${ADD_ENV[@]}" CNI_NETNS=/nonexistent/netns/pod9
expect "ADD, CNI_NETNS does not exist: code 3" 1 \
	'{"cniVersion":"1.0.0","code":3,"msg":"the network namespace /nonexistent/netns/pod9 does not exist","details":"/nonexistent/netns/pod9"}'
[[ ! -s $T/d/requests ]] && tap_ok "... and nothing was sent" ||
	tap_fail "... and nothing was sent" "the stand-in got: $(cat "$T/d/requests")"

# ---------------------------------------------------------------------------------------------
# DEL never waits for tartand: unreachable, it records the DEL for tartand (cni/pending.h) and
# answers success at once

# pending_name ID IFNAME: the record's file name, a 64-bit FNV-1a of "ID/IFNAME"
pending_name()
{
	python3 -c 'import sys
h = 14695981039346656037
for b in (sys.argv[1] + "/" + sys.argv[2]).encode():
	h = ((h ^ b) * 1099511628211) % 2**64
print("%016x.json" % h)' "$1" "$2"
}
PD=$T/pending/del
DEL_ENV=(CNI_COMMAND=DEL CNI_CONTAINERID=ctr-0001 "CNI_NETNS=$NETNS" CNI_IFNAME=eth0
	"CNI_ARGS=$ARGS" CNI_PATH=/usr/lib/cni)
REC=$PD/$(pending_name ctr-0001 eth0)
# del_recorded DESC SOCKET: a DEL against SOCKET exits 0 at once, prints nothing, and leaves
# exactly the record of the request
del_recorded()
{
	local c start elapsed
	c="{\"cniVersion\":\"1.0.0\",\"name\":\"tartan-net\",\"type\":\"tartan\",\"socket\":\"$2\",\"pendingDelDir\":\"$PD\"}"
	conf del-rec.json "$c"
	rm -rf "$T/pending"
	start=$(now_us)
	cni "$CONF" "${DEL_ENV[@]}" TARTAN_CNI_WAIT_S=20
	elapsed=$(($(now_us) - start))
	expect "$1: DEL exits 0, prints nothing" 0 ""
	tap_diag "$1: DEL took $((elapsed / 1000)) ms (wait set to 20 s)"
	((elapsed < 5000000)) && tap_ok "$1: DEL did not wait for tartand" ||
		tap_fail "$1: DEL did not wait for tartand" "took $((elapsed / 1000)) ms"
	tap_is "$(cat "$REC" 2>&1)" \
		"{\"containerID\":\"ctr-0001\",\"ifName\":\"eth0\",\"netns\":\"$NETNS\",\"args\":\"$ARGS\",\"cniVersion\":\"1.0.0\",\"config\":$c}" \
		"$1: the record holds the DEL" || true
	tap_is "$(ls -A "$PD" | paste -sd ' ') $(stat -c %a "$PD")" "$(basename "$REC") 700" \
		"$1: one record, no temp file, in a directory of mode 0700" || true
	[[ $ERR == *"DEL recorded as $REC"* ]] && tap_ok "$1: stderr says the DEL was recorded" ||
		tap_fail "$1: stderr says the DEL was recorded" "stderr: $ERR"
}
del_recorded "no socket" "$NONE"
del_recorded "nothing listening" "$T/dead.sock"
del_recorded "not a socket" "$T/plain-file"

# the record cannot be written (its directory would be under a regular file): the DEL fails
conf del-norec.json "{\"cniVersion\":\"1.0.0\",\"name\":\"tartan-net\",\"socket\":\"$NONE\",\"pendingDelDir\":\"$T/plain-file/pending\"}"
cni "$CONF" "${DEL_ENV[@]}"
expect "DEL that can be neither sent nor recorded: code 11 saying both" 1 \
	"{\"cniVersion\":\"1.0.0\",\"code\":11,\"msg\":\"no socket at $NONE, and the DEL could not be recorded in $T/plain-file/pending\",\"details\":\"Not a directory\"}"
conf del-relpd.json "{\"cniVersion\":\"1.0.0\",\"name\":\"tartan-net\",\"socket\":\"$NONE\",\"pendingDelDir\":\"pending\"}"
cni "$CONF" "${DEL_ENV[@]}"
expect "pendingDelDir relative: code 7" 1 \
	'{"cniVersion":"1.0.0","code":7,"msg":"pendingDelDir is not an absolute path of at most 4031 bytes","details":"pending"}'

# ---------------------------------------------------------------------------------------------
# The daemon comes up while the plugin waits (node boot): the ADD succeeds

LATE=$T/late.sock
conf late.json "{\"cniVersion\":\"1.0.0\",\"name\":\"tartan-net\",\"socket\":\"$LATE\"}"
mkdir -p "$T/late"
printf '%s\n' "{\"ok\":true,\"result\":{\"result\":$NEUTRAL}}" >"$T/late/answer"
set +e
env -i PATH=/usr/bin:/bin ${SAN_ENV[@]+"${SAN_ENV[@]}"} "${ADD_ENV[@]}" TARTAN_CNI_WAIT_S=20 \
	"$TARTAN_CNI" <"$CONF" >"$T/out" 2>"$T/err" &
late_pid=$!
set -e
on_exit "kill $late_pid 2>/dev/null"
sleep 1
server_start "$LATE" "$T/late"
set +e
wait "$late_pid"
RC=$?
set -e
collect
expect "a plugin started before the socket existed succeeds once it appears" 0 "$(rendered 1.0.0)"
[[ $ERR == *"waiting up to 20 s for tartand at $LATE"* ]] &&
	tap_ok "it said on stderr that it was waiting" ||
	tap_fail "it said on stderr that it was waiting" "stderr: $ERR"

# ---------------------------------------------------------------------------------------------
# Wire format against the stand-in

for v in 0.3.1 0.4.0 1.0.0 1.1.0; do
	c="{\"cniVersion\":\"$v\",\"name\":\"tartan-net\",\"type\":\"tartan\",\"socket\":\"$SOCK\",\"runtimeConfig\":{\"portMappings\":[{\"hostPort\":8080,\"containerPort\":80,\"protocol\":\"tcp\"}]}}"
	conf "add-$v.json" "$c"
	answer "{\"ok\":true,\"result\":{\"result\":$NEUTRAL}}"
	cni "$CONF" "${ADD_ENV[@]}"
	expect_request "ADD $v: the exact request line" \
		"{\"command\":\"cni\",\"cni\":{\"command\":\"ADD\",\"containerID\":\"ctr-0001\",\"netns\":\"$NETNS\",\"netnsFd\":true,\"ifName\":\"eth0\",\"args\":\"$ARGS\",\"path\":\"/usr/lib/cni\",\"cniVersion\":\"$v\",\"config\":$c}}"
	expect_fds "ADD $v: one fd came with the line, CNI_NETNS opened" "1 $NETNS_INO"
	expect "ADD $v: the result rendered for $v, exit 0" 0 "$(rendered "$v")"
done

# DEL with the cached ADD result as prevResult, and without a netns
c="{\"cniVersion\":\"0.4.0\",\"name\":\"tartan-net\",\"type\":\"tartan\",\"socket\":\"$SOCK\",\"prevResult\":$(rendered 0.4.0)}"
conf del.json "$c"
answer '{"ok":true,"result":{"result":{}}}'
cni "$CONF" CNI_COMMAND=DEL CNI_CONTAINERID=ctr-0001 CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni
expect_request "DEL without CNI_NETNS: no netns in the line, prevResult passed through" \
	"{\"command\":\"cni\",\"cni\":{\"command\":\"DEL\",\"containerID\":\"ctr-0001\",\"ifName\":\"eth0\",\"path\":\"/usr/lib/cni\",\"cniVersion\":\"0.4.0\",\"config\":$c}}"
expect_fds "DEL without CNI_NETNS: no fd" "0"
expect "DEL: nothing on stdout, exit 0" 0 ""
# a DEL whose namespace is gone: sent without the fd, and without "netnsFd"
answer '{"ok":true,"result":{"result":{}}}'
cni "$CONF" CNI_COMMAND=DEL CNI_CONTAINERID=ctr-0001 CNI_NETNS=/nonexistent/netns/pod9 \
	CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni
expect_request "DEL of a namespace that is gone: the path, no netnsFd" \
	"{\"command\":\"cni\",\"cni\":{\"command\":\"DEL\",\"containerID\":\"ctr-0001\",\"netns\":\"/nonexistent/netns/pod9\",\"ifName\":\"eth0\",\"path\":\"/usr/lib/cni\",\"cniVersion\":\"0.4.0\",\"config\":$c}}"
expect_fds "DEL of a namespace that is gone: no fd" "0"
expect "DEL of a namespace that is gone: nothing on stdout, exit 0" 0 ""

c="{\"cniVersion\":\"1.0.0\",\"name\":\"tartan-net\",\"type\":\"tartan\",\"socket\":\"$SOCK\",\"prevResult\":$(rendered 1.0.0)}"
conf check.json "$c"
answer '{"ok":true,"result":{"result":{}}}'
cni "$CONF" CNI_COMMAND=CHECK CNI_CONTAINERID=ctr-0001 "CNI_NETNS=$NETNS" \
	CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni
expect_request "CHECK: the exact request line" \
	"{\"command\":\"cni\",\"cni\":{\"command\":\"CHECK\",\"containerID\":\"ctr-0001\",\"netns\":\"$NETNS\",\"netnsFd\":true,\"ifName\":\"eth0\",\"path\":\"/usr/lib/cni\",\"cniVersion\":\"1.0.0\",\"config\":$c}}"
expect_fds "CHECK: one fd came with the line, CNI_NETNS opened" "1 $NETNS_INO"
expect "CHECK: nothing on stdout, exit 0" 0 ""

c="{\"cniVersion\":\"1.1.0\",\"name\":\"tartan-net\",\"type\":\"tartan\",\"socket\":\"$SOCK\",\"cni.dev/valid-attachments\":[{\"containerID\":\"ctr-0001\",\"ifname\":\"eth0\"}]}"
conf gc.json "$c"
answer '{"ok":true,"result":{"result":{}}}'
cni "$CONF" CNI_COMMAND=GC CNI_PATH=/usr/lib/cni CNI_CONTAINERID=ignored CNI_IFNAME=eth9
expect_request "GC: no attachment in the line, the valid-attachments list in config" \
	"{\"command\":\"cni\",\"cni\":{\"command\":\"GC\",\"path\":\"/usr/lib/cni\",\"cniVersion\":\"1.1.0\",\"config\":$c}}"
expect "GC: nothing on stdout, exit 0" 0 ""

c="{\"cniVersion\":\"1.1.0\",\"name\":\"tartan-net\",\"type\":\"tartan\",\"socket\":\"$SOCK\"}"
conf status.json "$c"
answer '{"ok":true,"result":{"result":{}}}'
cni "$CONF" CNI_COMMAND=STATUS CNI_PATH=/usr/lib/cni
expect_request "STATUS: the exact request line" \
	"{\"command\":\"cni\",\"cni\":{\"command\":\"STATUS\",\"path\":\"/usr/lib/cni\",\"cniVersion\":\"1.1.0\",\"config\":$c}}"
expect "STATUS ready: nothing on stdout, exit 0" 0 ""

answer '{"ok":true,"result":{"error":{"code":50,"msg":"no subnet lease yet","details":"etcd unreachable"}}}'
cni "$CONF" CNI_COMMAND=STATUS CNI_PATH=/usr/lib/cni
expect "STATUS not ready: the daemon's error 50 printed, exit 1" 1 \
	'{"cniVersion":"1.1.0","code":50,"msg":"no subnet lease yet","details":"etcd unreachable"}'

answer '{"ok":true,"result":{"error":{"code":7,"msg":"netns /x is not a network namespace"}}}'
cni "$T/add-0.4.0.json" "${ADD_ENV[@]}"
expect "a CNI error from the daemon is printed in the request's version (0.4.0)" 1 \
	'{"cniVersion":"0.4.0","code":7,"msg":"netns /x is not a network namespace","details":""}'

answer '{"ok":false,"error":"too many clients"}'
cni "$T/add-1.0.0.json" "${ADD_ENV[@]}"
expect "{\"ok\":false} from the daemon: code 11, 'tartand at PATH refused the request: MSG'" 1 \
	"{\"cniVersion\":\"1.0.0\",\"code\":11,\"msg\":\"tartand at $SOCK refused the request: too many clients\",\"details\":\"\"}"

answer SILENT
start=$(now_us)
cni "$T/add-1.1.0.json" "${ADD_ENV[@]}" TARTAN_CNI_TIMEOUT_S=1
elapsed=$(($(now_us) - start))
expect "no answer within TARTAN_CNI_TIMEOUT_S=1: code 11, 'did not answer in 1 s'" 1 \
	"{\"cniVersion\":\"1.1.0\",\"code\":11,\"msg\":\"tartand at $SOCK did not answer in 1 s\",\"details\":\"\"}"
((elapsed >= 1000000)) &&
	tap_ok "the answer timeout held ($((elapsed / 1000)) ms)" ||
	tap_fail "the answer timeout held" "took $((elapsed / 1000)) ms"

answer CLOSE
cni "$T/add-1.1.0.json" "${ADD_ENV[@]}"
expect "the daemon hangs up without an answer: code 11, 'closed the connection'" 1 \
	"{\"cniVersion\":\"1.1.0\",\"code\":11,\"msg\":\"tartand at $SOCK closed the connection without an answer\",\"details\":\"\"}"

# a DEL that reached a daemon which did not do it: recorded as well
c="{\"cniVersion\":\"1.0.0\",\"name\":\"tartan-net\",\"type\":\"tartan\",\"socket\":\"$SOCK\",\"pendingDelDir\":\"$PD\"}"
conf del-sock.json "$c"
for a in CLOSE SILENT '{"ok":false,"error":"too many clients"}' \
	'{"ok":true,"result":{"error":{"code":11,"msg":"tartand is starting (no subnet yet); try again"}}}'; do
	answer "$a"
	rm -rf "$T/pending"
	cni "$CONF" "${DEL_ENV[@]}" TARTAN_CNI_TIMEOUT_S=1
	expect "DEL answered with $a: exit 0, nothing printed" 0 ""
	tap_check "DEL answered with $a: recorded as $(basename "$REC")" test -s "$REC" || true
done
answer '{"ok":true,"result":{"error":{"code":101,"msg":"deleting the veth pair: Operation not permitted"}}}'
rm -rf "$T/pending"
cni "$CONF" "${DEL_ENV[@]}"
expect "DEL refused by the daemon for good (code 101): printed, exit 1" 1 \
	'{"cniVersion":"1.0.0","code":101,"msg":"deleting the veth pair: Operation not permitted","details":""}'
tap_check_fails "... and not recorded" test -e "$PD" || true

answer 'this is not JSON'
cni "$T/add-1.1.0.json" "${ADD_ENV[@]}"
expect "a malformed answer: code 5" 1 \
	"{\"cniVersion\":\"1.1.0\",\"code\":5,\"msg\":\"malformed answer from tartand at $SOCK\",\"details\":\"\"}"

answer '{"ok":true,"result":{"result":{"ips":[{"address":"10.5.3.7/24","interface":4}]}}}'
cni "$T/add-1.1.0.json" "${ADD_ENV[@]}"
expect "an ADD result that is not of the neutral form: code 5" 1 \
	"{\"cniVersion\":\"1.1.0\",\"code\":5,\"msg\":\"malformed result from tartand at $SOCK\",\"details\":\"\"}"

tap_done
