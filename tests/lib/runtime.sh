# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# tests/lib/runtime.sh: Debian's podman (4.3, CNI backend) and containerd (1.6, ctr) run
# against tartand nodes in network namespaces, with everything they keep in the test's temp
# dir (needs root).
#
# Source it after tests/lib/etcd.sh, tests/lib/netns.sh and tests/lib/tartand.sh:
#
#	runtime_rootfs "$dir/rootfs"      # /bin/busybox (busybox-static) and its applets
#	podman_node n1                    # after tartand_start n1: conf, storage, image bb
#	pm n1 run -d --network tartan --name c1 "$RT_IMAGE" sleep 3600
#	pm_ip n1 c1                       # the container's eth0 address
#	pm_mntns_start n1; pm_mntns n1 run ...   # podman in a mount namespace of its own
#
# Per node NODE, in $TARTAN_WORK/pm-NODE: containers.conf (CNI backend, the node's conf dir
# TARTAND_DIR[NODE]/net.d as network_config_dir, a plugin dir holding `tartan` (TARTAN_CNI)
# and Debian's plugins, runc with cgroupfs, file events and locks, ulimits podman cannot
# raise here lowered), storage.conf (vfs: no overlay mounts; only a running container's shm
# is a tmpfs there), runc's state dir, podman's tmp dir. CONTAINERS_CONF and
# CONTAINERS_STORAGE_CONF point podman at them: nothing is written in /etc/containers,
# /var/lib/containers or /run/containers. Every `run` gets the cgroup
# parent /RT_CGROUP (one per test run), so that the cgroups podman makes are known.
#
# What podman still puts outside the temp dir: /run/netns/netns-* (the pods' namespaces,
# removed by podman at rm) and /var/lib/cni/results/* (libcni's cache, removed at DEL).
# (`podman import` writes a blob cache in /var/lib/containers: it runs with a tmpfs there.)
#
# Cleanup (registered with on_exit when sourced, so it runs before the nodes go): containerd
# (below) stopped; every container of every node removed (rm -af -t 0), every process left in
# RT_CGROUP killed by its PID, the cgroups under RT_CGROUP removed (depth first), whatever is
# still mounted under a node's podman dir unmounted, the pod namespaces recorded by
# pm_netns_record unmounted and removed with the containers' libcni cache files, and
# /var/lib/cni/results, /var/lib/cni, /run/runc, /run/mount and /run/containerd removed if
# this run made them and they are empty.

if [[ -n ${_TARTAN_RUNTIME_SH:-} ]]; then
	return 0
fi
_TARTAN_RUNTIME_SH=1

if [[ -z ${_TARTAN_TARTAND_SH:-} ]]; then
	echo "Bail out! tests/lib/runtime.sh: source etcd.sh, netns.sh and tartand.sh first"
	exit 1
fi

: "${RT_CNI_BIN:=/usr/lib/cni}"
_RT_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RT_IMAGE=localhost/bb:1
RT_CGROUP=tartan-$NETNS_TAG
declare -gA PM_DIR=() PM_MNTNS_PID=()
declare -ga _RT_NETNS=() _RT_MADE_DIRS=() _RT_IDS=() _RT_MNT_CTRS=()

# _rt_note_dir DIR: remember DIR for removal at exit if it does not exist yet.
_rt_note_dir()
{
	[[ -e $1 ]] || _RT_MADE_DIRS+=("$1")
}

# what runc, umount (libmount's lock dir) and ctr make in /run when run elsewhere, and
# libcni's cache dir: removed at exit when this run made them and they are empty
_rt_note_dir /run/runc
_rt_note_dir /run/mount
_rt_note_dir /run/containerd
_rt_note_dir /var/lib/cni
_rt_note_dir /var/lib/cni/results

# runtime_require CMD...: skip the whole test (before any TAP output) unless each CMD is
# installed.
runtime_require()
{
	local c
	for c in "$@"; do
		if ! command -v "$c" >/dev/null 2>&1; then
			echo "1..0 # SKIP $c is not installed (tests/lib/setup.sh installs it)"
			exit 0
		fi
	done
}

