#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# functions run through on_exit, wait_until and tap_check look unreachable to shellcheck:
# shellcheck disable=SC2317
#
# tests/daemon/http.sh: tartand's HTTP endpoints (--healthz-ip/--healthz-port: /healthz,
# /readyz, /metrics) and its systemd notifications ($NOTIFY_SOCKET), on two host-gw nodes
# ({"Network":"10.5.0.0/16","Backend":{"Type":"host-gw"}}) in network namespaces against a
# real etcd; a pod attached through the tartan CNI plugin (TARTAN_CNI) run as a runtime runs
# it (TAP; root).
#
# Asserts:
# - n1 started before any network config exists: /healthz answers 200 "ok"; /readyz answers
#   503 with the one-line reason "not ready: no subnet lease yet"; /metrics answers 200 with
#   Content-Type text/plain; version=0.0.4 and says tartan_ready 0 and tartan_lease_held 0;
#   no READY=1 has reached $NOTIFY_SOCKET (an abstract '@' name, listened on in n1's
#   namespace by a python3 datagram socket);
# - once the config is put: /readyz answers 200 "ready"; at that moment the lease is held
#   and subnet.env and the conflist exist; READY=1 arrives on $NOTIFY_SOCKET, and when it
#   arrives subnet.env and the conflist already exist (the listener looks); /metrics says
#   tartan_ready 1, tartan_lease_held 1, and tartan_lease_expiry_timestamp_seconds equals
#   `tartanctl status`'s lease_expiry;
# - every /metrics scrape passes a strict text-format 0.0.4 parser (written here: only
#   "# HELP name text" and "# TYPE name counter|gauge|histogram" comments, each at most once
#   per family and TYPE before the family's samples; samples `name{labels} value` with valid
#   names, quoted and escaped label values, no duplicate series, families contiguous;
#   counters named *_total and >= 0; histograms: _bucket series with le ascending, counts
#   cumulative, the last le="+Inf" and equal to _count, _sum present) and, when Debian's
#   promtool is installed (package prometheus; not installed by the tests, as it comes with
#   a server), also `promtool check metrics`;
# - with n2 started: n1's tartan_peers is 1 and tartan_routes 1, the values of
#   `tartanctl status` (peers, routes); n2, started with a path for $NOTIFY_SOCKET and no
#   --healthz-port, sends READY=1 once ready and listens on no TCP port (port 0: off);
# - a CNI ADD through the plugin raises tartan_cni_requests_total{command="ADD",
#   result="success"} by exactly 1 and the ADD histogram's _count and +Inf bucket by exactly
#   1, tartan_ipam_addresses_in_use from 0 to 1 and lowers tartan_ipam_addresses_free by 1
#   (253 for a /24 with nothing held); the DEL raises the DEL success counter by 1 and
#   brings in_use back to 0;
# - tartan's route to n2's subnet deleted by hand in n1: tartan_dataplane_repairs_total
#   goes up by exactly 1 once the route is back;
# - etcd requests and errors by kind: tartan_etcd_requests_total has one series per kind
#   (range put delete txn lease_grant lease_revoke lease_keepalive lease_timetolive auth
#   compact status watch) and tartan_etcd_errors_total one per kind and cause (transport
#   timeout refused malformed); with n2 up, n1's txn (the lease is created by a txn), range
#   (the startup list) and watch (two streams) counters are at least 1, and the sum over
#   kinds lies between `tartanctl status`'s etcd_requests taken just before and just after
#   the scrape (the same for the errors and etcd_errors); between the scrape before the
#   config and the one once ready, kind="txn" went up (the lease create);
# - an ADD without a container id sent straight to the control socket (the plugin would
#   refuse it itself) is answered with error 4 and raises the ADD error counter by 1 and the
#   ADD histogram's _count by 1;
# - /nope answers 404 and a POST to /metrics 405; /healthz answers 200 while 4 other
#   clients hold connections with half a request sent;
# - SIGTERM: STOPPING=1 arrives on both nodes' sockets after READY=1 (each got exactly
#   READY=1 then STOPPING=1); both daemons exit 0; no error line in either log.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/etcd.sh
. "$here/../lib/etcd.sh"
# shellcheck source=tests/lib/netns.sh
. "$here/../lib/netns.sh"
# shellcheck source=tests/lib/tartand.sh
. "$here/../lib/tartand.sh"

