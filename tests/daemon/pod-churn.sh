#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# functions run through on_exit and wait_until look unreachable to shellcheck:
# shellcheck disable=SC2317
#
# tests/daemon/pod-churn.sh: 1,000 pods added and deleted through the tartan CNI plugin by 4
# concurrent callers, then a SIGKILL of tartand in the middle of a burst of ADDs and DELs,
# a restart and a CNI GC (TAP; root).
#
# One node n1 runs tartand (host-gw, {"Network":"10.5.0.0/16","SubnetLen":22,...}: a /22,
# 1,021 pod addresses). The plugin (TARTAN_CNI, default <dir of TARTAND>/../cni/tartan) is run
# as a runtime runs it: from inside the node, with a clean environment holding only PATH and
# CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS=/var/run/netns/X, CNI_IFNAME=eth0, CNI_PATH, and on
# stdin the conf a runtime builds from the 10-tartan.conflist tartand wrote (the tartan plugin
# object plus the list's "name" and "cniVersion"). The callers are threads of one python3
# driver (below), each running its own plugin processes.
#
# Phase 1, churn. 4 callers x 250 pods, each caller adding and deleting in a random
# interleaving with at most 20 of its pods live at once; pod network namespaces (24 per
# caller) are made up front and reused once their pod is deleted. Asserts: every one of the
# 2,000 plugin runs exits 0 and every ADD prints a result in the conf's cniVersion with one
# address of the node's /22 (not its network, broadcast or gateway address) on eth0 in the
# pod's netns; no ADD hands out an address a live pod holds (each ADD's address is checked
# against the set shared by the callers, where an address enters when its ADD returned and
# leaves before its DEL starts); at 5 checkpoints (the callers stopped at a barrier: after
# 50, 100, 150 and 200 pods each, and at the end) the IPAM directory
# (<state-dir>/networks/rkt.kubernetes.io) holds exactly one file per live pod, named by its
# address, holding "<id>\r\neth0", and nothing but those, "lock" and "last_reserved_ip.0";
# the node's veth host ends are exactly the live pods' (all on cni0) and each live pod's eth0
# holds exactly its address; at the end no address file, no host veth, no eth0 in any pod
# namespace is left; tartand logged no error.
#
# Phase 2, SIGKILL. 4 callers add 200 pods (50 each; all must succeed; the store must match
# them). Then a burst: each caller makes 40 random operations (DEL of one of its pods or ADD of
# a new one, each in a namespace of its own, never reused), and tartand is SIGKILLed once 40
# of the 160 have completed, left down 0.5 s and started again on the same state dir. The
# callers record every operation's outcome and check each ADD's address against their shared
# set of live pods' addresses, as in phase 1 (asserted: no duplicate, in the fill and in the
# burst); failures are expected only for operations started before the restarted daemon is
# running again (asserted). The pods that exist are those with
# a successful ADD and no DEL attempted; an operation that failed (in flight at the kill, or
# answered while the daemon had no subnet yet) has an unknown outcome and is decided by whether
# its attachment is whole: eth0 holding an address and the host end on cni0 (an ADD cut short
# part of the way failed for its caller: GC must remove what it left). Asserted: the kill fell inside
# the burst (operations completed before it and after the restart); before any GC, no address file belongs to a pod whose DEL
# succeeded (a successful DEL released its address, also one answered by a daemon that had
# just restarted). Then a CNI GC through the plugin (cniVersion 1.1.0,
# "cni.dev/valid-attachments" = the existing pods) must succeed, and: no temp file is left in
# the store; the store holds exactly one file per existing pod ("<id>\r\neth0"); each
# existing pod's eth0 holds exactly the address of its file (so the addresses are unique);
# the host veths are exactly the existing pods'. Finally all existing pods are DELeted by the
# 4 callers (all succeed), after which no address file, veth or pod eth0 is left, and tartand
# exits 0 on SIGTERM.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/etcd.sh
. "$here/../lib/etcd.sh"
# shellcheck source=tests/lib/netns.sh
. "$here/../lib/netns.sh"
# shellcheck source=tests/lib/tartand.sh
. "$here/../lib/tartand.sh"

P=$FLANNEL_PREFIX
CHURN_CONFIG='{"Network":"10.5.0.0/16","SubnetLen":22,"Backend":{"Type":"host-gw"}}'
CALLERS=4
PODS_PER_CALLER=250     # phase 1: 4 x 250 = 1,000 pods
WINDOW=20               # phase 1: live pods per caller at most
KEEP_PER_CALLER=50      # phase 2: 4 x 50 = 200 live pods
BURST_PER_CALLER=40     # phase 2: operations per caller in the burst
KILL_AFTER=40           # phase 2: completed burst operations before the SIGKILL
POD_NS_COUNT=$((CALLERS * (KEEP_PER_CALLER + BURST_PER_CALLER)))

