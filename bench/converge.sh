#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# bench/converge.sh: how soon a peer's lease change reaches the kernel of a node. Not a test.
#
#	bash bench/converge.sh [BUILD_DIR] [TRIALS]
#
# BUILD_DIR defaults to ./build, TRIALS to 100. Needs root: everything happens in network
# namespaces made and deleted here.
#
# An underlay namespace with etcd on its bridge (192.0.2.254) and two node namespaces, A
# (192.0.2.11) and B (192.0.2.12), each running tartand with the host-gw backend
# ({"Network":"10.5.0.0/16","Backend":{"Type":"host-gw"}}, --resync-interval 3600). One
# python process inside A does everything with one monotonic clock and one select loop:
#   - it writes over etcd's JSON gateway (keep-alive HTTP/1.1 connection, no process start per
#     write), each trial a new host-gw peer lease (a free 10.5.X.0/24, public IP 192.0.2.1YY
#     on A's segment, on a 24 h etcd lease), then, once that has landed, its deletion;
#   - it listens to A's kernel (NETLINK_ROUTE socket bound to RTNLGRP_IPV4_ROUTE, in A) for the
#     protocol-84 route to that subnet appearing (RTM_NEWROUTE), resp. going (RTM_DELROUTE);
#   - as the reference, it holds its own etcd watch on the lease prefix (POST /v3/watch on a
#     second connection, the stream read as it comes) and notes when etcd delivers the event.
# Latency = time the event is read - time just before the request's first byte is sent.
# Median and p99 (nearest rank) over the trials, for puts and deletes: etcd's answer to the
# write, etcd's watch event (what any watcher can get at best), and tartand's route in the
# kernel (what tartand adds on top of the watch: one registry update and one route sync).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
trials=${2:-100}
if ! [[ $trials =~ ^[0-9]+$ ]] || ((trials < 1)); then
	echo "converge.sh: TRIALS is a positive number" >&2
	exit 2
fi
export TARTAND=$build/daemon/tartand TARTANCTL=$build/ctl/tartanctl
for b in "$TARTAND" "$TARTANCTL"; do
	[[ -x $b ]] || { echo "converge.sh: $b is missing: build first" >&2; exit 2; }
done
((EUID == 0)) || { echo "converge.sh: needs root (network namespaces)" >&2; exit 2; }

# shellcheck source=tests/lib/etcd.sh
. "$root/tests/lib/etcd.sh"
# shellcheck source=tests/lib/netns.sh
. "$root/tests/lib/netns.sh"
# shellcheck source=tests/lib/tartand.sh
. "$root/tests/lib/tartand.sh"

P=$FLANNEL_PREFIX
tartan_net_setup # underlay u, etcd e on 192.0.2.254 in u, TARTAN_WORK
work=$TARTAN_WORK

ectl put "$P/config" '{"Network":"10.5.0.0/16","Backend":{"Type":"host-gw"}}' >/dev/null
netns_node a 192.0.2.11/24
netns_node b 192.0.2.12/24
for n in a b; do
	tartand_start "$n" -- --resync-interval 3600 --log-level info \
		"--cni-conf-dir=$work/$n/cni" --rkt-net-dir=
done
for n in a b; do
	wait_until 20 tstatus_is "$n" routes 1 ||
		{ echo "node $n did not get its route to the other node: $(tstatus "$n" 2>&1)" >&2; exit 1; }
done
sub_a=$(tstatus a subnet)
sub_b=$(tstatus b subnet)
echo "== A holds $sub_a, B holds $sub_b; $trials trials" >&2

cat >"$work/converge.py" <<'PY'
# converge.py HOST PORT PREFIX TRIALS TAKEN...: the trials, in the node's namespace; prints
# one line per operation: "put|del K ack_ms watch_ms route_ms"
import base64, json, select, socket, struct, sys, time

host, port, prefix, trials = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
taken = set(sys.argv[5:])
subnets = ["10.5.%d.0" % x for x in range(1, 255) if "10.5.%d.0/24" % x not in taken]
b64 = lambda s: base64.b64encode(s.encode()).decode()
TIMEOUT = 5.0


