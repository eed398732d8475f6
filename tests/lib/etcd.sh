# SPDX-License-Identifier: Apache-2.0
#
# tests/lib/etcd.sh: private etcd servers, cleanup and TAP output for bash integration tests.
#
# Source it (do not run it) from a test that meson runs with protocol: 'tap':
#
#	. "$(dirname "${BASH_SOURCE[0]}")/../lib/etcd.sh"
#	etcd_start a                    # ETCD_ENDPOINT, ETCD_PID, ETCD_DATA_DIR, ETCD_LOG, ...
#	etcd_start b                    # a second, independent single-member etcd
#	tap_check "put through a" etcdctl --endpoints "$ETCD_ENDPOINT_a" put /k v
#	etcd_kill -9 a; etcd_restart a  # same data dir and ports; waits for health
#	tap_done
#
# etcd (details above each function):
#	etcd_start [--progress-notify DUR] [NAME] [-- ETCD_ARGS...]   one single-member etcd
#	etcd_cluster_start [--progress-notify DUR] NAME SIZE [-- ...]  members NAME1..NAMEsize
#	etcd_kill [-9] [NAME]     etcd_restart [-9] [NAME]     etcd_stop_all [-9]
#	etcd_cluster_restart NAME (every stopped member of cluster NAME at once)
#	etcd_pause NAME / etcd_resume NAME (SIGSTOP / SIGCONT: a member that hangs)
#	etcd_endpoint [NAME]      etcd_pids                    etcd_dump_logs
#   Variables, for the instance last started or restarted and, with a _NAME suffix, for NAME:
#	ETCD_NAME ETCD_ENDPOINT ETCD_PID ETCD_DATA_DIR ETCD_LOG ETCD_CLIENT_PORT ETCD_PEER_PORT
#	ETCD_ENDPOINTS, ETCD_ENDPOINTS_NAME (clusters: comma-separated client URLs)
# Other helpers: free_port [N], wait_until SEC CMD..., on_exit CMD, tmpdir_new VAR,
#	etcd_pki_make DIR SERVER_IP (test CA and certificates, for TLS).
# TAP: tap_plan N, tap_ok, tap_fail, tap_skip, tap_is, tap_like, tap_check, tap_check_fails,
#	tap_diag, tap_bail, tap_failed, tap_done.
#
# Every etcd is started by this shell, recorded by PID and killed by that PID only: by
# etcd_kill, etcd_stop_all or the EXIT trap installed here, which also removes the temp dirs
# even when the test fails or is interrupted. The processes also get a parent-death signal
# (setpriv --pdeathsig), so a test shell killed with SIGKILL leaves no etcd behind.
#
# Call etcd_* in the test's own shell, never inside $(...) or a pipeline: they set variables
# and the processes must stay children of the test shell.
#
# Do not replace the EXIT trap: register extra cleanup with on_exit instead.
#
# The functions work under set -euo pipefail (errexit is off inside them and restored on
# return). The tap_is/tap_check... checks return 1 when they fail, so under set -e a failed
# check ends the test there (reported, cleaned up); write `tap_is ... || true` to go on.
#
# Environment knobs: ETCD_BIN (default /usr/bin/etcd), ETCD_START_TIMEOUT (seconds, default
# 10), TARTAN_KEEP_TMP=1 (keep temp dirs and print where they are).
#
# Network namespaces: with ETCD_NETNS=NS (a namespace the test made, e.g. with
# tests/lib/netns.sh) and ETCD_LISTEN_IP=ADDR (an address in NS; default 127.0.0.1, NS's own
# loopback), etcd_start and etcd_cluster_start run the new instances with `ip netns exec NS`,
# listening on ADDR, and do their port and /health checks inside NS. An instance keeps the
# namespace and address it was started with (etcd_restart uses them again) and ETCD_ENDPOINT
# is http://ADDR:PORT; it is reachable only from inside NS (or through NS's links), so run
# etcdctl as `ip netns exec NS etcdctl ...`. Without ETCD_NETNS nothing changes: 127.0.0.1 in
# the test's own namespace.
#
# TLS: with ETCD_CLIENT_SCHEME=https, etcd_start and etcd_cluster_start make the new instances
# serve clients on https:// (listen and advertise URLs, ETCD_ENDPOINT, ETCD_ENDPOINTS,
# etcd_endpoint); peers stay on http://. The test gives etcd its files as extra arguments
# (-- --cert-file F --key-file F [--client-cert-auth --trusted-ca-file CA]), and names in
# ETCD_CLIENT_CACERT, ETCD_CLIENT_CERT and ETCD_CLIENT_KEY (absolute paths) the files that the
# /health check's curl passes as --cacert, --cert and --key. An instance keeps its scheme and
# files (etcd_restart). Without ETCD_CLIENT_SCHEME (or with http) nothing changes.

if [[ -n ${_TARTAN_ETCD_SH:-} ]]; then
	return 0
fi
_TARTAN_ETCD_SH=1

: "${ETCD_BIN:=/usr/bin/etcd}"
: "${ETCD_START_TIMEOUT:=10}"

declare -gA _ETCD_PID=() _ETCD_CPORT=() _ETCD_PPORT=() _ETCD_DIR=() _ETCD_CLUSTER=()
declare -gA _ETCD_TOKEN=() _ETCD_EXTRA=() _ETCD_STATE=() _ETCD_NS=() _ETCD_HOST=()
declare -gA _ETCD_SCHEME=() _ETCD_CURL_TLS=()
declare -ga _ETCD_NAMES=() _TARTAN_ON_EXIT=() _TARTAN_TMPDIRS=()
_TAP_N=0
_TAP_FAILED=0
_TAP_PLANNED=""
_TAP_USED=""