# runtime_rootfs DIR: a root filesystem with busybox-static's /bin/busybox and a symlink
# per applet in /bin, plus /etc/passwd and /etc/group for root.
runtime_rootfs()
{
	local dir=$1 a bb
	bb=$(command -v busybox) || return 1
	# the static one: the rootfs has no libc
	[[ -e /bin/busybox ]] && bb=/bin/busybox
	mkdir -p "$dir/bin" "$dir/etc" "$dir/tmp" "$dir/proc" "$dir/sys" "$dir/dev" || return 1
	cp "$bb" "$dir/bin/busybox" || return 1
	for a in $("$dir/bin/busybox" --list); do
		[[ $a == busybox || -e $dir/bin/$a ]] || ln -s busybox "$dir/bin/$a"
	done
	echo 'root:x:0:0:root:/:/bin/sh' >"$dir/etc/passwd"
	echo 'root:x:0:' >"$dir/etc/group"
}

# podman_node NODE: podman's files for NODE (see the top) and the image RT_IMAGE imported
# from $TARTAN_WORK/rootfs (made by runtime_rootfs on first use).
podman_node()
{
	local -
	set +e
	local node=$1 d=$TARTAN_WORK/pm-$1 p
	if [[ -z ${TARTAND_DIR[$node]:-} ]]; then
		echo "podman_node: start tartand in $node first" >&2
		return 1
	fi
	mkdir -p "$d/root" "$d/runroot" "$d/tmp" "$d/runc" "$d/cnibin" || return 1
	for p in "$RT_CNI_BIN"/*; do
		ln -sf "$p" "$d/cnibin/"
	done
	ln -sf "$TARTAN_CNI" "$d/cnibin/tartan" || return 1
	cat >"$d/containers.conf" <<-EOF
	[containers]
	default_ulimits = ["nofile=20000:20000", "nproc=20000:20000"]
	[network]
	network_backend = "cni"
	network_config_dir = "${TARTAND_DIR[$node]}/net.d"
	cni_plugin_dirs = ["$d/cnibin"]
	[engine]
	runtime = "runc"
	cgroup_manager = "cgroupfs"
	events_logger = "file"
	events_logfile_path = "$d/events.log"
	lock_type = "file"
	tmp_dir = "$d/tmp"
	image_copy_tmp_dir = "$d/tmp"
	EOF
	cat >"$d/storage.conf" <<-EOF
	[storage]
	driver = "vfs"
	graphroot = "$d/root"
	runroot = "$d/runroot"
	EOF
	PM_DIR[$node]=$d
	if [[ ! -d $TARTAN_WORK/rootfs ]]; then
		runtime_rootfs "$TARTAN_WORK/rootfs" || return 1
	fi
	# podman import keeps a blob cache in /var/lib/containers/cache, whatever the storage
	# says: a tmpfs on /var/lib in a mount namespace of its own takes it
	local _pm=()
	_pm_args "$node" import -q - "$RT_IMAGE"
	# shellcheck disable=SC2016
	tar -C "$TARTAN_WORK/rootfs" -c . | unshare -m --propagation private \
		sh -c 'mount -t tmpfs tmpfs /var/lib && exec "$@"' sh "${_pm[@]}" >/dev/null
}

# _pm_args NODE ARGS...: podman's command line for NODE (into the array _pm).
_pm_args()
{
	local node=$1 d=${PM_DIR[$1]}
	shift
	_pm=(env "CONTAINERS_CONF=$d/containers.conf" "CONTAINERS_STORAGE_CONF=$d/storage.conf"
		"TMPDIR=$d/tmp" podman --runtime-flag "root=$d/runc")
	if [[ ${1:-} == run || ${1:-} == create ]]; then
		_pm+=("$1" --cgroup-parent "/$RT_CGROUP")
		shift
	fi
	_pm+=("$@")
}

# pm NODE ARGS...: podman in NODE's network namespace and the host's mount namespace.
pm()
{
	local _pm=() ns=${NETNS[$1]:-}
	[[ -n $ns ]] || { echo "pm: no node '$1'" >&2; return 1; }
	_pm_args "$@"
	nsenter "--net=/run/netns/$ns" "${_pm[@]}"
}

# pm_mntns_start NODE: a mount namespace of its own for podman in NODE (unshare -m, private
# propagation), held by a sleeping process (PM_MNTNS_PID[NODE], killed at exit).
pm_mntns_start()
{
	local -
	set +e
	local ns=${NETNS[$1]:-} pdeath=()
	[[ -n $ns ]] || { echo "pm_mntns_start: no node '$1'" >&2; return 1; }
	command -v setpriv >/dev/null 2>&1 && pdeath=(setpriv --pdeathsig KILL --)
	"${pdeath[@]}" nsenter "--net=/run/netns/$ns" unshare -m --propagation private \
		sleep 3600 </dev/null >/dev/null 2>&1 &
	PM_MNTNS_PID[$1]=$!
	disown "$!"
	# unshare execs sleep once the namespace is made
	wait_until 5 _rt_is_sleep "$!"
}

_rt_is_sleep()
{
	[[ $(readlink "/proc/$1/exe") == */sleep ]]
}