P=$FLANNEL_PREFIX
HOSTGW_CONFIG='{"Network":"10.5.0.0/16","Backend":{"Type":"host-gw"}}'
HTTP_PORT=9105 # inside n1's own namespace: no other test can hold it
declare -A ip=([n1]=192.0.2.11 [n2]=192.0.2.12)

netns_require
[[ -n ${TARTAN_CNI:-} && -x ${TARTAN_CNI:-} ]] ||
	tap_bail "TARTAN_CNI is not set to the tartan plugin binary (got '${TARTAN_CNI:-}')"
command -v curl >/dev/null || tap_bail "curl missing"
PROMTOOL=$(command -v promtool || true)

tartan_net_setup
T=$TARTAN_WORK/t
mkdir -p "$T"
URL=http://${ip[n1]}:$HTTP_PORT

# a runtime passes its whole environment on: a sanitized build's settings reach the plugin
SAN_ENV=()
for v in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS; do
	[[ -z ${!v:-} ]] || SAN_ENV+=("$v=${!v}")
done

# ---------------------------------------------------------------------------------------------
# The strict text-format parser: prints the samples as JSON {"name{k="v",...}": value}, with
# the labels sorted; exits 1 with the reasons when the text breaks a rule.
cat >"$T/promparse.py" <<'EOF'
import json, math, re, sys

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
SAMPLE = re.compile(r"^(%s)(?:\{(.*)\})? (\S+)(?: (-?[0-9]+))?$" % NAME)
LABEL_PAIR = re.compile(r'(%s)="((?:[^"\\\n]|\\[\\"n])*)"' % LABEL)
TYPES = ("counter", "gauge", "histogram")
errors = []

def fail(n, msg):
    errors.append("line %d: %s" % (n, msg))

def value(s):
    if s in ("+Inf", "Inf"):
        return math.inf
    if s == "-Inf":
        return -math.inf
    if s == "NaN":
        return math.nan
    if not re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", s):
        raise ValueError(s)
    return float(s)

def labels(n, text):
    out, pos = {}, 0
    while pos < len(text):
        m = LABEL_PAIR.match(text, pos)
        if not m:
            fail(n, "bad label text at %r" % text[pos:])
            return None
        if m.group(1) in out:
            fail(n, "label %s twice" % m.group(1))
        out[m.group(1)] = m.group(2)
        pos = m.end()
        if pos < len(text):
            if text[pos] != ",":
                fail(n, "expected ',' at %r" % text[pos:])
                return None
            pos += 1
    return out

text = open(sys.argv[1], encoding="utf-8").read()
if not text.endswith("\n"):
    errors.append("the text does not end in a newline")