# ---------------------------------------------------------------------------------------------
# Small helpers

_tartan_err()
{
	local -
	set +e
	echo "${FUNCNAME[1]}: $*" >&2
}

# on_exit CMD: run CMD (a string, eval'ed) when the test exits, before the etcds are stopped;
# commands run last-registered first.
on_exit()
{
	local -
	set +e
	_TARTAN_ON_EXIT+=("$1")
}

# tmpdir_new VAR: make a temp dir that is removed at exit and store its path in VAR.
tmpdir_new()
{
	local -
	set +e
	local _d
	_d=$(mktemp -d "${TMPDIR:-/tmp}/tartan-test.XXXXXX") || return 1
	_TARTAN_TMPDIRS+=("$_d")
	printf -v "$1" '%s' "$_d"
}

# wait_until SECONDS CMD [ARGS...]: run CMD (output discarded) every 0.1 s until it succeeds;
# returns 1 if it still fails after SECONDS (an integer).
wait_until()
{
	local -
	set +e
	local deadline now
	# microseconds, so that short timeouts are not rounded to whole seconds
	now=${EPOCHREALTIME//[!0-9]/}
	deadline=$((now + ${1%.*} * 1000000))
	shift
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		now=${EPOCHREALTIME//[!0-9]/}
		((now < deadline)) || return 1
		sleep 0.1
	done
}

# free_port [N]: print N (default 1) distinct TCP ports free on 127.0.0.1, one per line.
# They come from 15000-31999, below Linux's ephemeral range (32768-60999), so outgoing
# connections do not take them between this check and the bind; a bind race with another
# test is still possible, which is why etcd_start retries with new ports.
free_port()
{
	local -
	set +e
	local n=${1:-1}

	if command -v python3 >/dev/null 2>&1; then
		python3 - "$n" <<-'EOF'
		import random, socket, sys
		n = int(sys.argv[1])
		rnd = random.SystemRandom()
		found = []
		for _ in range(1000):
		    if len(found) == n:
		        break
		    p = rnd.randrange(15000, 32000)
		    if p in found:
		        continue
		    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
		    try:
		        s.bind(("127.0.0.1", p))
		    except OSError:
		        continue
		    finally:
		        s.close()
		    found.append(p)
		if len(found) < n:
		    sys.exit("free_port: no free port found")
		print("\n".join(map(str, found)))
		EOF
		return
	fi

	local found=() p i tries
	for ((tries = 0; tries < 1000 && ${#found[@]} < n; tries++)); do
		p=$((15000 + (RANDOM * 32768 + RANDOM) % 17000))
		for i in "${found[@]}"; do
			[[ $i == "$p" ]] && continue 2
		done
		[[ -z $(ss -Htan "sport = :$p" 2>/dev/null) ]] || continue
		found+=("$p")
	done
	((${#found[@]} == n)) || { _tartan_err "no free port found"; return 1; }
	printf '%s\n' "${found[@]}"
}

# _pid_alive PID: true while PID runs; a zombie (exited, not yet reaped) counts as dead.
_pid_alive()
{
	local -
	set +e
	local stat
	{ stat=$(<"/proc/$1/stat"); } 2>/dev/null || return 1
	stat=${stat##*) }
	[[ ${stat%% *} != Z ]]
}

# _pid_listens PID PORT [NETNS]: true if process PID has a TCP socket listening on PORT (in
# network namespace NETNS if given).
_pid_listens()
{
	local -
	set +e
	local netns=()
	# without ss (iproute2) trust /health alone
	command -v ss >/dev/null 2>&1 || return 0
	[[ -z ${3:-} ]] || netns=(ip netns exec "$3")
	[[ $("${netns[@]}" ss -Htlnp "sport = :$2" 2>/dev/null) == *"pid=$1,"* ]]
}

# _kill_pids SIG PID...: signal each PID, wait up to 10 s for all to exit, SIGKILL the rest,
# then reap them.
_kill_pids()
{
	local -
	set +e
	local sig=$1 pid deadline alive
	shift
	(($#)) || return 0
	for pid in "$@"; do
		kill -s "$sig" "$pid" 2>/dev/null
		# a paused one (etcd_pause) acts on the signal only once it runs again
		[[ $sig == KILL ]] || kill -s CONT "$pid" 2>/dev/null
	done
	deadline=$((SECONDS + 10))
	while :; do
		alive=()
		for pid in "$@"; do
			_pid_alive "$pid" && alive+=("$pid")
		done
		((${#alive[@]})) || break
		if ((SECONDS >= deadline)); then
			for pid in "${alive[@]}"; do
				kill -s KILL "$pid" 2>/dev/null
			done
			break
		fi
		sleep 0.05
	done
	for pid in "$@"; do
		wait "$pid" 2>/dev/null
	done
	return 0
}

# ---------------------------------------------------------------------------------------------
# etcd

_etcd_check_name()
{
	local -
	set +e
	if [[ ! $1 =~ ^[A-Za-z0-9_]+$ ]]; then
		echo "etcd: bad instance name '$1' (letters, digits, _)" >&2
		return 1
	fi
	if [[ -n ${_ETCD_DIR[$1]:-} ]]; then
		echo "etcd: instance '$1' exists already" >&2
		return 1
	fi
}

# _etcd_host NAME: the address instance NAME listens on.
_etcd_host()
{
	printf '%s' "${_ETCD_HOST[$1]:-127.0.0.1}"
}

# _etcd_client_url NAME: the client URL of instance NAME (http:// or, with TLS, https://).
_etcd_client_url()
{
	printf '%s://%s:%s' "${_ETCD_SCHEME[$1]:-http}" "$(_etcd_host "$1")" "${_ETCD_CPORT[$1]}"
}

# _etcd_in_ns NAME CMD [ARGS...]: run CMD in the network namespace of instance NAME (the
# test's own namespace if it has none).
_etcd_in_ns()
{
	local ns=${_ETCD_NS[$1]:-}
	shift
	if [[ -n $ns ]]; then
		ip netns exec "$ns" "$@"
	else
		"$@"
	fi
}

# _etcd_export NAME: set the ETCD_* variables for the latest instance and ETCD_*_NAME for NAME.
_etcd_export()
{
	local -
	set +e
	local name=$1 c=${_ETCD_CPORT[$1]} p=${_ETCD_PPORT[$1]} dir=${_ETCD_DIR[$1]}
	local var val

	export ETCD_NAME=$name
	ETCD_ENDPOINT=$(_etcd_client_url "$name")
	export ETCD_ENDPOINT
	export ETCD_PID=${_ETCD_PID[$name]:-}
	export ETCD_DATA_DIR=$dir/data
	export ETCD_LOG=$dir/etcd.log
	export ETCD_CLIENT_PORT=$c
	export ETCD_PEER_PORT=$p
	for var in ENDPOINT PID DATA_DIR LOG CLIENT_PORT PEER_PORT; do
		val=ETCD_$var
		declare -gx "ETCD_${var}_$name=${!val}"
	done
}

# _etcd_spawn NAME: start the process from the stored configuration; records its PID.
_etcd_spawn()
{
	local -
	set +e
	local name=$1 p=${_ETCD_PPORT[$1]} dir=${_ETCD_DIR[$1]}
	local extra=() pdeath=() unset_env=() v host netns=()

	host=$(_etcd_host "$name")
	# ip netns exec execs etcd in the same process: the PID recorded below stays etcd's.
	[[ -z ${_ETCD_NS[$name]:-} ]] || netns=(ip netns exec "${_ETCD_NS[$name]}")

	eval "extra=(${_ETCD_EXTRA[$name]:-})"
	# etcd takes every ETCD_* environment variable as a flag (ETCD_NAME, ETCD_DATA_DIR, ...)
	# and refuses to start on a conflict: hide ours from it.
	for v in ${!ETCD_@}; do
		unset_env+=(-u "$v")
	done
	# The parent-death signal kills etcd if the test shell dies without running its traps.
	if command -v setpriv >/dev/null 2>&1; then
		pdeath=(setpriv --pdeathsig KILL --)
	fi
	echo "=== tartan test: starting etcd '$name' $(date +%T.%N) ===" >>"$dir/etcd.log"
	env "${unset_env[@]}" "${pdeath[@]}" "${netns[@]}" "$ETCD_BIN" \
		--name "$name" \
		--data-dir "$dir/data" \
		--listen-client-urls "$(_etcd_client_url "$name")" \
		--advertise-client-urls "$(_etcd_client_url "$name")" \
		--listen-peer-urls "http://$host:$p" \
		--initial-advertise-peer-urls "http://$host:$p" \
		--initial-cluster "${_ETCD_CLUSTER[$name]}" \
		--initial-cluster-token "${_ETCD_TOKEN[$name]}" \
		--initial-cluster-state new \
		--logger zap --log-outputs stderr --log-level warn \
		"${extra[@]}" \
		</dev/null >>"$dir/etcd.log" 2>&1 &
	_ETCD_PID[$name]=$!
	# Out of the job table: no "Killed" notices from bash when we SIGKILL it; bash still
	# reaps it.
	disown "$!"
	_ETCD_STATE[$name]=running
}

# _etcd_wait_healthy DEADLINE NAME...: 0 when all answer /health with "health":"true";
# 2 if one exited because its port was taken, 1 otherwise.
_etcd_wait_healthy()
{
	local -
	set +e
	local deadline=$1 name pending out tls
	shift
	pending=("$@")
	while :; do
		local still=()
		for name in "${pending[@]}"; do
			if ! _pid_alive "${_ETCD_PID[$name]}"; then
				wait "${_ETCD_PID[$name]}" 2>/dev/null
				_ETCD_PID[$name]=""
				_ETCD_STATE[$name]=stopped
				if grep -q 'address already in use' "${_ETCD_DIR[$name]}/etcd.log"; then
					return 2
				fi
				echo "etcd '$name' exited during start-up; log ${_ETCD_DIR[$name]}/etcd.log:" >&2
				tail -n 20 "${_ETCD_DIR[$name]}/etcd.log" | sed 's/^/# /' >&2
				return 1
			fi
			# Ask /health only once our process listens on the port: until then (or
			# for good, if the bind failed) another test's server may answer there.
			if ! _pid_listens "${_ETCD_PID[$name]}" "${_ETCD_CPORT[$name]}" \
				"${_ETCD_NS[$name]:-}"; then
				out="our etcd does not listen on port ${_ETCD_CPORT[$name]} yet"
				still+=("$name")
				continue
			fi
			eval "tls=(${_ETCD_CURL_TLS[$name]:-})"
			out=$(_etcd_in_ns "$name" curl -s -m 1 "${tls[@]}" \
				"$(_etcd_client_url "$name")/health" 2>/dev/null)
			[[ $out == *'"health":"true"'* ]] || still+=("$name")
		done
		((${#still[@]})) || return 0
		pending=("${still[@]}")
		if ((SECONDS >= deadline)); then
			for name in "${pending[@]}"; do
				echo "etcd '$name' not healthy after ${ETCD_START_TIMEOUT} s" \
					"(last /health: '${out:-no answer}'); log:" >&2
				tail -n 20 "${_ETCD_DIR[$name]}/etcd.log" | sed 's/^/# /' >&2
			done
			return 1
		fi
		sleep 0.1
	done
}

# _etcd_bootstrap NAME...: pick ports, start all members of one cluster, wait for health;
# retries with new ports when a port was taken in the meantime.
_etcd_bootstrap()
{
	local -
	set +e
	local names=("$@") name attempt rc ports cluster token pids i

	token=tartan-$$-$RANDOM-${names[0]}
	for ((attempt = 1; attempt <= 5; attempt++)); do
		mapfile -t ports < <(free_port $((2 * ${#names[@]})))
		if ((${#ports[@]} != 2 * ${#names[@]})); then
			_tartan_err "could not find free ports"
			return 1
		fi
		cluster=""
		for i in "${!names[@]}"; do
			name=${names[$i]}
			_ETCD_CPORT[$name]=${ports[$((2 * i))]}
			_ETCD_PPORT[$name]=${ports[$((2 * i + 1))]}
			cluster+=${cluster:+,}$name=http://$(_etcd_host "$name"):${_ETCD_PPORT[$name]}
		done
		for name in "${names[@]}"; do
			_ETCD_CLUSTER[$name]=$cluster
			_ETCD_TOKEN[$name]=$token-$attempt
			rm -rf "${_ETCD_DIR[$name]}/data"
			_etcd_spawn "$name"
		done
		_etcd_wait_healthy $((SECONDS + ETCD_START_TIMEOUT)) "${names[@]}"
		rc=$?
		((rc == 0)) && return 0
		pids=()
		for name in "${names[@]}"; do
			[[ -n ${_ETCD_PID[$name]} ]] && pids+=("${_ETCD_PID[$name]}")
			_ETCD_PID[$name]=""
			_ETCD_STATE[$name]=stopped
		done
		_kill_pids KILL "${pids[@]}"
		((rc == 2)) || return 1
		echo "# etcd: a port was taken, retrying with new ports (attempt $attempt)" >&2
	done
	_tartan_err "gave up after 5 attempts"
	return 1
}

# _etcd_parse_args: shared option parsing for etcd_start and etcd_cluster_start.
# Sets _opt_extra (quoted string) and _opt_pos (positional arguments).
_etcd_parse_args()
{
	local -
	set +e
	local extra=()
	_opt_pos=()
	while (($#)); do
		case $1 in
		--progress-notify=*)
			extra+=("--experimental-watch-progress-notify-interval=${1#*=}")
			;;
		--progress-notify)
			[[ $# -ge 2 ]] || { echo "etcd: --progress-notify needs a duration" >&2; return 1; }
			extra+=("--experimental-watch-progress-notify-interval=$2")
			shift
			;;
		--)
			shift
			extra+=("$@")
			break
			;;
		-*)
			echo "etcd: unknown option '$1'" >&2
			return 1
			;;
		*)
			_opt_pos+=("$1")
			;;
		esac
		shift
	done
	_opt_extra=""
	((${#extra[@]} == 0)) || _opt_extra=$(printf '%q ' "${extra[@]}")
}

_etcd_new_dir()
{
	local -
	set +e
	local name=$1 dir tls=()

	# the client scheme of ETCD_CLIENT_SCHEME and the files /health needs with TLS, for good
	case ${ETCD_CLIENT_SCHEME:-http} in
	http) ;;
	https)
		[[ -z ${ETCD_CLIENT_CACERT:-} ]] || tls+=(--cacert "$ETCD_CLIENT_CACERT")
		[[ -z ${ETCD_CLIENT_CERT:-} ]] || tls+=(--cert "$ETCD_CLIENT_CERT")
		[[ -z ${ETCD_CLIENT_KEY:-} ]] || tls+=(--key "$ETCD_CLIENT_KEY")
		;;
	*)
		echo "etcd: ETCD_CLIENT_SCHEME must be http or https, not '$ETCD_CLIENT_SCHEME'" >&2
		return 1
		;;
	esac
	_ETCD_SCHEME[$name]=${ETCD_CLIENT_SCHEME:-http}
	_ETCD_CURL_TLS[$name]=""
	((${#tls[@]} == 0)) || _ETCD_CURL_TLS[$name]=$(printf '%q ' "${tls[@]}")
	dir=$(mktemp -d "${TMPDIR:-/tmp}/tartan-etcd-$name.XXXXXX") || return 1
	_TARTAN_TMPDIRS+=("$dir")
	_ETCD_DIR[$name]=$dir
	_ETCD_NAMES+=("$name")
	_ETCD_STATE[$name]=stopped
	# the namespace and address of ETCD_NETNS / ETCD_LISTEN_IP, for good (etcd_restart)
	_ETCD_NS[$name]=${ETCD_NETNS:-}
	_ETCD_HOST[$name]=${ETCD_LISTEN_IP:-127.0.0.1}
	: >"$dir/etcd.log"
}

# etcd_start [--progress-notify DURATION] [NAME] [-- EXTRA_ETCD_ARGS...]
#
# Start a single-member etcd on 127.0.0.1 with free client and peer ports and wait (up to
# ETCD_START_TIMEOUT s) until /health says "health":"true". NAME defaults to etcd1, etcd2, ...
# --progress-notify 2s passes --experimental-watch-progress-notify-interval=2s.
# Sets and exports ETCD_NAME, ETCD_ENDPOINT (http://127.0.0.1:PORT; https:// with
# ETCD_CLIENT_SCHEME=https), ETCD_PID, ETCD_DATA_DIR, ETCD_LOG, ETCD_CLIENT_PORT,
# ETCD_PEER_PORT, and the same with a _NAME suffix (ETCD_ENDPOINT_a, ETCD_PID_a, ...), which
# keep describing that instance.
etcd_start()
{
	local -
	set +e
	local _opt_pos _opt_extra name

	_etcd_parse_args "$@" || return 1
	if ((${#_opt_pos[@]} > 1)); then
		_tartan_err "usage: etcd_start [--progress-notify DURATION] [NAME] [-- ETCD_ARGS...]"
		return 1
	fi
	name=${_opt_pos[0]:-etcd$((${#_ETCD_NAMES[@]} + 1))}
	_etcd_check_name "$name" || return 1
	[[ -x $ETCD_BIN ]] || { _tartan_err "$ETCD_BIN not found (apt-get install etcd-server)"; return 1; }
	_etcd_new_dir "$name" || return 1
	_ETCD_EXTRA[$name]=$_opt_extra
	_etcd_bootstrap "$name" || return 1
	_etcd_export "$name"
}

# etcd_cluster_start [--progress-notify DURATION] NAME SIZE [-- EXTRA_ETCD_ARGS...]
#
# Start one etcd cluster of SIZE members named NAME1 ... NAMESIZE (each with its own ports,
# data dir and log, usable with etcd_kill/etcd_restart NAMEi) and wait until all are healthy.
# Exports ETCD_ENDPOINTS and ETCD_ENDPOINTS_NAME (comma-separated client URLs) and the
# per-member ETCD_*_NAMEi variables; ETCD_* (no suffix) describe the last member.
etcd_cluster_start()
{
	local -
	set +e
	local _opt_pos _opt_extra name size i members=() eps=""

	_etcd_parse_args "$@" || return 1
	if ((${#_opt_pos[@]} != 2)) || [[ ! ${_opt_pos[1]} =~ ^[1-9][0-9]*$ ]]; then
		_tartan_err "usage: etcd_cluster_start [--progress-notify DURATION] NAME SIZE [-- ETCD_ARGS...]"
		return 1
	fi
	name=${_opt_pos[0]}
	size=${_opt_pos[1]}
	[[ -x $ETCD_BIN ]] || { _tartan_err "$ETCD_BIN not found (apt-get install etcd-server)"; return 1; }
	for ((i = 1; i <= size; i++)); do
		_etcd_check_name "$name$i" || return 1
		members+=("$name$i")
	done
	for i in "${members[@]}"; do
		_etcd_new_dir "$i" || return 1
		_ETCD_EXTRA[$i]=$_opt_extra
	done
	_etcd_bootstrap "${members[@]}" || return 1
	for i in "${members[@]}"; do
		_etcd_export "$i"
		eps+=${eps:+,}$(_etcd_client_url "$i")
	done
	export ETCD_ENDPOINTS=$eps
	declare -gx "ETCD_ENDPOINTS_$name=$eps"
}

_etcd_resolve_name()
{
	local -
	set +e
	local name=${1:-${ETCD_NAME:-}}
	if [[ -z $name || -z ${_ETCD_DIR[$name]:-} ]]; then
		echo "etcd: no such instance '${name}'" >&2
		return 1
	fi
	printf '%s' "$name"
}

# etcd_kill [-9] [NAME]: stop instance NAME (default: ETCD_NAME) by its PID, with SIGTERM or,
# with -9, SIGKILL, and wait until it has exited. Data dir, log and ports are kept.
etcd_kill()
{
	local -
	set +e
	local sig=TERM name pid
	if [[ ${1:-} == -9 || ${1:-} == -KILL ]]; then
		sig=KILL
		shift
	fi
	name=$(_etcd_resolve_name "${1:-}") || return 1
	pid=${_ETCD_PID[$name]:-}
	if [[ -z $pid ]]; then
		echo "etcd_kill: etcd '$name' is not running" >&2
		return 1
	fi
	_kill_pids "$sig" "$pid"
	_ETCD_PID[$name]=""
	_ETCD_STATE[$name]=stopped
	echo "=== tartan test: etcd '$name' (pid $pid) stopped with SIG$sig $(date +%T.%N) ===" \
		>>"${_ETCD_DIR[$name]}/etcd.log"
}

# etcd_pause NAME, etcd_resume NAME: SIGSTOP and SIGCONT of instance NAME, by its PID: a
# member that hangs with its connections open (its kernel still accepts and acknowledges).
# A paused instance still counts as running; etcd_kill and the EXIT trap wake it first.
etcd_pause()
{
	_etcd_signal STOP "$1"
}

etcd_resume()
{
	_etcd_signal CONT "$1"
}

_etcd_signal()
{
	local -
	set +e
	local name pid
	name=$(_etcd_resolve_name "$2") || return 1
	pid=${_ETCD_PID[$name]:-}
	if [[ -z $pid ]]; then
		echo "etcd_pause/etcd_resume: etcd '$name' is not running" >&2
		return 1
	fi
	kill -s "$1" "$pid" || return 1
	echo "=== tartan test: etcd '$name' (pid $pid) got SIG$1 $(date +%T.%N) ===" \
		>>"${_ETCD_DIR[$name]}/etcd.log"
}

# _etcd_members_kill NAME...: SIGKILL those of the instances that run (a start that failed
# half way), all at once, and mark them stopped.
_etcd_members_kill()
{
	local name pids=()
	for name in "$@"; do
		[[ -n ${_ETCD_PID[$name]:-} ]] && pids+=("${_ETCD_PID[$name]}")
		_ETCD_PID[$name]=""
		_ETCD_STATE[$name]=stopped
	done
	((${#pids[@]} == 0)) || _kill_pids KILL "${pids[@]}"
}

# etcd_restart [-9] [NAME]: stop NAME if it runs (SIGTERM, or SIGKILL with -9), start it
# again on the same data dir and ports, and wait for health. Updates ETCD_PID_NAME and makes
# NAME the instance the unsuffixed ETCD_* variables describe. A member of a cluster rejoins it;
# /health then needs a quorum of the members to be running.
etcd_restart()
{
	local -
	set +e
	local sig=TERM name attempt rc
	if [[ ${1:-} == -9 || ${1:-} == -KILL ]]; then
		sig=KILL
		shift
	fi
	name=$(_etcd_resolve_name "${1:-}") || return 1
	if [[ -n ${_ETCD_PID[$name]:-} ]]; then
		if [[ $sig == KILL ]]; then
			etcd_kill -9 "$name" || return 1
		else
			etcd_kill "$name" || return 1
		fi
	fi
	# The port can stay busy for a moment after a kill (a client of ours connecting to it):
	# retry a few times on the same ports.
	for ((attempt = 1; attempt <= 5; attempt++)); do
		_etcd_spawn "$name"
		_etcd_wait_healthy $((SECONDS + ETCD_START_TIMEOUT)) "$name"
		rc=$?
		if ((rc == 0)); then
			_etcd_export "$name"
			return 0
		fi
		_etcd_members_kill "$name"
		((rc == 2)) || return 1
		sleep 0.5
	done
	_tartan_err "etcd '$name' could not bind its ports again"
	return 1
}

# etcd_cluster_restart NAME: start again, all at once, every member of cluster NAME (the
# NAME1..NAMEsize of etcd_cluster_start) that is not running, on its data dir and ports, and
# wait until all of them are healthy. After a whole cluster went down this is the way back:
# etcd_restart brings back one member at a time, and a lone member of a cluster without its
# quorum never answers /health.
etcd_cluster_restart()
{
	local -
	set +e
	local cluster=$1 name members=() attempt rc
	for name in "${_ETCD_NAMES[@]}"; do
		[[ $name =~ ^${cluster}[0-9]+$ && -n ${_ETCD_CLUSTER[$name]:-} ]] || continue
		[[ -z ${_ETCD_PID[$name]:-} ]] && members+=("$name")
	done
	if ((${#members[@]} == 0)); then
		_tartan_err "no stopped member of cluster '$cluster'"
		return 1
	fi
	for ((attempt = 1; attempt <= 5; attempt++)); do
		for name in "${members[@]}"; do
			_etcd_spawn "$name"
		done
		_etcd_wait_healthy $((SECONDS + ETCD_START_TIMEOUT)) "${members[@]}"
		rc=$?
		if ((rc == 0)); then
			for name in "${members[@]}"; do
				_etcd_export "$name"
			done
			return 0
		fi
		_etcd_members_kill "${members[@]}"
		((rc == 2)) || return 1
		sleep 0.5
	done
	_tartan_err "cluster '$cluster' could not bind its ports again"
	return 1
}

# etcd_stop_all [-9]: stop every running instance by PID: one after the other with SIGTERM
# (SIGKILL after 10 s), or all at once with SIGKILL when given -9. Members of one cluster
# that all get SIGTERM together can take seconds to agree that they are shutting down; one
# at a time each stops in well under a second.
etcd_stop_all()
{
	local -
	set +e
	local name pids=()
	for name in "${_ETCD_NAMES[@]}"; do
		[[ -n ${_ETCD_PID[$name]:-} ]] || continue
		if [[ ${1:-} == -9 ]]; then
			pids+=("${_ETCD_PID[$name]}")
		else
			_kill_pids TERM "${_ETCD_PID[$name]}"
		fi
		_ETCD_PID[$name]=""
		_ETCD_STATE[$name]=stopped
	done
	_kill_pids KILL "${pids[@]}"
}

# etcd_pids: print the PIDs of the running instances, one per line.
etcd_pids()
{
	local -
	set +e
	local name
	for name in "${_ETCD_NAMES[@]}"; do
		[[ -n ${_ETCD_PID[$name]:-} ]] && echo "${_ETCD_PID[$name]}"
	done
	return 0
}

# etcd_endpoint [NAME]: print the client URL of NAME (default: ETCD_NAME).
etcd_endpoint()
{
	local -
	set +e
	local name
	name=$(_etcd_resolve_name "${1:-}") || return 1
	_etcd_client_url "$name" && echo
}

# etcd_dump_logs: print the tail of every instance's log as TAP comments on stderr.
etcd_dump_logs()
{
	local -
	set +e
	local name
	for name in "${_ETCD_NAMES[@]}"; do
		[[ -s ${_ETCD_DIR[$name]}/etcd.log ]] || continue
		echo "# ---- etcd '$name' log (${_ETCD_DIR[$name]}/etcd.log), last 20 lines" >&2
		tail -n 20 "${_ETCD_DIR[$name]}/etcd.log" | sed 's/^/# /' >&2
	done
}

# ---------------------------------------------------------------------------------------------
# Test certificates (openssl), for etcd with TLS and client certificates

# _pki_ossl ARGS...: openssl, quiet; on failure the test cannot go on: bail out with its output.
_pki_ossl()
{
	local out

	if ! out=$(openssl "$@" 2>&1); then
		tap_diag "openssl $*:" "$out"
		tap_bail "openssl failed making the test certificates"
	fi
}

# _pki_key DIR NAME: a P-256 key in DIR/NAME.key (fast to make, and what etcd and curl take).
_pki_key()
{
	_pki_ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$1/$2.key"
}

# etcd_pki_make DIR SERVER_IP: make in DIR (the caller's temp dir) with openssl:
#	ca.crt/.key         a CA (tartan-test-ca), valid 2 days
#	other.crt/.key      an unrelated second CA
#	server.crt/.key     the CA's server certificate for IP SERVER_IP (serverAuth and
#	                    clientAuth: etcd's JSON gateway dials its gRPC port with it)
#	client.crt/.key     the CA's client certificate (CN tartan-test-client)
#	stranger.crt/.key   a client certificate of the other CA
#	expired.crt/.key    a client certificate of the CA that expired in 2020
# Bails out (TAP) when openssl is missing or fails.
etcd_pki_make()
{
	local pki=$1 ip=$2 n

	command -v openssl >/dev/null 2>&1 ||
		tap_bail "openssl is not installed (apt-get install openssl)"
	# One config for all: no dependence on the system's openssl.cnf.
	cat >"$pki/openssl.cnf" <<-EOF
	[req]
	distinguished_name = dn
	[dn]
	[v3_ca]
	basicConstraints = critical, CA:TRUE
	keyUsage = critical, keyCertSign, cRLSign
	subjectKeyIdentifier = hash
	# etcd's built-in JSON gateway dials etcd's gRPC port with the server certificate as its
	# client certificate, so with --client-cert-auth it needs clientAuth as well.
	[server_ext]
	basicConstraints = CA:FALSE
	keyUsage = critical, digitalSignature
	extendedKeyUsage = serverAuth, clientAuth
	subjectAltName = IP:$ip
	[client_ext]
	basicConstraints = CA:FALSE
	keyUsage = critical, digitalSignature
	extendedKeyUsage = clientAuth
	# OpenSSL 3.0's "x509 -req" only takes -days from now (-not_before/-not_after came in
	# 3.4): "openssl ca" with -startdate/-enddate signs the expired certificate.
	[ca]
	default_ca = test_ca
	[test_ca]
	database = $pki/ca-db/index.txt
	serial = $pki/ca-db/serial
	new_certs_dir = $pki/ca-db
	certificate = $pki/ca.crt
	private_key = $pki/ca.key
	default_md = sha256
	policy = any_name
	unique_subject = no
	copy_extensions = none
	[any_name]
	commonName = supplied
	EOF
	mkdir -p "$pki/ca-db"
	: >"$pki/ca-db/index.txt"
	echo 1000 >"$pki/ca-db/serial"
	# the CAs: self-signed
	for n in "ca tartan-test-ca" "other other-test-ca"; do
		set -- $n
		_pki_key "$pki" "$1"
		_pki_ossl req -config "$pki/openssl.cnf" -x509 -new -key "$pki/$1.key" \
			-subj "/CN=$2" -days 2 -extensions v3_ca -out "$pki/$1.crt"
	done
	# the leaves: NAME CN CA EXTENSIONS, valid from now for 2 days
	for n in "server $ip ca server_ext" "client tartan-test-client ca client_ext" \
		"stranger stranger-client other client_ext"; do
		set -- $n
		_pki_key "$pki" "$1"
		_pki_ossl req -config "$pki/openssl.cnf" -new -key "$pki/$1.key" -subj "/CN=$2" \
			-out "$pki/$1.csr"
		_pki_ossl x509 -req -in "$pki/$1.csr" -CA "$pki/$3.crt" -CAkey "$pki/$3.key" \
			-CAcreateserial -days 2 -extfile "$pki/openssl.cnf" -extensions "$4" \
			-out "$pki/$1.crt"
	done
	_pki_key "$pki" expired
	_pki_ossl req -config "$pki/openssl.cnf" -new -key "$pki/expired.key" \
		-subj /CN=expired-client -out "$pki/expired.csr"
	_pki_ossl ca -batch -notext -config "$pki/openssl.cnf" -extensions client_ext \
		-startdate 20200101000000Z -enddate 20200102000000Z \
		-in "$pki/expired.csr" -out "$pki/expired.crt"
}

# ---------------------------------------------------------------------------------------------
# TAP (meson: protocol : 'tap'). Non-TAP lines on stdout must start with '#'; better send
# command output and notes to stderr, which --print-errorlogs shows when a test fails.

# tap_plan N: announce N tests up front (or let tap_done print the plan at the end).
tap_plan()
{
	local -
	set +e
	_TAP_USED=1
	_TAP_PLANNED=$1
	echo "1..$1"
}

# tap_diag MSG...: a comment line per line of MSG, on stderr: meson's --print-errorlogs shows
# a TAP test's stderr, while its stdout is parsed into results.
tap_diag()
{
	local -
	set +e
	printf '%s\n' "$*" | sed 's/^/# /' >&2
}

# tap_ok DESC: record a passing test.
tap_ok()
{
	local -
	set +e
	_TAP_USED=1
	_TAP_N=$((_TAP_N + 1))
	echo "ok $_TAP_N - $1"
}

# tap_fail DESC [DETAIL...]: record a failing test; each DETAIL is printed as a comment.
tap_fail()
{
	local -
	set +e
	local d
	_TAP_USED=1
	_TAP_N=$((_TAP_N + 1))
	_TAP_FAILED=$((_TAP_FAILED + 1))
	echo "not ok $_TAP_N - $1"
	echo "# not ok $_TAP_N - $1" >&2
	shift
	for d in "$@"; do
		tap_diag "$d"
	done
	return 0
}

# tap_skip DESC REASON: a test that cannot run here (missing privilege or kernel feature,
# never a failure in disguise).
tap_skip()
{
	local -
	set +e
	_TAP_USED=1
	_TAP_N=$((_TAP_N + 1))
	echo "ok $_TAP_N - $1 # SKIP $2"
}

# tap_is GOT WANT DESC: pass if the strings are equal, else show expected and seen.
tap_is()
{
	local -
	set +e
	if [[ $1 == "$2" ]]; then
		tap_ok "$3"
		return 0
	fi
	tap_fail "$3" "expected: $2" "saw:      $1"
	return 1
}

# tap_like GOT REGEX DESC: pass if GOT matches the bash extended REGEX.
tap_like()
{
	local -
	set +e
	if [[ $1 =~ $2 ]]; then
		tap_ok "$3"
		return 0
	fi
	tap_fail "$3" "expected to match: $2" "saw: $1"
	return 1
}

# tap_check DESC CMD [ARGS...]: pass if CMD exits 0; else show its status and output.
# Its output is captured, so it does not disturb the TAP stream.
tap_check()
{
	local -
	set +e
	local desc=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	if ((rc == 0)); then
		tap_ok "$desc"
		return 0
	fi
	tap_fail "$desc" "command: $*" "expected exit status 0, saw $rc; output:" "$out"
	return 1
}

# tap_check_fails DESC CMD [ARGS...]: pass if CMD exits non-zero.
tap_check_fails()
{
	local -
	set +e
	local desc=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	if ((rc != 0)); then
		tap_ok "$desc"
		return 0
	fi
	tap_fail "$desc" "command: $*" "expected a non-zero exit status, saw 0; output:" "$out"
	return 1
}

# tap_bail REASON: abort the whole test (meson reports ERROR); cleanup still runs.
tap_bail()
{
	local -
	set +e
	_TAP_USED=1
	echo "Bail out! $*"
	_TAP_PLANNED=bail
	exit 1
}

# tap_failed: true if a check failed so far, or (in an on_exit command) the script stopped
# before tap_done; for cleanup that shows more (daemon logs) only when something went wrong.
tap_failed()
{
	((_TAP_FAILED > 0)) || [[ -z ${_TAP_DONE:-} ]]
}

# tap_done: print the plan if none was given, then exit 0 if every test passed, 1 otherwise.
# A test script must end with it.
tap_done()
{
	local -
	set +e
	if [[ -z $_TAP_PLANNED ]]; then
		echo "1..$_TAP_N"
		_TAP_PLANNED=$_TAP_N
	fi
	_TAP_DONE=1
	if ((_TAP_FAILED > 0)); then
		exit 1
	fi
	exit 0
}

# ---------------------------------------------------------------------------------------------
# Cleanup: always, also after a failure, set -e, Ctrl-C or meson's SIGTERM on timeout.

_tartan_exit()
{
	local rc=$? i d msg
	set +e
	trap - EXIT INT TERM HUP
	# a reader that went away (`| head`) must not kill the cleanup halfway: writes fail instead
	trap '' PIPE

	if [[ -n $_TAP_USED && -z ${_TAP_DONE:-} && $_TAP_PLANNED != bail ]]; then
		# The script stopped before tap_done (a failed command under set -e, a signal, or a
		# missing tap_done): report it as a failure instead of a short plan.
		_TAP_N=$((_TAP_N + 1))
		if ((rc == 0)); then
			msg="test script ended without calling tap_done"
		else
			msg="test script stopped with exit status $rc before tap_done"
		fi
		echo "not ok $_TAP_N - $msg"
		echo "# not ok $_TAP_N - $msg" >&2
		[[ -z $_TAP_PLANNED ]] && echo "1..$_TAP_N"
		((rc != 0)) || rc=1
	fi

	for ((i = ${#_TARTAN_ON_EXIT[@]} - 1; i >= 0; i--)); do
		eval "${_TARTAN_ON_EXIT[$i]}"
	done
	((rc == 0)) || etcd_dump_logs
	# The data dirs go away next: nothing to shut down gracefully.
	etcd_stop_all -9
	for d in "${_TARTAN_TMPDIRS[@]}"; do
		if [[ -n ${TARTAN_KEEP_TMP:-} ]]; then
			echo "# kept $d" >&2
		else
			rm -rf -- "$d"
		fi
	done
	exit "$rc"
}

trap _tartan_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
trap 'exit 141' PIPE