# pm_mntns NODE ARGS...: podman in NODE's network namespace and pm_mntns_start's mount
# namespace, where the /run/netns/netns-* it mounts exists only, as under `ip netns exec`
# (whose fresh /sys lacks the cgroup mounts runc needs).
pm_mntns()
{
	local _pm=() ns=${NETNS[$1]:-} pid=${PM_MNTNS_PID[$1]:-}
	[[ -n $ns && -n $pid ]] || { echo "pm_mntns: no node or mount namespace '$1'" >&2; return 1; }
	_pm_args "$@"
	# --root and --wd: entering a mount namespace resets them to its own, which is not ours
	# when the test runs chrooted
	nsenter "--net=/run/netns/$ns" "--mount=/proc/$pid/ns/mnt" "--root=/proc/$pid/root" \
		"--wd=/proc/$pid/cwd" "${_pm[@]}"
}

# pm_ip NODE CTR: the container's IPv4 address on eth0 (from inside it).
pm_ip()
{
	pm "$1" exec "$2" ip -4 -o addr show dev eth0 | awk '{ split($4, a, "/"); print a[1] }'
}

# pm_mac NODE CTR: the container's MAC on eth0 (netlink: a chrooted runc may give the
# container the host's /sys)
pm_mac()
{
	pm "$1" exec "$2" ip -o link show dev eth0 | sed -n 's|.* link/ether \([0-9a-f:]*\) .*|\1|p'
}

# pm_netns_record NODE CTR [RUNNER]: remember the container's /run/netns path and its id
# (libcni's cache files in /var/lib/cni/results name it) for the cleanup. RUNNER (pm or
# pm_mntns, default pm) must be the one that ran the container: podman in another mount
# namespace fails to join the pod's namespace and forgets it (no DEL at rm then); the
# cleanup removes the containers of pm_mntns from there.
pm_netns_record()
{
	local p
	p=$("${3:-pm}" "$1" inspect -f '{{.Id}} {{.NetworkSettings.SandboxKey}}' "$2" \
		2>/dev/null) || return 0
	[[ ${p%% *} =~ ^[0-9a-f]{64}$ ]] && _RT_IDS+=("${p%% *}")
	[[ ${3:-pm} != pm_mntns ]] || _RT_MNT_CTRS+=("$1 ${p%% *}")
	p=${p#* }
	[[ $p != /run/netns/netns-* ]] || _RT_NETNS+=("$p")
}

# rt_cgroup_pids: the PIDs left in RT_CGROUP's trees.
rt_cgroup_pids()
{
	local f
	for f in /sys/fs/cgroup/*/"$RT_CGROUP"; do
		[[ -d $f ]] || continue
		find "$f" -name cgroup.procs -exec cat {} + 2>/dev/null
	done | sort -u
}

# ---------------------------------------------------------------------------------------------
# Checks shared by the runtime tests (PYTHON3 and jget are tests/lib/tartand.sh's)

# rt_in_net ADDR NETWORK/LEN: ADDR lies in NETWORK
rt_in_net()
{
	"$PYTHON3" -c 'import ipaddress, sys
sys.exit(0 if ipaddress.ip_address(sys.argv[1]) in ipaddress.ip_network(sys.argv[2]) else 1)' \
		"$1" "$2"
}

# rt_ms_since T0: milliseconds since T0 (an EPOCHREALTIME value)
rt_ms_since()
{
	local now=${EPOCHREALTIME//[!0-9]/} t0=${1//[!0-9]/}
	echo $(((10#$now - 10#$t0) / 1000))
}

# rt_pods_addrs NODE: the addresses `tartanctl pods` lists, sorted, space-separated
rt_pods_addrs()
{
	local out
	out=$(tctl "$1" --json pods) || return 1
	jget "$out" "' '.join(sorted((p.get('address', '').split('/')[0]
		for p in d.get('pods', [])), key=lambda a: [int(x) for x in a.split('.')]))"
}

# rt_pods_lack NODE ADDR: `tartanctl pods` answers and does not list ADDR
rt_pods_lack()
{
	local out
	out=$(rt_pods_addrs "$1") || return 1
	[[ " $out " != *" $2 "* ]]
}

# rt_addr_files DIR: the address files of an IPAM store, sorted, space-separated
rt_addr_files()
{
	local f
	for f in "$1"/*; do
		f=${f##*/}
		[[ ! $f =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]] || echo "$f"
	done | sort -V | paste -sd ' '
}