types, helps, done, samples = {}, {}, set(), {}
current = None
hist = {}  # (family, labels without le) -> {"buckets": [(le, v)], "count": v, "sum": v}
for n, line in enumerate(text.split("\n")[:-1], 1):
    if line.startswith("#"):
        m = re.fullmatch(r"# (HELP|TYPE) (%s) (.*)" % NAME, line)
        if not m:
            fail(n, "a comment that is neither HELP nor TYPE: %r" % line)
            continue
        kind, name, rest = m.groups()
        if name in done or (current and current != name):
            if current != name and current is not None:
                done.add(current)
            if name in done:
                fail(n, "%s for %s after its samples or family ended" % (kind, name))
        current = name
        table = types if kind == "TYPE" else helps
        if name in table:
            fail(n, "second %s for %s" % (kind, name))
        if kind == "TYPE":
            if rest not in TYPES:
                fail(n, "type %r" % rest)
            if rest == "counter" and not name.endswith("_total"):
                fail(n, "counter %s does not end in _total" % name)
        elif not rest.strip():
            fail(n, "empty HELP for %s" % name)
        table[name] = rest
        continue
    m = SAMPLE.match(line)
    if not m:
        fail(n, "not a sample: %r" % line)
        continue
    name, ltext, vtext = m.group(1), m.group(2) or "", m.group(3)
    fam = name
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and types.get(name[: -len(suffix)]) == "histogram":
            fam = name[: -len(suffix)]
    if fam not in types:
        fail(n, "sample %s before (or without) a TYPE line for %s" % (name, fam))
    if fam != current:
        if current is not None:
            done.add(current)
        if fam in done:
            fail(n, "samples of %s are not contiguous" % fam)
        current = fam
    ls = labels(n, ltext)
    if ls is None:
        continue
    try:
        v = value(vtext)
    except ValueError:
        fail(n, "bad value %r" % vtext)
        continue
    key = name + ("{" + ",".join('%s="%s"' % (k, ls[k]) for k in sorted(ls)) + "}" if ls else "")
    if key in samples:
        fail(n, "duplicate series %s" % key)
    samples[key] = v
    t = types.get(fam)
    if t == "counter" and not v >= 0:
        fail(n, "counter %s is %r" % (key, v))
    if t == "histogram":
        if fam == name:
            fail(n, "histogram sample %s without _bucket/_sum/_count" % name)
            continue
        rest = {k: x for k, x in ls.items() if k != "le"}
        h = hist.setdefault((fam, json.dumps(rest, sort_keys=True)), {"buckets": []})
        if name.endswith("_bucket"):
            if "le" not in ls:
                fail(n, "bucket without le")
                continue
            try:
                h["buckets"].append((value(ls["le"]), v, n))
            except ValueError:
                fail(n, "bad le %r" % ls["le"])
        elif name.endswith("_count"):
            h["count"] = v
        else:
            h["sum"] = v
for (fam, rest), h in hist.items():
    where = "%s%s" % (fam, rest)
    b = h["buckets"]
    if not b:
        errors.append("%s: no buckets" % where)
        continue
    for (le0, v0, _), (le1, v1, n1) in zip(b, b[1:]):
        if not le1 > le0:
            errors.append("%s: le not ascending at line %d" % (where, n1))
        if v1 < v0:
            errors.append("%s: bucket counts not cumulative at line %d" % (where, n1))
    if b[-1][0] != math.inf:
        errors.append("%s: the last bucket is not le=\"+Inf\"" % where)
    if "count" not in h or "sum" not in h:
        errors.append("%s: _count or _sum missing" % where)
    elif b[-1][1] != h["count"]:
        errors.append("%s: +Inf bucket %r != _count %r" % (where, b[-1][1], h["count"]))
for name in helps:
    if name not in types:
        errors.append("HELP for %s without a TYPE" % name)
if errors:
    print("\n".join(errors), file=sys.stderr)
    sys.exit(1)
print(json.dumps(samples, sort_keys=True))
EOF

# The systemd side of $NOTIFY_SOCKET: binds NAME (a path, or '@' and an abstract name) and
# appends each datagram to OUT as "<datagram> files=<yes|no>", yes when every FILE exists
# at the moment it arrives. Writes OUT.bound once it listens; exits 0 after STOPPING=1.
cat >"$T/notify.py" <<'EOF'
import os, socket, sys
name, out, files = sys.argv[1], sys.argv[2], sys.argv[3:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + name[1:] if name.startswith("@") else name)
open(out + ".bound", "w").close()
while True:
    msg = s.recv(4096).decode()
    have = "yes" if all(os.path.exists(f) for f in files) else "no"
    with open(out, "a") as f:
        f.write("%s files=%s\n" % (msg, have))
    if msg == "STOPPING=1":
        break
EOF