class Http:
    """One keep-alive HTTP/1.1 connection, read incrementally from the select loop."""

    def __init__(self):
        self.s = socket.create_connection((host, port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def send(self, path, body):
        data = json.dumps(body).encode()
        self.s.sendall(b"POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                       b"Content-Length: %d\r\n\r\n%s" % (path.encode(), host.encode(), port,
                                                           len(data), data))

    def fill(self):
        d = self.s.recv(1 << 16)
        if not d:
            sys.exit("etcd closed the connection")
        self.buf += d

    def response(self):
        """A whole response with a Content-Length body, or None for now."""
        h = self.buf.find(b"\r\n\r\n")
        if h < 0:
            return None
        head = self.buf[:h].decode().split("\r\n")
        n = 0
        for line in head[1:]:
            k, _, v = line.partition(":")
            if k.strip().lower() == "content-length":
                n = int(v)
            if k.strip().lower() == "transfer-encoding":
                sys.exit("unexpected chunked answer")
        if len(self.buf) < h + 4 + n:
            return None
        body, self.buf = self.buf[h + 4:h + 4 + n], self.buf[h + 4 + n:]
        if not head[0].split()[1] == "200":
            sys.exit("etcd said %s: %s" % (head[0], body[:200]))
        return json.loads(body)

    def request(self, path, body):
        self.send(path, body)
        while True:
            r = self.response()
            if r is not None:
                return r
            self.fill()


class Watch(Http):
    """A watch stream: chunked transfer encoding, one JSON message after another."""

    def __init__(self, key, end):
        super().__init__()
        self.send("/v3/watch", {"create_request": {"key": b64(key), "range_end": b64(end)}})
        self.head = False
        self.data = b""
        self.dec = json.JSONDecoder()

    def messages(self):
        if not self.head:
            h = self.buf.find(b"\r\n\r\n")
            if h < 0:
                return []
            if b" 200 " not in self.buf[:h].split(b"\r\n")[0] + b" ":
                sys.exit("watch refused: %s" % self.buf[:h])
            self.buf, self.head = self.buf[h + 4:], True
        while True:  # de-chunk
            e = self.buf.find(b"\r\n")
            if e < 0:
                break
            n = int(self.buf[:e].split(b";")[0], 16)
            if len(self.buf) < e + 2 + n + 2:
                break
            self.data += self.buf[e + 2:e + 2 + n]
            self.buf = self.buf[e + 2 + n + 2:]
        out = []
        text = self.data.decode()
        i = 0
        while True:
            while i < len(text) and text[i] in " \r\n\t":
                i += 1
            try:
                m, i = self.dec.raw_decode(text, i)
            except ValueError:
                break
            out.append(m)
        self.data = text[i:].encode()
        return out


nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
nl.setsockopt(socket.SOL_SOCKET, 33, 4 << 20)  # SO_RCVBUFFORCE
nl.bind((0, 0x40))  # RTMGRP_IPV4_ROUTE


def routes():
    """(type, dst) of the protocol-84 /24 route messages waiting on the socket."""
    buf = nl.recv(1 << 16)
    off, out = 0, []
    while off + 16 <= len(buf):
        mlen, mtype = struct.unpack_from("=IH", buf, off)
        if mlen < 16:
            break
        body, end = off + 16, off + mlen
        if mtype in (24, 25) and buf[body + 5] == 84 and buf[body + 1] == 24:
            a = body + 12
            while a + 4 <= end:
                alen, atype = struct.unpack_from("=HH", buf, a)
                if alen < 4:
                    break
                if atype == 1:
                    out.append((mtype, socket.inet_ntoa(buf[a + 4:a + 8])))
                a += (alen + 3) & ~3
        off += (mlen + 3) & ~3
    return out


kv = Http()
lease = kv.request("/v3/lease/grant", {"TTL": 86400})["ID"]
sub_prefix = prefix + "/subnets/"
watch = Watch(sub_prefix, sub_prefix[:-1] + chr(ord(sub_prefix[-1]) + 1))
while True:  # wait for the watch to be created
    select.select([watch.s], [], [], TIMEOUT)
    watch.fill()
    if any(m.get("result", {}).get("created") for m in watch.messages()):
        break


def op(kind, k, subnet):
    key = "%s%s-24" % (sub_prefix, subnet)
    if kind == "put":
        value = '{"PublicIP":"192.0.2.%d","PublicIPv6":null,"BackendType":"host-gw"}' % (100 + k % 100)
        path, body = "/v3/kv/put", {"key": b64(key), "value": b64(value), "lease": lease}
    else:
        path, body = "/v3/kv/deleterange", {"key": b64(key)}
    want_route, want_ev = (24, "PUT") if kind == "put" else (25, "DELETE")
    t = {}
    t0 = time.monotonic()
    kv.send(path, body)
    deadline = t0 + TIMEOUT
    while len(t) < 3:
        left = deadline - time.monotonic()
        if left <= 0:
            sys.exit("%s %d (%s): only %s within %.0f s" % (kind, k, subnet, sorted(t), TIMEOUT))
        ready, _, _ = select.select([kv.s, watch.s, nl], [], [], left)
        now = time.monotonic()
        if nl in ready:
            for mtype, dst in routes():
                if mtype == want_route and dst == subnet and "route" not in t:
                    t["route"] = now
        if watch.s in ready:
            watch.fill()
            for m in watch.messages():
                for ev in m.get("result", {}).get("events", []):
                    if (ev.get("type", "PUT") == want_ev and "watch" not in t
                            and base64.b64decode(ev["kv"]["key"]).decode() == key):
                        t["watch"] = now
        if kv.s in ready:
            kv.fill()
            if kv.response() is not None:
                t["ack"] = now
    ms = lambda x: "%.3f" % ((t[x] - t0) * 1000)
    print(kind, k, ms("ack"), ms("watch"), ms("route"), flush=True)


for k in range(trials):
    subnet = subnets[k % len(subnets)]
    op("put", k, subnet)
    time.sleep(0.01)
    op("del", k, subnet)
    time.sleep(0.01)
PY

# the trials run in A, as a child of this shell (killed and reaped at exit if interrupted)
netns_spawn pid a "$work/converge.log" "$PYTHON3" "$work/converge.py" "$NETNS_UNDERLAY_IP" \
	"${ETCD_ENDPOINT_e##*:}" "$P" "$trials" "$sub_a" "$sub_b"
rc=0
wait "$pid" || rc=$?
if ((rc != 0)); then
	echo "the trials failed (exit status $rc):" >&2
	tail -n 20 "$work/converge.log" >&2
	exit 1
fi
n=$(grep -c '^put ' "$work/converge.log" || true)
((n == trials)) || { echo "$n trials of $trials in the log" >&2; exit 1; }
for n in a b; do
	tartand_alive "$n" || { echo "tartand in $n died" >&2; exit 1; }
	errs=$(tlog_errors "$n")
	[[ -z $errs ]] || echo "tartand $n logged errors: $errs" >&2
	tartand_stop "$n" TERM || true
	[[ $TARTAND_RC == 0 ]] || echo "tartand $n exited with status $TARTAND_RC on SIGTERM" >&2
done

# stat KIND COLUMN: "median p99" (nearest rank) of that column for put or del lines; column
# 6 is route - watch of the same trial
stat()
{
	awk -v k="$1" -v c="$2" '$1 == k { $6 = $5 - $4; print $c }' "$work/converge.log" | sort -g |
		awk '{ v[NR] = $1 } END {
			m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			r = int(NR * 0.99); if (r < NR * 0.99) r++; if (r < 1) r = 1
			printf "%.2f %.2f\n", m, v[r] }'
}

echo "| latency from the write (ms), $trials trials | etcd answers the write | etcd watch event (reference) | tartand's route in the kernel | route - watch event, per trial |"
echo "|---|---|---|---|---|"
for kind in put del; do
	read -r am ap <<<"$(stat "$kind" 3)"
	read -r wm wp <<<"$(stat "$kind" 4)"
	read -r rm rp <<<"$(stat "$kind" 5)"
	read -r dm dp <<<"$(stat "$kind" 6)"
	label=$([[ $kind == put ]] && echo "new lease (put)" || echo "lease deleted")
	echo "| $label: median | $am | $wm | $rm | $dm |"
	echo "| $label: p99 | $ap | $wp | $rp | $dp |"
done
# the libs: a finished run, not an interrupted one (no logs dumped at exit)
tap_done >/dev/null