# rt_ports NODE: the ports of NODE's cni0, sorted, space-separated
rt_ports()
{
	netns_exec "$1" ip -o link show master cni0 2>/dev/null | awk -F': ' '{ print $2 }' |
		sed 's/@.*//' | sort | paste -sd ' '
}

# ---------------------------------------------------------------------------------------------
# containerd 1.6 (ctr)
#
#	ctd_start                         # containerd of its own; image RT_IMAGE imported
#	ctrn n1 run --rm --cni "$RT_IMAGE" c1 sh -c '...'   # ctr in n1, CNI dirs of n1
#
# containerd runs in `unshare -m --propagation private` with a tmpfs on /run (1.6 puts its
# shim sockets in /run/containerd/s/ whatever the config says), its root, state, socket and
# config in $TARTAN_WORK/ctd, the cri, btrfs, zfs, aufs and devmapper plugins off, runc with
# cgroupfs (cgroups /sys/fs/cgroup/*/CTD_NS/<id>) and the overlayfs snapshotter, whose mounts
# stay in that mount namespace. `ctr run --cni` reads its confs only from /etc/cni/net.d and
# its plugins from /opt/cni/bin and caches in /var/lib/cni: ctrn runs ctr in the node's
# network namespace and a private mount namespace with the node's conf dir bound on
# /etc/cni/net.d and tmpfs on /opt and /var/lib holding bound dirs of the temp dir. IO fifos
# go to the temp dir too (--fifo-dir). The cleanup kills every task, then the shims (the
# processes in containerd's mount namespace) and containerd by PID, and removes the cgroups.

CTD_NS=tartan-$NETNS_TAG
CTD_DIR=""
CTD_PID=""
_CTD_MNT=""