# notify_listen NODE NAME OUT FILE...: the listener, in NODE's namespace (abstract names
# are per network namespace); its PID in notify_pid[NODE] (netns.sh's cleanup kills it at
# exit if it still runs)
declare -A notify_pid=()
notify_listen()
{
	local node=$1 name=$2 out=$3 pid
	shift 3
	: >"$out"
	netns_spawn pid "$node" "$out.log" "$PYTHON3" "$T/notify.py" "$name" "$out" "$@" ||
		return 1
	notify_pid[$node]=$pid
	wait_until 5 test -e "$out.bound"
}

# http PATH [CURL ARGS...]: GET $URL/PATH from inside n1; the body in $T/body, the headers
# in $T/headers; prints the status code
http()
{
	local path=$1
	shift
	netns_exec n1 curl -s --max-time 5 -o "$T/body" -D "$T/headers" -w '%{http_code}' \
		"$@" "$URL$path"
}

# status_is PATH CODE
status_is()
{
	[[ $(http "$1" 2>/dev/null) == "$2" ]]
}

# promtool_check FILE: Debian's promtool (package prometheus) on the text in FILE
promtool_check()
{
	"$PROMTOOL" check metrics <"$1"
}

# scrape NAME: GET /metrics into $T/NAME.txt, parse it strictly into $T/NAME.json; TAP
# results for both parsers
scrape()
{
	local name=$1 code out
	code=$(http /metrics 2>&1) || true
	cp "$T/body" "$T/$name.txt" 2>/dev/null || : >"$T/$name.txt"
	tap_is "$code" 200 "$name: /metrics answers 200" || true
	tap_like "$(grep -i '^content-type:' "$T/headers" | tr -d '\r')" \
		'^[Cc]ontent-[Tt]ype: text/plain; version=0\.0\.4' \
		"$name: /metrics is text/plain; version=0.0.4" || true
	if out=$("$PYTHON3" "$T/promparse.py" "$T/$name.txt" 2>&1); then
		printf '%s\n' "$out" >"$T/$name.json"
		tap_ok "$name: /metrics passes the strict text-format parser"
	else
		echo '{}' >"$T/$name.json"
		tap_fail "$name: /metrics passes the strict text-format parser" "$out" \
			"text:" "$(cat "$T/$name.txt")"
	fi
	# a second opinion where an operator installed it; the strict parser above always runs
	if [[ -n $PROMTOOL ]]; then
		tap_check "$name: promtool check metrics accepts it" promtool_check "$T/$name.txt" ||
			true
	fi
}

# m NAME SERIES: the value of SERIES (name{k="v",...}, labels sorted) in scrape NAME, as an
# integer when it is one; "absent" when it is not there
m()
{
	"$PYTHON3" -c '
import json, sys
d = json.load(open(sys.argv[1]))
v = d.get(sys.argv[2])
print("absent" if v is None else int(v) if v == int(v) else v)
' "$T/$1.json" "$2"
}

# msum NAME FAMILY: the sum of FAMILY's series in scrape NAME (an integer)
msum()
{
	"$PYTHON3" -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(int(sum(v for k, v in d.items() if k.startswith(sys.argv[2] + "{"))))
' "$T/$1.json" "$2"
}

# kind_series NAME FAMILY: the label sets of FAMILY's series in scrape NAME, one a line, sorted
kind_series()
{
	"$PYTHON3" -c '
import json, sys
d = json.load(open(sys.argv[1]))
p = sys.argv[2] + "{"
print("\n".join(sorted(k[len(p) - 1:] for k in d if k.startswith(p))))
' "$T/$1.json" "$2"
}

# delta A B SERIES: m B SERIES - m A SERIES
delta()
{
	echo $(($(m "$2" "$3") - $(m "$1" "$3")))
}

ADD_OK='tartan_cni_requests_total{command="ADD",result="success"}'
ADD_ERR='tartan_cni_requests_total{command="ADD",result="error"}'
DEL_OK='tartan_cni_requests_total{command="DEL",result="success"}'
ADD_COUNT='tartan_cni_request_duration_seconds_count{command="ADD"}'
ADD_INF='tartan_cni_request_duration_seconds_bucket{command="ADD",le="+Inf"}'
REPAIRS=tartan_dataplane_repairs_total