: "${TARTAN_CNI:=$(dirname "${TARTAND:-.}")/../cni/tartan}"

tartan_net_setup
[[ -x $TARTAN_CNI ]] || tap_bail "TARTAN_CNI is not an executable (got '$TARTAN_CNI')"
TARTAN_CNI=$(cd "$(dirname "$TARTAN_CNI")" && pwd)/$(basename "$TARTAN_CNI")

DRIVER=$TARTAN_WORK/churn.py
IPAM_DIR=$TARTAN_WORK/n1/state/networks/rkt.kubernetes.io

# ---------------------------------------------------------------------------------------------
# The driver: the callers (threads, each running plugin processes) and the checks of the store,
# the links and the pods' addresses. Run inside n1. It writes a JSON report; the test turns
# the report into TAP results. Subcommands:
#   churn REPORT NSFILE CALLERS PODS WINDOW      phase 1
#   fill LEDGER REPORT NSFILE CALLERS N          phase 2: N pods per caller
#   burst LEDGER REPORT NSFILE CALLERS N PROGRESS   N random operations per caller
#   gc LEDGER REPORT T_KILL                      resolve, GC through the plugin, check
#   drain LEDGER REPORT CALLERS                  DEL every existing pod, check nothing is left
# Environment: CHURN_PLUGIN, CHURN_CONF (the runtime's conf, a file), CHURN_IPAM, CHURN_SUBNET,
# CHURN_BRIDGE.
cat >"$DRIVER" <<'EOF'
import ipaddress, json, os, random, re, subprocess, sys, threading, time

