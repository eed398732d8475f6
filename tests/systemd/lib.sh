# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# tests/systemd/lib.sh: sourced by the tests of this folder. The paths come from
# tests/systemd/meson.build, computed there from the build's options (prefix, sbindir,
# bindir, mandir, datadir, cni_bin_dir, systemdsystemunitdir or systemd's pkg-config):
#
#	MESON_BUILD_ROOT  the build directory          TARTAN_SOURCE_ROOT  the source tree
#	INST_SBINDIR  INST_BINDIR  INST_CNI_BIN_DIR  INST_UNITDIR  INST_MANDIR  INST_DOCDIR
#
# sys_install DESTVAR: `meson install --no-rebuild --destdir <new temp dir>`, the temp dir's
# path in DESTVAR. --no-rebuild: meson test has built everything already, and a second ninja
# in the same build directory while other tests run is not safe.

# shellcheck source=tests/lib/etcd.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/etcd.sh"

for _v in MESON_BUILD_ROOT TARTAN_SOURCE_ROOT INST_SBINDIR INST_BINDIR INST_CNI_BIN_DIR \
	INST_UNITDIR INST_MANDIR INST_DOCDIR; do
	if [[ -z ${!_v:-} ]]; then
		echo "Bail out! $_v is not set: run through meson test (tests/systemd/meson.build)"
		exit 1
	fi
done
unset _v

# the documented tree (docs/operators-guide.md, "Installing"): path, then mode
sys_expected_tree()
{
	printf '%s 755\n' "$INST_SBINDIR/tartand" "$INST_BINDIR/tartanctl" "$INST_CNI_BIN_DIR/tartan"
	printf '%s 644\n' "$INST_UNITDIR/tartand.service" \
		"$INST_MANDIR/man8/tartand.8" "$INST_MANDIR/man8/tartanctl.8" \
		"$INST_MANDIR/man8/tartan-cni.8" \
		"$INST_DOCDIR/operators-guide.md" "$INST_DOCDIR/examples/tartand.default"
}

sys_install()
{
	local _dest _out

	tmpdir_new _dest || return 1
	if ! _out=$(meson install -C "$MESON_BUILD_ROOT" --no-rebuild --destdir "$_dest" 2>&1); then
		tap_diag "meson install failed:" "$_out"
		return 1
	fi
	printf -v "$1" '%s' "$_dest"
}