# ---------------------------------------------------------------------------------------------
# n1: started before the config exists

for n in n1 n2; do
	netns_node "$n" "${ip[$n]}/24" || tap_bail "could not make node namespace $n"
done
conflist1=$TARTAN_WORK/n1/net.d/10-tartan.conflist
notify_listen n1 "@tartan-test-notify-$$-${NETNS[n1]}" "$T/notify-n1" \
	"$TARTAN_WORK/n1/subnet.env" "$conflist1" || tap_bail "notify listener for n1 did not start"
TARTAND_ENV[n1]="NOTIFY_SOCKET=@tartan-test-notify-$$-${NETNS[n1]}"
tartand_start n1 -- --resync-interval 1 --bridge cni0 --rkt-net-dir= \
	--healthz-ip "${ip[n1]}" --healthz-port "$HTTP_PORT" ||
	tap_bail "could not start tartand in n1"

if wait_until 10 status_is /healthz 200; then
	tap_ok "n1: /healthz answers 200"
else
	tap_fail "n1: /healthz answers 200" "saw: $(http /healthz 2>&1)" "log: $(tlog n1)"
fi
tap_is "$(cat "$T/body")" ok "n1: /healthz says ok" || true
tap_is "$(http /readyz 2>&1)" 503 "n1: /readyz answers 503 before a config exists" || true
tap_is "$(cat "$T/body")" "not ready: no subnet lease yet" \
	"n1: /readyz gives the reason in one line" || true
scrape before
tap_is "$(m before tartan_ready)" 0 "before: tartan_ready is 0" || true
tap_is "$(m before tartan_lease_held)" 0 "before: tartan_lease_held is 0" || true
tap_is "$(m before tartan_lease_expiry_timestamp_seconds)" absent \
	"before: no lease expiry without a lease" || true
tap_is "$(grep -c READY=1 "$T/notify-n1" || true)" 0 "n1: no READY=1 before the lease" || true

# ---------------------------------------------------------------------------------------------
# the config: n1 gets its lease and becomes ready

tap_check "host-gw config put" ectl put "$P/config" "$HOSTGW_CONFIG"
if wait_until 20 status_is /readyz 200; then
	tap_ok "n1: /readyz answers 200 once the config is there"
else
	tap_fail "n1: /readyz answers 200 once the config is there" \
		"saw: $(http /readyz 2>&1) $(cat "$T/body")" "log: $(tlog n1)"
fi
tap_is "$(cat "$T/body")" ready "n1: /readyz says ready" || true
subnet1=$(tstatus n1 subnet 2>/dev/null || true)
tap_like "$subnet1" '^10\.5\.[0-9]+\.0/24$' "n1: ready means a lease is held ($subnet1)" || true
tap_check "n1: ready means subnet.env is written" test -s "$TARTAN_WORK/n1/subnet.env" || true
tap_check "n1: ready means the conflist is written" test -s "$conflist1" || true
if wait_until 5 grep -q '^READY=1' "$T/notify-n1"; then
	tap_ok "n1: READY=1 arrived on the abstract NOTIFY_SOCKET"
else
	tap_fail "n1: READY=1 arrived on the abstract NOTIFY_SOCKET" \
		"received: $(cat "$T/notify-n1")" "log: $(tlog n1)"
fi
tap_is "$(grep '^READY=1' "$T/notify-n1" || true)" "READY=1 files=yes" \
	"n1: when READY=1 arrived, subnet.env and the conflist existed" || true
scrape ready
tap_is "$(m ready tartan_ready)" 1 "ready: tartan_ready is 1" || true
tap_is "$(m ready tartan_lease_held)" 1 "ready: tartan_lease_held is 1" || true
tap_is "$(m ready tartan_lease_expiry_timestamp_seconds)" "$(tstatus n1 lease_expiry 2>&1)" \
	"ready: tartan_lease_expiry_timestamp_seconds is status's lease_expiry" || true

