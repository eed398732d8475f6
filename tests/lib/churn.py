# SPDX-License-Identifier: Apache-2.0
"""The pod churn driver of tests/daemon/pod-churn.sh and kill-churn.sh.

Callers (threads, each running tartan CNI plugin processes as a runtime runs them) and the
checks of the IPAM store, the node's links and the pods' addresses. Run inside the node's
namespace. Each subcommand writes a JSON report; the test turns it into TAP results:
  churn REPORT NSFILE CALLERS PODS WINDOW        add and delete, at most WINDOW live
  fill LEDGER REPORT NSFILE CALLERS N            N pods per caller, all must succeed
  burst LEDGER REPORT NSFILE CALLERS N PROGRESS [ROUND]
                                                 N random ADDs/DELs per caller (a daemon
                                                 kill expected in the middle)
  gc LEDGER REPORT T_KILL                        resolve unknown outcomes, CNI GC, check
  drain LEDGER REPORT CALLERS                    DEL every existing pod, nothing left
Environment: CHURN_PLUGIN, CHURN_CONF (the runtime's conf, a file), CHURN_IPAM,
CHURN_SUBNET, CHURN_BRIDGE.
"""
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
    """The IPv4 addresses on eth0 in ns, or None if there is no eth0 (or no ns any more: a
    test may delete the namespaces of pods that are gone)."""
    if not os.path.exists("/var/run/netns/" + ns):
        return None
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


def burst(ledger_path, report_path, ns_file, callers, n, progress_path, round_="0"):
    callers, n, round_ = int(callers), int(n), int(round_)
    led = load(ledger_path)
    fresh = ns_list(ns_file)
    per = len(fresh) // callers
    rep = {"problems": [], "duplicates": []}
    lock = threading.Lock()
    progress = open(progress_path, "a", buffering=1)
    # the live pods' addresses: an address enters when its ADD returned, leaves before its DEL
    held = {p["addr"]: c for c, p in led["pods"].items() if p["state"] == "live"}

    def caller(k):
        rnd = random.Random(2000 + 100 * round_ + k)
        with lock:
            mine = sorted(c for c, p in led["pods"].items()
                          if p["caller"] == k and p["state"] == "live")
        free = fresh[k * per:(k + 1) * per]
        for i in range(n):
            if free and (not mine or rnd.random() < 0.5):
                cid = "burst-%d-%d-%03d" % (round_, k, i)
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
                op["round"] = str(round_)
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
    # what is known now, for a next round: the existing pods are live with their file's
    # address, the others gone
    for cid, p in led["pods"].items():
        r = p.pop("resolved", None)
        if r == "exists":
            p["state"] = "live"
            p["addr"] = by_id.get(cid, p.get("addr"))
        elif r == "gone":
            p["state"] = "gone"
    write(ledger_path, led)
    write(report_path, rep)


def host_name(cid):
    """tartand's host end name: veth + FNV-1a of "<id>/<ifname>" (daemon/podrecords.c)."""
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