ctd_start()
{
	local -
	set +e
	local d p pdeath=()
	[[ -d /etc/cni/net.d ]] ||
		{ echo "ctd_start: /etc/cni/net.d is missing (podman's package makes it)" >&2; return 1; }
	d=$TARTAN_WORK/ctd
	CTD_DIR=$d
	mkdir -p "$d/root" "$d/state" "$d/fifo" "$d/cnibin" || return 1
	for p in "$RT_CNI_BIN"/*; do
		ln -sf "$p" "$d/cnibin/"
	done
	ln -sf "$TARTAN_CNI" "$d/cnibin/tartan" || return 1
	cat >"$d/config.toml" <<-EOF
	version = 2
	root = "$d/root"
	state = "$d/state"
	disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
	  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs",
	  "io.containerd.snapshotter.v1.devmapper"]
	[grpc]
	  address = "$d/containerd.sock"
	[ttrpc]
	  address = "$d/containerd.sock.ttrpc"
	EOF
	command -v setpriv >/dev/null 2>&1 && pdeath=(setpriv --pdeathsig KILL --)
	# unshare and sh exec: the PID is containerd's
	# shellcheck disable=SC2016
	"${pdeath[@]}" unshare -m --propagation private \
		sh -c 'mount -t tmpfs tmpfs /run && exec containerd --config "$0"' "$d/config.toml" \
		</dev/null >>"$d/containerd.log" 2>&1 &
	CTD_PID=$!
	disown "$CTD_PID"
	wait_until 20 ctr -a "$d/containerd.sock" version || {
		echo "ctd_start: containerd does not answer; log:" >&2
		tail -n 20 "$d/containerd.log" >&2
		return 1
	}
	_CTD_MNT=$(readlink "/proc/$CTD_PID/ns/mnt")
	if [[ ! -d $TARTAN_WORK/rootfs ]]; then
		runtime_rootfs "$TARTAN_WORK/rootfs" || return 1
	fi
	"$PYTHON3" "$_RT_HERE/../runtime/oci-image.py" "$TARTAN_WORK/rootfs" "$RT_IMAGE" \
		"$d/image.tar" || return 1
	ctr -a "$d/containerd.sock" -n "$CTD_NS" images import --platform linux/amd64 \
		"$d/image.tar" >/dev/null
}

# ctrn NODE ARGS...: ctr in NODE's network namespace with NODE's CNI dirs (see above); `run`
# gets --fifo-dir.
ctrn()
{
	local node=$1 d=$CTD_DIR args=()
	shift
	mkdir -p "$d/cache-$node"
	args=("$@")
	if [[ ${1:-} == run ]]; then
		args=(run --fifo-dir "$d/fifo" "${@:2}")
	fi
	# shellcheck disable=SC2016
	nsenter "--net=/run/netns/${NETNS[$node]}" unshare -m --propagation private sh -c '
		netd=$1 bin=$2 cache=$3 sock=$4 ns=$5
		shift 5
		mount --bind "$netd" /etc/cni/net.d &&
			mount -t tmpfs tmpfs /opt && mkdir -p /opt/cni/bin &&
			mount --bind "$bin" /opt/cni/bin &&
			mount -t tmpfs tmpfs /var/lib && mkdir -p /var/lib/cni &&
			mount --bind "$cache" /var/lib/cni || exit 125
		exec ctr -a "$sock" -n "$ns" "$@"' ctrn "${TARTAND_DIR[$node]}/net.d" "$d/cnibin" \
		"$d/cache-$node" "$d/containerd.sock" "$CTD_NS" "${args[@]}"
}

# ctd_exec CTR CMD...: CMD in the running task CTR
ctd_exec()
{
	local c=$1
	shift
	ctr -a "$CTD_DIR/containerd.sock" -n "$CTD_NS" task exec --fifo-dir "$CTD_DIR/fifo" \
		--exec-id "x$RANDOM$RANDOM" "$c" "$@"
}

# ctd_task_status CTR: RUNNING, STOPPED, ... (empty if there is no task)
ctd_task_status()
{
	ctr -a "$CTD_DIR/containerd.sock" -n "$CTD_NS" task ls 2>/dev/null |
		awk -v c="$1" '$1 == c { print $3 }'
}

_ctd_cleanup()
{
	local -
	set +e
	local c pids=() p d
	[[ -n $CTD_PID ]] || return 0
	if _pid_alive "$CTD_PID"; then
		for c in $(ctr -a "$CTD_DIR/containerd.sock" -n "$CTD_NS" task ls -q 2>/dev/null); do
			timeout 10 ctr -a "$CTD_DIR/containerd.sock" -n "$CTD_NS" task kill -s KILL "$c" \
				>/dev/null 2>&1
		done
		sleep 0.5
		for c in $(ctr -a "$CTD_DIR/containerd.sock" -n "$CTD_NS" container ls -q 2>/dev/null); do
			timeout 10 ctr -a "$CTD_DIR/containerd.sock" -n "$CTD_NS" task rm -f "$c" \
				>/dev/null 2>&1
			timeout 10 ctr -a "$CTD_DIR/containerd.sock" -n "$CTD_NS" container rm "$c" \
				>/dev/null 2>&1
		done
	fi
	# the shims: every process left in containerd's mount namespace
	if [[ -n $_CTD_MNT ]]; then
		for p in /proc/[0-9]*; do
			[[ $(readlink "$p/ns/mnt" 2>/dev/null) == "$_CTD_MNT" ]] && pids+=("${p#/proc/}")
		done
	fi
	for d in /sys/fs/cgroup/*/"$CTD_NS"; do
		[[ -d $d ]] && mapfile -t -O "${#pids[@]}" pids < <(find "$d" -name cgroup.procs \
			-exec cat {} + 2>/dev/null)
	done
	_kill_pids KILL "$CTD_PID" "${pids[@]}"
	for d in /sys/fs/cgroup/*/"$CTD_NS"; do
		[[ -d $d ]] || continue
		find "$d" -depth -type d -exec rmdir {} + 2>/dev/null ||
			echo "# could not remove cgroup $d" >&2
	done
	CTD_PID=""
}

_runtime_cleanup()
{
	_ctd_cleanup
	local -
	set +e
	local node pid pids=() d p
	local _pm=() m c
	# the containers made in a mount namespace of their own first, from there, one by one:
	# podman there cannot join the namespaces of the others (mounted outside it after it was
	# made), and would forget them without a DEL
	for c in "${_RT_MNT_CTRS[@]}"; do
		node=${c%% *}
		_pid_alive "${PM_MNTNS_PID[$node]:-0}" || continue
		_pm_args "$node" rm -f -i -t 0 "${c#* }"
		timeout 120 nsenter "--net=/run/netns/${NETNS[$node]}" \
			"--mount=/proc/${PM_MNTNS_PID[$node]}/ns/mnt" \
			"--root=/proc/${PM_MNTNS_PID[$node]}/root" \
			"--wd=/proc/${PM_MNTNS_PID[$node]}/cwd" "${_pm[@]}" >/dev/null 2>&1
	done
	for node in "${!PM_DIR[@]}"; do
		[[ -n ${NETNS[$node]:-} ]] || continue
		_pm_args "$node" rm -af -t 0
		timeout 120 nsenter "--net=/run/netns/${NETNS[$node]}" "${_pm[@]}" >/dev/null 2>&1 ||
			echo "# podman rm -af failed in $node" >&2
	done
	for node in "${!PM_MNTNS_PID[@]}"; do
		pids+=("${PM_MNTNS_PID[$node]}")
	done
	_kill_pids KILL "${pids[@]}"
	mapfile -t pids < <(rt_cgroup_pids)
	for pid in "${pids[@]}"; do
		[[ -n $pid ]] && kill -s KILL "$pid" 2>/dev/null
	done
	((${#pids[@]} == 0)) || sleep 0.5
	for d in /sys/fs/cgroup/*/"$RT_CGROUP"; do
		[[ -d $d ]] || continue
		find "$d" -depth -type d -exec rmdir {} + 2>/dev/null ||
			echo "# could not remove cgroup $d" >&2
	done
	for p in "${_RT_NETNS[@]}"; do
		[[ -e $p ]] || continue
		umount "$p" 2>/dev/null
		rm -f "$p"
	done
	# a DEL that failed leaves libcni's cache file
	for p in "${_RT_IDS[@]}"; do
		rm -f /var/lib/cni/results/*-"$p"-*
	done
	# what a failed rm left mounted (a container's shm), deepest first
	for node in "${!PM_DIR[@]}"; do
		awk -v d="${PM_DIR[$node]}/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo |
			sort -r | while read -r m; do
			umount -l "$m" 2>/dev/null || echo "# could not unmount $m" >&2
		done
	done
	# vfs layers are plain directories, some read-only
	for node in "${!PM_DIR[@]}"; do
		chmod -R u+w "${PM_DIR[$node]}" 2>/dev/null
	done
	# last: umount may have made /run/mount
	for ((p = ${#_RT_MADE_DIRS[@]} - 1; p >= 0; p--)); do
		rmdir "${_RT_MADE_DIRS[$p]}" 2>/dev/null
	done
	return 0
}

on_exit _runtime_cleanup