# ---------------------------------------------------------------------------------------------
# n2: a peer, with a path NOTIFY_SOCKET and no HTTP

notify_listen n2 "$T/notify-n2.sock" "$T/notify-n2" "$TARTAN_WORK/n2/subnet.env" ||
	tap_bail "notify listener for n2 did not start"
TARTAND_ENV[n2]="NOTIFY_SOCKET=$T/notify-n2.sock"
tartand_start n2 -- --resync-interval 1 --bridge cni0 --rkt-net-dir= ||
	tap_bail "could not start tartand in n2"
if wait_until 20 tstatus_is n1 peers 1 && wait_until 20 tstatus_is n1 routes 1; then
	tap_ok "n1: running with 1 peer and its route"
else
	tap_fail "n1: running with 1 peer and its route" "saw: $(tstatus n1 2>&1)"
fi
subnet2=$(tstatus n2 subnet 2>/dev/null || true)
[[ $subnet2 =~ ^10\.5\.[0-9]+\.0/24$ ]] || tap_bail "n2 has no subnet ('$subnet2')"
if wait_until 10 grep -q '^READY=1' "$T/notify-n2"; then
	tap_ok "n2: READY=1 arrived on the path NOTIFY_SOCKET"
else
	tap_fail "n2: READY=1 arrived on the path NOTIFY_SOCKET" "received: $(cat "$T/notify-n2")"
fi
tap_is "$(netns_exec n2 ss -Hltn 2>&1)" "" "n2: without --healthz-port nothing listens on TCP" ||
	true

scrape peers
tap_is "$(m peers tartan_peers)" "$(tstatus n1 peers 2>&1)" \
	"peers: tartan_peers is status's peers (1)" || true
tap_is "$(m peers tartan_routes)" "$(tstatus n1 routes 2>&1)" \
	"peers: tartan_routes is status's routes (1)" || true

# etcd requests and errors by kind: every series there, and the counters add up to status's
ETCD_KINDS="range put delete txn lease_grant lease_revoke lease_keepalive lease_timetolive auth
compact status watch"
ETCD_CAUSES="transport timeout refused malformed"
want_req=$(for k in $ETCD_KINDS; do printf '{kind="%s"}\n' "$k"; done | sort)
want_err=$(for k in $ETCD_KINDS; do for c in $ETCD_CAUSES; do
	printf '{cause="%s",kind="%s"}\n' "$c" "$k"
done; done | sort)
tap_is "$(kind_series peers tartan_etcd_requests_total)" "$want_req" \
	"peers: tartan_etcd_requests_total has one series per request kind" || true
tap_is "$(kind_series peers tartan_etcd_errors_total)" "$want_err" \
	"peers: tartan_etcd_errors_total has one series per kind and cause" || true
tap_like "$(delta before ready 'tartan_etcd_requests_total{kind="txn"}')" '^[1-9][0-9]*$' \
	"ready: creating the lease raised tartan_etcd_requests_total{kind=\"txn\"}" || true
