# SPDX-License-Identifier: Apache-2.0
#
# tests/lib/setup.sh: sourced by tests/run.sh and tests/demo.sh.
#
# On sourcing it installs, as root on Debian 12, the packages the build and the tests need
# (only those missing, so a re-run costs one dpkg-query), then defines:
#
#	build_main   meson setup + ninja in build/     (gcc, -Dwerror=true, debugoptimized)
#	build_san    meson setup + ninja in build-san/ (clang, ASan+UBSan, libFuzzer targets)
#
# TARTAN_ROOT is the clone's root. TARTAN_BUILD and TARTAN_BUILD_SAN override the two build
# directories (absolute paths); TARTAN_SKIP_INSTALL=1 skips the package check.

TARTAN_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${TARTAN_BUILD:=$TARTAN_ROOT/build}"
: "${TARTAN_BUILD_SAN:=$TARTAN_ROOT/build-san}"
export TARTAN_ROOT TARTAN_BUILD TARTAN_BUILD_SAN

TARTAN_PACKAGES=(
	build-essential gcc clang libclang-rt-14-dev llvm meson ninja-build pkg-config
	libev-dev libnl-3-dev libnl-route-3-dev libjansson-dev libcurl4-openssl-dev libcmocka-dev
	libmicrohttpd-dev libnftables-dev nftables
	etcd-server etcd-client iproute2 containernetworking-plugins util-linux
	curl python3 procps openssl git ca-certificates valgrind iputils-ping
	systemd man-db groff-base
	podman conmon runc containerd busybox-static
)

setup_log()
{
	echo "setup: $*" >&2
}

# setup_missing_packages: print the packages of TARTAN_PACKAGES that are not installed.
setup_missing_packages()
{
	local installed=() p q

	mapfile -t installed < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' \
		"${TARTAN_PACKAGES[@]}" 2>/dev/null | awk '$2 == "installed" { print $1 }')
	for p in "${TARTAN_PACKAGES[@]}"; do
		for q in "${installed[@]}"; do
			[[ $p == "$q" ]] && continue 2
		done
		echo "$p"
	done
}

setup_install()
{
	local missing=()

	if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
		setup_log "not a Debian system: install by hand the equivalents of: ${TARTAN_PACKAGES[*]}"
		return 0
	fi
	mapfile -t missing < <(setup_missing_packages)
	((${#missing[@]})) || return 0

	if ((EUID != 0)); then
		setup_log "missing packages: ${missing[*]}"
		setup_log "run as root, or: apt-get install ${missing[*]}"
		return 1
	fi
	setup_log "installing: ${missing[*]}"
	# containerd's postinst may start a system containerd as well: the runtime tests run
	# their own, with its own socket and directories.
	# etcd-server's postinst may start a system etcd on 2379/2380 where systemd runs (in a
	# chroot policy-rc.d may forbid it): either way the tests start their own on other ports.
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q || return 1
	apt-get install -y -q --no-install-recommends "${missing[@]}" || return 1

	mapfile -t missing < <(setup_missing_packages)
	if ((${#missing[@]})); then
		setup_log "still missing after apt-get install: ${missing[*]}"
		return 1
	fi
}

# _setup_meson DIR ARGS...: configure DIR, or reconfigure it with ARGS if it exists already.
_setup_meson()
{
	local dir=$1
	shift
	if [[ -f $dir/meson-private/coredata.dat ]]; then
		meson setup --reconfigure "$dir" "$TARTAN_ROOT" "$@"
	else
		meson setup "$dir" "$TARTAN_ROOT" "$@"
	fi
}

build_main()
{
	echo "=== build: $TARTAN_BUILD (gcc, -Dwerror=true, debugoptimized)"
	_setup_meson "$TARTAN_BUILD" -Dwerror=true --buildtype=debugoptimized &&
		ninja -C "$TARTAN_BUILD"
}

build_san()
{
	echo "=== build: $TARTAN_BUILD_SAN (clang, ASan+UBSan, fuzzers, -Dwerror=true)"
	# CC is read only when the directory is first configured; a reconfigure keeps clang.
	CC=clang _setup_meson "$TARTAN_BUILD_SAN" -Dwerror=true --buildtype=debugoptimized \
		-Db_sanitize=address,undefined -Db_lundef=false -Dfuzzing=true &&
		ninja -C "$TARTAN_BUILD_SAN"
}

if [[ -z ${TARTAN_SKIP_INSTALL:-} ]]; then
	setup_install || {
		setup_log "package installation failed"
		return 1 2>/dev/null || exit 1
	}
fi