PLUGIN = os.environ["CHURN_PLUGIN"]
CONF = open(os.environ["CHURN_CONF"], "rb").read()
CONF_VERSION = json.loads(CONF)["cniVersion"]
IPAM = os.environ["CHURN_IPAM"]
SUBNET = ipaddress.ip_network(os.environ["CHURN_SUBNET"])
BRIDGE = os.environ["CHURN_BRIDGE"]
IFNAME = "eth0"
GATEWAY = SUBNET.network_address + 1
STORE_OTHER = {"lock", "last_reserved_ip.0"}
# a sanitized build's settings reach the plugin as they would through a runtime
PASS_ENV = {k: v for k, v in os.environ.items()
            if k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")}


def cni(command, cid=None, ns=None, stdin=CONF):
    """One plugin run as a runtime makes it: a clean environment, the conf on stdin."""
    env = dict(PASS_ENV, PATH="/usr/bin:/bin", CNI_COMMAND=command,
               CNI_PATH=os.path.dirname(PLUGIN))
    if cid is not None:
        env.update(CNI_CONTAINERID=cid, CNI_IFNAME=IFNAME)
    if ns is not None:
        env["CNI_NETNS"] = "/var/run/netns/" + ns
    t0 = time.time()
    try:
        p = subprocess.run([PLUGIN], input=stdin, env=env, capture_output=True, timeout=90)
        rc, out, err = p.returncode, p.stdout.decode(errors="replace"), \
            p.stderr.decode(errors="replace")
    except subprocess.TimeoutExpired:
        rc, out, err = "timeout", "", ""
    return {"op": command, "id": cid, "ns": ns, "start": t0, "end": time.time(),
            "rc": rc, "out": out.strip(), "err": err.strip()}


def add_result(op):
    """(address, host end) from a successful ADD, or raise ValueError saying what is wrong."""
    if op["rc"] != 0:
        raise ValueError("exit %s, stdout %s, stderr %s" % (op["rc"], op["out"], op["err"]))
    try:
        r = json.loads(op["out"])
        ifs = r["interfaces"]
        ip = r["ips"][0]
        pod_if = ifs[ip["interface"]]
        host = [i["name"] for i in ifs if "sandbox" not in i][0]
        iface = ipaddress.ip_interface(ip["address"])
    except (ValueError, KeyError, IndexError, TypeError) as e:
        raise ValueError("unreadable ADD result (%s): %s" % (e, op["out"]))
    a = iface.ip
    if r.get("cniVersion") != CONF_VERSION or len(r["ips"]) != 1 or \
            iface.network != SUBNET or a in (SUBNET.network_address, GATEWAY,
                                             SUBNET.broadcast_address) or \
            pod_if.get("name") != IFNAME or \
            pod_if.get("sandbox") != "/var/run/netns/" + op["ns"]:
        raise ValueError("bad ADD result for %s in %s (subnet %s, version %s): %s"
                         % (op["id"], op["ns"], SUBNET, CONF_VERSION, op["out"]))
    return str(a), host


def show(op):
    return "%s %s (ns %s): exit %s, stdout %s, stderr %s" % (
        op["op"], op["id"], op["ns"], op["rc"], op["out"], op["err"][-300:])


def store():
    """The IPAM directory: ({address: content}, [other names])."""
    files, other = {}, []
    for name in sorted(os.listdir(IPAM)):
        if name in STORE_OTHER:
            continue
        try:
            ipaddress.IPv4Address(name)
        except ValueError:
            other.append(name)
            continue
        with open(os.path.join(IPAM, name), "rb") as f:
            files[name] = f.read().decode(errors="replace")
    return files, other


def host_veths():
    """{name: master} of the node's veths other than its own eth0."""
    out = subprocess.run(["ip", "-o", "link", "show", "type", "veth"], check=True,
                         capture_output=True, text=True).stdout
    links = {}
    for line in out.splitlines():
        name = line.split(":")[1].strip().split("@")[0]
        m = re.search(r" master (\S+)", line)
        if name != "eth0":
            links[name] = m.group(1) if m else None
    return links


def pod_addrs(ns):
    """The IPv4 addresses on eth0 in ns, or None if there is no eth0."""
    p = subprocess.run(["ip", "-n", ns, "-4", "-o", "addr", "show", "dev", IFNAME],
                       capture_output=True, text=True)
    if p.returncode != 0:
        if "does not exist" in p.stderr:
            return None
        raise RuntimeError("ip -n %s addr: %s" % (ns, p.stderr.strip()))
    return sorted(re.findall(r" inet (\S+)", p.stdout))


def pod_links(ns):
    out = subprocess.run(["ip", "-n", ns, "-o", "link", "show"], check=True,
                         capture_output=True, text=True).stdout
    return sorted(l.split(":")[1].strip().split("@")[0] for l in out.splitlines())


def check_state(label, pods, check_store=True):
    """pods: {id: (ns, address, host)} that must exist. Returns a list of problems."""
    problems = []
    if check_store:
        want = {a: "%s\r\n%s" % (cid, IFNAME) for cid, (ns, a, h) in pods.items()}
        files, other = store()
        for a in sorted(set(want) | set(files)):
            if files.get(a) != want.get(a):
                problems.append("%s: address file %s holds %r, expected %r"
                                % (label, a, files.get(a), want.get(a)))
        if other:
            problems.append("%s: stray files in the store: %s" % (label, other))
    links = host_veths()
    want_links = {h for ns, a, h in pods.values()}
    if set(links) - want_links:
        problems.append("%s: host veths of no live pod: %s"
                        % (label, sorted(set(links) - want_links)))
    if want_links - set(links):
        problems.append("%s: host veths missing: %s" % (label, sorted(want_links - set(links))))
    for name, master in sorted(links.items()):
        if name in want_links and master != BRIDGE:
            problems.append("%s: host veth %s is not on %s (master %s)"
                            % (label, name, BRIDGE, master))
    for cid, (ns, a, h) in sorted(pods.items()):
        got = pod_addrs(ns)
        if got != ["%s/%d" % (a, SUBNET.prefixlen)]:
            problems.append("%s: pod %s's eth0 in %s holds %s, expected %s/%d"
                            % (label, cid, ns, got, a, SUBNET.prefixlen))
    return problems


class Live:
    """The callers' shared set of live pods' addresses: an address enters when its ADD
    returned, and leaves before its DEL starts."""

    def __init__(self):
        self.lock = threading.Lock()
        self.by_addr = {}
        self.pods = {}

    def added(self, cid, ns, addr, host):
        with self.lock:
            holder = self.by_addr.get(addr)
            if holder is None:
                self.by_addr[addr] = cid
                self.pods[cid] = (ns, addr, host)
            return holder

    def deleting(self, cid):
        with self.lock:
            ns, addr, host = self.pods.pop(cid)
            if self.by_addr.get(addr) == cid:
                del self.by_addr[addr]


def run_threads(n, target):
    errors = []

    def wrap(k):
        try:
            target(k)
        except Exception as e:  # a driver bug must fail the test, not vanish
            errors.append("caller %d: %r" % (k, e))
    ts = [threading.Thread(target=wrap, args=(k,)) for k in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return errors


def write(path, obj):
    with open(path + ".tmp", "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
    os.rename(path + ".tmp", path)


def ns_list(path):
    return open(path).read().split()


# ---- phase 1

def churn(report_path, ns_file, callers, pods, window):
    callers, pods, window = int(callers), int(pods), int(window)
    names = ns_list(ns_file)
    pool = len(names) // callers
    live = Live()
    rep = {"failures": [], "duplicates": [], "problems": [], "checkpoints": [],
           "adds": 0, "dels": 0, "max_live": 0}
    rlock = threading.Lock()
    steps = sorted({pods * i // 5 for i in range(1, 5)})

    def checkpoint():
        label = "checkpoint %d (%d live)" % (len(rep["checkpoints"]) + 1, len(live.pods))
        rep["checkpoints"].append(label)
        rep["problems"] += check_state(label, dict(live.pods))

    barrier = threading.Barrier(callers, action=checkpoint, timeout=300)

    def add(k, cid, ns, mine, free):
        op = cni("ADD", cid, ns)
        with rlock:
            rep["adds"] += 1
        try:
            addr, host = add_result(op)
        except ValueError as e:
            with rlock:
                rep["failures"].append("caller %d: %s" % (k, e))
            return  # the namespace stays out of use
        holder = live.added(cid, ns, addr, host)
        if holder is not None:
            with rlock:
                rep["duplicates"].append("%s got %s, held by live pod %s" % (cid, addr, holder))
            return
        mine[cid] = ns
        with rlock:
            rep["max_live"] = max(rep["max_live"], len(live.pods))

    def caller(k):
        rnd = random.Random(1000 + k)
        free = names[k * pool:(k + 1) * pool]
        mine = {}
        nxt = 0
        try:
            while nxt < pods or mine:
                if nxt < pods and len(mine) < window and free and \
                        (not mine or rnd.random() < 0.6):
                    nxt += 1
                    add(k, "churn-%d-%04d" % (k, nxt - 1), free.pop(0), mine, free)
                    if nxt in steps:
                        barrier.wait()
                    continue
                if not mine:
                    raise RuntimeError("no namespace left to add pods in (failed ADDs)")
                cid = rnd.choice(sorted(mine))
                ns = mine.pop(cid)
                live.deleting(cid)
                op = cni("DEL", cid, ns)
                with rlock:
                    rep["dels"] += 1
                if op["rc"] != 0:
                    with rlock:
                        rep["failures"].append("caller %d: %s" % (k, show(op)))
                    continue
                free.append(ns)
        except BaseException:
            barrier.abort()  # the others must not wait for this caller
            raise

    rep["problems"] += run_threads(callers, caller)
    checkpoint()
    for ns in names:
        if pod_links(ns) != ["lo"]:
            rep["problems"].append("end: pod namespace %s still has links %s"
                                   % (ns, pod_links(ns)))
    write(report_path, rep)


# ---- phase 2: the ledger holds every pod: {id: {ns, caller, state, addr, host}}, state one of
# live, deleted, add-unknown, del-unknown; and the operations with their times.

def load(path):
    return json.load(open(path))


def fill(ledger_path, report_path, ns_file, callers, n):
    callers, n = int(callers), int(n)
    names = ns_list(ns_file)
    led = {"pods": {}, "ops": []}
    rep = {"failures": [], "problems": [], "duplicates": []}
    lock = threading.Lock()
    held = {}

    def caller(k):
        for i in range(n):
            cid = "keep-%d-%03d" % (k, i)
            ns = names[k * n + i]
            op = cni("ADD", cid, ns)
            try:
                addr, host = add_result(op)
                pod = {"ns": ns, "caller": k, "state": "live", "addr": addr, "host": host}
            except ValueError as e:
                pod = {"ns": ns, "caller": k, "state": "add-unknown"}
                with lock:
                    rep["failures"].append(str(e))
            with lock:
                if pod["state"] == "live":
                    if pod["addr"] in held:
                        rep["duplicates"].append("%s got %s, held by live pod %s"
                                                 % (cid, pod["addr"], held[pod["addr"]]))
                    else:
                        held[pod["addr"]] = cid
                led["pods"][cid] = pod
                led["ops"].append(op)

    rep["problems"] += run_threads(callers, caller)
    live = {c: (p["ns"], p["addr"], p["host"]) for c, p in led["pods"].items()
            if p["state"] == "live"}
    rep["live"] = len(live)
    rep["problems"] += check_state("after the fill", live)
    write(ledger_path, led)
    write(report_path, rep)


def burst(ledger_path, report_path, ns_file, callers, n, progress_path):
    callers, n = int(callers), int(n)
    led = load(ledger_path)
    fresh = ns_list(ns_file)
    per = len(fresh) // callers
    rep = {"problems": [], "duplicates": []}
    lock = threading.Lock()
    progress = open(progress_path, "a", buffering=1)
    # the live pods' addresses: an address enters when its ADD returned, leaves before its DEL
    held = {p["addr"]: c for c, p in led["pods"].items() if p["state"] == "live"}

    def caller(k):
        rnd = random.Random(2000 + k)
        with lock:
            mine = sorted(c for c, p in led["pods"].items()
                          if p["caller"] == k and p["state"] == "live")
        free = fresh[k * per:(k + 1) * per]
        for i in range(n):
            if free and (not mine or rnd.random() < 0.5):
                cid = "burst-%d-%03d" % (k, i)
                ns = free.pop(0)
                op = cni("ADD", cid, ns)
                try:
                    addr, host = add_result(op)
                    pod = {"ns": ns, "caller": k, "state": "live", "addr": addr,
                           "host": host}
                    mine.append(cid)
                except ValueError:
                    pod = {"ns": ns, "caller": k, "state": "add-unknown"}
                with lock:
                    led["pods"][cid] = pod
                    if pod["state"] == "live":
                        if pod["addr"] in held:
                            rep["duplicates"].append("%s got %s, held by live pod %s"
                                                     % (cid, pod["addr"], held[pod["addr"]]))
                        else:
                            held[pod["addr"]] = cid
            else:
                cid = mine.pop(rnd.randrange(len(mine)))
                with lock:
                    if held.get(led["pods"][cid]["addr"]) == cid:
                        del held[led["pods"][cid]["addr"]]
                op = cni("DEL", cid, led["pods"][cid]["ns"])
                with lock:
                    led["pods"][cid]["state"] = "deleted" if op["rc"] == 0 else "del-unknown"
            with lock:
                op["caller"] = k
                led["ops"].append(op)
                progress.write("%s %s %s\n" % (op["op"], cid, op["rc"]))

    rep["problems"] += run_threads(callers, caller)
    progress.close()
    write(ledger_path, led)
    write(report_path, rep)


def resolve(led):
    """{id: (ns, addr, host)} of the pods that exist; unknown outcomes decided by eth0.

    Such a pod exists when its attachment is whole: its eth0 holds an address and its host
    end is on cni0 (the last step of an ADD). An ADD cut short by the kill part of the way
    (its caller got an error, so a runtime counts the attachment as failed and leaves it
    out of its valid list) is not one; GC removes what it left."""
    exist = {}
    veths = host_veths()
    for cid, p in led["pods"].items():
        st = p["state"]
        if st in ("add-unknown", "del-unknown"):
            whole = pod_addrs(p["ns"]) and veths.get(host_name(cid)) == "cni0"
            p["resolved"] = "exists" if whole else "gone"
            if p["resolved"] == "exists":
                got = pod_addrs(p["ns"])
                p["addr"] = got[0].split("/")[0] if got else None
                p.setdefault("host", None)
        if st == "live" or p.get("resolved") == "exists":
            exist[cid] = p
    return exist


def gc(ledger_path, report_path, t_kill):
    led = load(ledger_path)
    rep = {"problems": [], "failures": []}
    exist = resolve(led)
    rep["existing"] = len(exist)
    # before GC: a DEL that succeeded released its pod's address
    files, other = store()
    rep["del_leaks"] = ["%s holds %r, but DEL of %s succeeded (ended %+.3f s from the kill)" % (
        a, c, c.split("\r\n")[0], max(o["end"] - float(t_kill) for o in led["ops"]
                                      if o["op"] == "DEL" and o["rc"] == 0
                                      and o["id"] == c.split("\r\n")[0]))
        for a, c in sorted(files.items())
        if led["pods"].get(c.split("\r\n")[0], {}).get("state") == "deleted"]
    rep["unknown"] = {cid: "%s -> %s" % (p["state"], p["resolved"])
                      for cid, p in led["pods"].items() if "resolved" in p}
    conf = json.loads(CONF)
    conf["cniVersion"] = "1.1.0"
    conf["cni.dev/valid-attachments"] = [{"containerID": c, "ifname": IFNAME}
                                         for c in sorted(exist)]
    op = cni("GC", stdin=json.dumps(conf).encode())
    if op["rc"] != 0 or op["out"]:
        rep["failures"].append(show(op))
    files, other = store()
    rep["store_extra"] = other
    # the address of each existing pod, from its file; every file must be an existing pod's
    by_id = {}
    for a, content in files.items():
        cid = content.split("\r\n")[0]
        if content != "%s\r\n%s" % (cid, IFNAME) or cid not in exist:
            rep["problems"].append("address file %s holds %r: not an existing pod's"
                                   % (a, content))
        elif cid in by_id:
            rep["problems"].append("pod %s holds two address files: %s and %s"
                                   % (cid, by_id[cid], a))
        else:
            by_id[cid] = a
    for cid, p in sorted(exist.items()):
        if cid not in by_id:
            rep["problems"].append("existing pod %s (%s, ns %s) has no address file"
                                   % (cid, p["state"], p["ns"]))
        elif p["state"] == "live" and p["addr"] != by_id[cid]:
            rep["problems"].append("pod %s was given %s by its ADD, its file is %s"
                                   % (cid, p["addr"], by_id[cid]))
    pods = {}
    for cid, p in exist.items():
        if p.get("host") is None:  # an ADD with an unknown outcome: the name tartand uses
            p["host"] = host_name(cid)
        pods[cid] = (p["ns"], by_id.get(cid, p["addr"]), p["host"])
    rep["problems"] += check_state("after GC", pods, check_store=False)
    write(ledger_path, led)
    write(report_path, rep)


def host_name(cid):
    """tartand's host end name: veth + FNV-1a of "<id>/<ifname>" (daemon/pods.c)."""
    h = 2166136261
    for ch in (cid + "/" + IFNAME).encode():
        h = ((h ^ ch) * 16777619) & 0xffffffff
    return "veth%08x" % h


def drain(ledger_path, report_path, callers):
    callers = int(callers)
    led = load(ledger_path)
    rep = {"failures": [], "problems": []}
    exist = sorted(c for c, p in led["pods"].items()
                   if p["state"] == "live" or p.get("resolved") == "exists")
    rep["deleted"] = len(exist)
    lock = threading.Lock()

    def caller(k):
        for cid in exist[k::callers]:
            op = cni("DEL", cid, led["pods"][cid]["ns"])
            if op["rc"] != 0:
                with lock:
                    rep["failures"].append(show(op))

    rep["problems"] += run_threads(callers, caller)
    rep["problems"] += check_state("after the drain", {})
    for cid, p in sorted(led["pods"].items()):
        if pod_addrs(p["ns"]) is not None:
            rep["problems"].append("pod %s's namespace %s still has eth0" % (cid, p["ns"]))
    write(report_path, rep)


globals()[sys.argv[1]](*sys.argv[2:])
EOF

# driver SUBCOMMAND ARGS...: the driver, inside n1 (as a runtime on the node would be)
driver()
{
	netns_exec n1 env CHURN_PLUGIN="$TARTAN_CNI" CHURN_CONF="$TARTAN_WORK/conf.json" \
		CHURN_IPAM="$IPAM_DIR" CHURN_SUBNET="$SUBNET" CHURN_BRIDGE=cni0 \
		"$PYTHON3" "$DRIVER" "$@"
}

# rget FILE EXPR: jget on a JSON file (the ledger is too big for an argument); lists print
# as their first 30 entries, one a line
rget()
{
	"$PYTHON3" -c '
import json, sys
d = json.load(open(sys.argv[1]))
v = eval(sys.argv[2], {"d": d})
if isinstance(v, list):
    v = "\n".join(map(str, v[:30])) + ("\n... %d in all" % len(v) if len(v) > 30 else "")
print(v)
' "$1" "$2"
}

# report_is FILE EXPR DESC [WANT]: rget FILE EXPR prints WANT (default: nothing)
report_is()
{
	tap_is "$(rget "$1" "$2" 2>&1 || true)" "${4:-}" "$3" || true
}

# now_s: EPOCHREALTIME (seconds, with microseconds)
now_s()
{
	printf '%s\n' "$EPOCHREALTIME"
}

# -- the node, its daemon and the runtime's conf
netns_node n1 192.0.2.11/24 || tap_bail "could not make node namespace n1"
tap_check "host-gw config with SubnetLen 22 put" ectl put "$P/config" "$CHURN_CONFIG"
start_n1()
{
	tartand_start n1 -- --bridge cni0 "--cni-conf-dir=$TARTAN_WORK/n1/cni" --rkt-net-dir= ||
		tap_bail "could not start tartand in n1"
}
start_n1
if wait_until 20 tstatus_is n1 state running; then
	tap_ok "n1: tartand running"
else
	tap_bail "n1: tartand not running: $(tstatus n1 2>&1)"
fi
SUBNET=$(tstatus n1 subnet 2>/dev/null || true)
[[ $SUBNET =~ ^10\.5\.[0-9]+\.0/22$ ]] || tap_bail "n1 holds no /22 (status subnet '$SUBNET')"
tap_diag "n1 holds $SUBNET"
CONFLIST=$TARTAN_WORK/n1/cni/10-tartan.conflist
wait_until 10 test -s "$CONFLIST" || tap_bail "tartand wrote no $CONFLIST"
# what a runtime (libcni) gives each plugin of the list: its object plus name and cniVersion
"$PYTHON3" -c '
import json, sys
l = json.load(open(sys.argv[1]))
p = dict(l["plugins"][0], name=l["name"], cniVersion=l["cniVersion"])
assert p["type"] == "tartan", p
json.dump(p, open(sys.argv[2], "w"))
' "$CONFLIST" "$TARTAN_WORK/conf.json" || tap_bail "no tartan plugin in $CONFLIST: $(cat "$CONFLIST")"
tap_diag "runtime conf: $(cat "$TARTAN_WORK/conf.json")"

# -- the pods' namespaces, made up front in the test's own mount namespace (where the daemon
# and the driver see them)
pod_ns_names=()
for ((i = 0; i < POD_NS_COUNT; i++)); do
	pod_ns_names+=("$(printf '%sp%03d' "$NETNS_TAG" "$i")")
done
pod_ns_cleanup()
{
	local ns
	for ns in "${pod_ns_names[@]}"; do
		[[ ! -e /var/run/netns/$ns ]] || ip netns del "$ns" 2>/dev/null ||
			echo "# could not delete pod namespace $ns" >&2
	done
}
on_exit pod_ns_cleanup
printf 'netns add %s\n' "${pod_ns_names[@]}" | ip -batch - ||
	tap_bail "could not make the pod namespaces"
# phase 1: 24 namespaces per caller; phase 2: 50 per caller for the fill, then 40 for the burst
printf '%s\n' "${pod_ns_names[@]:0:$((CALLERS * (WINDOW + 4)))}" >"$TARTAN_WORK/ns-churn"
printf '%s\n' "${pod_ns_names[@]:0:$((CALLERS * KEEP_PER_CALLER))}" >"$TARTAN_WORK/ns-fill"
printf '%s\n' "${pod_ns_names[@]:$((CALLERS * KEEP_PER_CALLER))}" >"$TARTAN_WORK/ns-burst"

# ---------------------------------------------------------------------------------------------
# Phase 1: churn
R=$TARTAN_WORK/churn.json
t0=$SECONDS
driver churn "$R" "$TARTAN_WORK/ns-churn" "$CALLERS" "$PODS_PER_CALLER" "$WINDOW" ||
	tap_bail "the churn driver failed"
tap_diag "churn: $((CALLERS * PODS_PER_CALLER)) pods added and deleted in $((SECONDS - t0)) s;" \
	"at most $(rget "$R" 'd["max_live"]') live at once"
report_is "$R" 'd["adds"]' "churn: $((CALLERS * PODS_PER_CALLER)) ADDs run" \
	$((CALLERS * PODS_PER_CALLER))
report_is "$R" 'd["dels"]' "churn: as many DELs run" "$((CALLERS * PODS_PER_CALLER))"
report_is "$R" 'd["failures"]' "churn: every plugin run succeeded, every ADD result is right"
report_is "$R" 'd["duplicates"]' "churn: no ADD handed out an address a live pod held"
report_is "$R" 'len(d["checkpoints"])' "churn: 5 checkpoints made" 5
report_is "$R" 'd["problems"]' "churn: at each checkpoint and at the end, the store, the veths and the pods' addresses are exactly the live pods'; nothing left at the end"
tap_is "$(tlog_errors n1)" "" "churn: no error in tartand's log" || true
tap_check "churn: tartand still runs" tartand_alive n1 || true

# ---------------------------------------------------------------------------------------------
# Phase 2: 200 live pods, a SIGKILL during a burst, restart, GC
L=$TARTAN_WORK/ledger.json
driver fill "$L" "$TARTAN_WORK/fill.json" "$TARTAN_WORK/ns-fill" "$CALLERS" \
	"$KEEP_PER_CALLER" || tap_bail "the fill driver failed"
report_is "$TARTAN_WORK/fill.json" 'd["failures"]' "fill: every ADD succeeded"
report_is "$TARTAN_WORK/fill.json" 'd["live"]' "fill: $((CALLERS * KEEP_PER_CALLER)) pods live" \
	"$((CALLERS * KEEP_PER_CALLER))"
report_is "$TARTAN_WORK/fill.json" 'd["duplicates"]' "fill: no ADD handed out an address a live pod held"
report_is "$TARTAN_WORK/fill.json" 'd["problems"]' "fill: store, veths and addresses match the pods"

PROGRESS=$TARTAN_WORK/progress
: >"$PROGRESS"
burst_pid=""
netns_spawn burst_pid n1 "$TARTAN_WORK/burst.log" env CHURN_PLUGIN="$TARTAN_CNI" \
	CHURN_CONF="$TARTAN_WORK/conf.json" CHURN_IPAM="$IPAM_DIR" CHURN_SUBNET="$SUBNET" \
	CHURN_BRIDGE=cni0 "$PYTHON3" "$DRIVER" burst "$L" "$TARTAN_WORK/burst.json" \
	"$TARTAN_WORK/ns-burst" "$CALLERS" "$BURST_PER_CALLER" "$PROGRESS"
progress_at_least()
{
	(($(wc -l <"$PROGRESS") >= $1))
}
wait_until 60 progress_at_least "$KILL_AFTER" ||
	tap_bail "the burst did not get to $KILL_AFTER operations: $(cat "$TARTAN_WORK/burst.log")"
t_kill=$(now_s)
tartand_stop n1 KILL || true
done_at_kill=$(wc -l <"$PROGRESS")
tap_is "$TARTAND_RC" 137 "burst: tartand SIGKILLed after $done_at_kill completed operations" ||
	true
sleep 0.5
start_n1
if wait_until 20 tstatus_is n1 state running; then
	t_up=$(now_s)
	tap_ok "burst: tartand running again"
else
	t_up=$(now_s)
	tap_fail "burst: tartand running again" "$(tstatus n1 2>&1)"
fi
tap_is "$(tstatus n1 subnet 2>&1)" "$SUBNET" "burst: the restarted tartand holds $SUBNET again" ||
	true
burst_rc=0
wait "$burst_pid" || burst_rc=$?
tap_is "$burst_rc" 0 "burst: the driver finished" || true
report_is "$TARTAN_WORK/burst.json" 'd["problems"]' "burst: no driver error"
report_is "$TARTAN_WORK/burst.json" 'd["duplicates"]' "burst: no ADD handed out an address a live pod held"
tap_diag "$("$PYTHON3" -c '
import collections, json, sys
led = json.load(open(sys.argv[1]))
kill, up = float(sys.argv[2]), float(sys.argv[3])
ops = [o for o in led["ops"] if "caller" in o]
c = collections.Counter("%s %s" % (o["op"], "ok" if o["rc"] == 0 else "failed") for o in ops)
print("burst: " + ", ".join("%s: %d" % kv for kv in sorted(c.items())) +
      "; tartand down for %.2f s (kill to running again)" % (up - kill))
for o in ops:
    if o["rc"] != 0:
        print("failed: %s %s, ran %+.3f s to %+.3f s from the kill: %s"
              % (o["op"], o["id"], o["start"] - kill, o["end"] - kill, o["out"]))
' "$L" "$t_kill" "$t_up" 2>&1)"
# operations of the burst that completed before the kill, and after the restart
read -r n_before n_after < <("$PYTHON3" -c '
import json, sys
o = [x for x in json.load(open(sys.argv[1]))["ops"] if "caller" in x]
print(len([x for x in o if x["end"] < float(sys.argv[2])]),
      len([x for x in o if x["end"] > float(sys.argv[3])]))
' "$L" "$t_kill" "$t_up") || true
if ((${n_before:-0} > 0 && ${n_after:-0} > 0)); then
	tap_ok "burst: the kill fell inside the burst ($n_before operations completed before it, $n_after after the restart)"
else
	tap_fail "burst: the kill fell inside the burst" \
		"operations completed before the kill: ${n_before:-?}, after the restart: ${n_after:-?}"
fi
report_is "$L" "[o['op'] + ' ' + o['id'] + ': ' + o['out'] for o in d['ops'] if 'caller' in o and o['rc'] != 0 and o['start'] >= $t_up]" \
	"burst: no operation started after the restarted daemon was running failed"

R=$TARTAN_WORK/gc.json
driver gc "$L" "$R" "$t_kill" || tap_bail "the gc driver failed"
tap_diag "after the kill: $(rget "$R" 'd["existing"]') pods exist; unknown outcomes:" \
	"$(rget "$R" '", ".join("%s %s" % kv for kv in sorted(d["unknown"].items())) or "none"')"
report_is "$R" 'd["del_leaks"]' "before GC: no address file of a pod whose DEL succeeded"
report_is "$R" 'd["failures"]' "GC (cniVersion 1.1.0, the existing pods valid) succeeded"
report_is "$R" 'd["store_extra"]' "after GC: no temp file or other stray file in the store"
report_is "$R" 'd["problems"]' "after GC: the store holds exactly the existing pods, each pod's eth0 holds its file's address, the host veths are exactly theirs"

R=$TARTAN_WORK/drain.json
driver drain "$L" "$R" "$CALLERS" || tap_bail "the drain driver failed"
report_is "$R" 'd["failures"]' "drain: DEL of all $(rget "$R" 'd["deleted"]') existing pods succeeded"
report_is "$R" 'd["problems"]' "drain: no address file, veth or pod eth0 left"

tartand_stop n1 TERM || true
tap_is "$TARTAND_RC" 0 "tartand exits 0 on SIGTERM" || true

tap_done