for k in txn range watch; do
	tap_like "$(m peers "tartan_etcd_requests_total{kind=\"$k\"}")" '^[1-9][0-9]*$' \
		"peers: tartan_etcd_requests_total{kind=\"$k\"} is at least 1" || true
done
req0=$(tstatus n1 etcd_requests 2>&1 || true)
err0=$(tstatus n1 etcd_errors 2>&1 || true)
scrape etcd
req1=$(tstatus n1 etcd_requests 2>&1 || true)
err1=$(tstatus n1 etcd_errors 2>&1 || true)
req_sum=$(msum etcd tartan_etcd_requests_total)
err_sum=$(msum etcd tartan_etcd_errors_total)
if [[ $req0 =~ ^[0-9]+$ && $req1 =~ ^[0-9]+$ ]] && ((req0 <= req_sum && req_sum <= req1)); then
	tap_ok "etcd: requests summed over kinds ($req_sum) are status's etcd_requests"
else
	tap_fail "etcd: requests summed over kinds ($req_sum) are status's etcd_requests" \
		"status before: $req0, after: $req1"
fi
if [[ $err0 =~ ^[0-9]+$ && $err1 =~ ^[0-9]+$ ]] && ((err0 <= err_sum && err_sum <= err1)); then
	tap_ok "etcd: errors summed over kinds and causes ($err_sum) are status's etcd_errors"
else
	tap_fail "etcd: errors summed over kinds and causes ($err_sum) are status's etcd_errors" \
		"status before: $err0, after: $err1"
fi
tap_is "$(m peers tartan_ipam_addresses_in_use)" 0 "peers: no pod address in use" || true
tap_is "$(m peers tartan_ipam_addresses_free)" 253 \
	"peers: 253 free addresses (a /24 less network, gateway and broadcast)" || true

# ---------------------------------------------------------------------------------------------
# a pod through the tartan CNI plugin, as a runtime runs it

podns=${NETNS_TAG}p0
ip netns add "$podns" || tap_bail "ip netns add $podns failed"
pod_cleanup()
{
	ip netns del "$podns" 2>/dev/null || true
}
on_exit pod_cleanup
ip -n "$podns" link set lo up

# the tartan plugin's own object from the conflist, as libcni passes it
"$PYTHON3" -c '
import json, sys
l = json.load(open(sys.argv[1]))
p = dict(l["plugins"][0])
p.pop("capabilities", None)
p["cniVersion"], p["name"] = l["cniVersion"], l["name"]
print(json.dumps(p))
' "$conflist1" >"$T/conf.json" || tap_bail "cannot read $conflist1"

# cni CMD ID: the plugin in n1 for pod ID in $podns; RC its exit status, output in $T/cni.out
cni()
{
	RC=0
	netns_exec n1 env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin ${SAN_ENV[@]+"${SAN_ENV[@]}"} \
		CNI_COMMAND="$1" CNI_CONTAINERID="$2" CNI_NETNS="/var/run/netns/$podns" \
		CNI_IFNAME=eth0 CNI_PATH="$(dirname "$TARTAN_CNI")" \
		timeout 30 "$TARTAN_CNI" <"$T/conf.json" >"$T/cni.out" 2>"$T/cni.err" || RC=$?
}

cni ADD ctr-http-1
tap_is "$RC" 0 "CNI ADD through the plugin succeeds" || tap_diag "$(cat "$T/cni.out" "$T/cni.err")"
scrape added
tap_is "$(delta peers added "$ADD_OK")" 1 "added: the ADD success counter went up by 1" || true
tap_is "$(delta peers added "$ADD_COUNT")" 1 "added: the ADD histogram's _count went up by 1" ||
	true
tap_is "$(delta peers added "$ADD_INF")" 1 "added: the ADD +Inf bucket went up by 1" || true
tap_is "$(m added tartan_ipam_addresses_in_use)" 1 "added: 1 pod address in use" || true
tap_is "$(m added tartan_ipam_addresses_free)" 252 "added: 252 free addresses" || true

cni DEL ctr-http-1
tap_is "$RC" 0 "CNI DEL through the plugin succeeds" || tap_diag "$(cat "$T/cni.out" "$T/cni.err")"
# an ADD the daemon refuses: straight to the control socket, without a container id (the
# plugin would refuse it before asking the daemon)
raw_add()
{
	"$PYTHON3" -c '
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(b"{\"command\":\"cni\",\"cni\":{\"command\":\"ADD\",\"ifName\":\"eth0\"}}\n")
buf = b""
while not buf.endswith(b"\n"):
    chunk = s.recv(65536)
    if not chunk:
        break
    buf += chunk
print(json.loads(buf)["result"]["error"]["code"])
' "${TARTAND_SOCK[n1]}"
}
tap_is "$(raw_add 2>&1)" 4 "an ADD without a container id is answered with error 4" || true
scrape deleted
tap_is "$(delta added deleted "$DEL_OK")" 1 "deleted: the DEL success counter went up by 1" ||
	true
tap_is "$(m deleted tartan_ipam_addresses_in_use)" 0 "deleted: no pod address in use" || true
tap_is "$(delta added deleted "$ADD_ERR")" 1 "deleted: the ADD error counter went up by 1" ||
	true
tap_is "$(delta added deleted "$ADD_OK")" 0 "deleted: no further ADD success counted" || true
tap_is "$(delta added deleted "$ADD_COUNT")" 1 \
	"deleted: the ADD histogram counts the refused ADD too" || true

# ---------------------------------------------------------------------------------------------
# drift: a route deleted by hand is repaired, and counted

route_back()
{
	[[ -n $(netns_exec n1 ip -4 route show "$subnet2" proto 84) ]]
}
tap_check "n1: tartan's route to n2's $subnet2 deleted by hand" \
	netns_exec n1 ip route del "$subnet2" via "${ip[n2]}" dev eth0 proto 84
if wait_until 5 route_back; then
	tap_ok "n1: the route is back"
else
	tap_fail "n1: the route is back" "routes: $(netns_exec n1 ip -4 route 2>&1)"
fi
scrape repaired
tap_is "$(delta deleted repaired "$REPAIRS")" 1 \
	"repaired: tartan_dataplane_repairs_total went up by exactly 1" || true
tap_is "$(m repaired tartan_routes)" 1 "repaired: tartan_routes is 1 again" || true

# ---------------------------------------------------------------------------------------------
# other paths and methods

tap_is "$(http /nope 2>&1)" 404 "/nope answers 404" || true
tap_is "$(http /metrics -X POST 2>&1)" 405 "POST /metrics answers 405" || true
tap_is "$(http /healthz 2>&1)" 200 "/healthz still answers 200" || true

# a client that sends half a request and waits must not hold up anyone else (no threads:
# MHD is driven by the loop, never blocks it)
cat >"$T/half.py" <<'EOF'
import json, socket, sys, urllib.request
host, port, control = sys.argv[1], int(sys.argv[2]), sys.argv[3]
slow = [socket.create_connection((host, port)) for _ in range(4)]
for s in slow:
    s.sendall(b"GET /metr")
r = urllib.request.urlopen("http://%s:%d/healthz" % (host, port), timeout=3)
c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
c.settimeout(3)
c.connect(control)
c.sendall(b'{"command":"status"}\n')
buf = b""
while not buf.endswith(b"\n"):
    buf += c.recv(65536)
print(r.status, r.read().decode().strip(), json.loads(buf)["result"]["state"])
EOF
tap_is "$(netns_exec n1 "$PYTHON3" "$T/half.py" "${ip[n1]}" "$HTTP_PORT" "${TARTAND_SOCK[n1]}" 2>&1)" \
	"200 ok running" \
	"/healthz and the control socket answer while 4 clients sit on half a request" || true

# ---------------------------------------------------------------------------------------------
# the end: STOPPING=1

for n in n1 n2; do
	tap_is "$(tlog_errors "$n")" "" "$n: no error in the log" || true
	tartand_stop "$n" TERM || true
	tap_is "$TARTAND_RC" 0 "$n: tartand exits 0 on SIGTERM" || true
	if wait_until 5 grep -q '^STOPPING=1' "$T/notify-$n"; then
		tap_ok "$n: STOPPING=1 arrived at SIGTERM"
	else
		tap_fail "$n: STOPPING=1 arrived at SIGTERM" "received: $(cat "$T/notify-$n")"
	fi
	tap_is "$(cut -d' ' -f1 "$T/notify-$n" | paste -sd' ')" "READY=1 STOPPING=1" \
		"$n: exactly READY=1, then STOPPING=1" || true
	rc=0
	wait_until 5 _pid_dead "${notify_pid[$n]}" || rc=$?
	wait "${notify_pid[$n]}" 2>/dev/null || rc=$?
	tap_is "$rc" 0 "$n: the notify listener ended after STOPPING=1" || true
done

tap_done
