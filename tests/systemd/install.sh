#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/systemd/install.sh: `meson install --destdir` produces the documented tree (TAP; no
# root needed).
#
# Asserts: `meson install -C <build> --no-rebuild --destdir <tmp>` succeeds and installs
# exactly the files of the documented list (docs/operators-guide.md, "Installing"; paths
# from the build's options, passed in by tests/systemd/meson.build) and nothing else:
# tartand in sbindir, tartanctl in bindir, the CNI plugin `tartan` in -Dcni_bin_dir (default
# /opt/cni/bin), tartand.service in the systemd unit directory, tartand(8), tartanctl(8)
# and tartan-cni(8) in <mandir>/man8, the operator's guide and the example
# /etc/default/tartand in <datadir>/doc/tartan; programs mode 0755, the rest 0644; the
# installed programs run (tartand --version, tartanctl version, the plugin's CNI VERSION
# answer); the installed unit's ExecStart is the installed tartand; the installed man
# pages, guide and example are the source files byte for byte.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/systemd/lib.sh
. "$here/lib.sh"

tap_plan 9

dest=
if ! sys_install dest; then
	tap_bail "meson install failed"
fi
tap_ok "meson install --destdir succeeds"

expected=$(sys_expected_tree | sort)
# every file and symlink (directories come with them)
seen=$(cd "$dest" && find . \( -type f -o -type l \) -printf '/%P %m\n' | sort)
tap_is "$seen" "$expected" \
	"the installed files and their modes are exactly the documented list" || true
# if the line above failed, say what differs
if [[ $seen != "$expected" ]]; then
	tap_diag "$(diff <(echo "$expected") <(echo "$seen") || true)"
fi

ver=$("$dest$INST_SBINDIR/tartand" --version 2>&1) || true
tap_like "$ver" '^tartand [0-9]+\.[0-9]+\.[0-9]+$' "the installed tartand runs (--version)" || true

ver=$("$dest$INST_BINDIR/tartanctl" version 2>&1) || true
tap_like "$ver" '^tartanctl [0-9]+\.[0-9]+\.[0-9]+$' \
	"the installed tartanctl runs (version)" || true

plugin=$dest$INST_CNI_BIN_DIR/tartan
ver=$(echo '{"cniVersion":"1.0.0"}' | CNI_COMMAND=VERSION "$plugin" 2>&1) || true
tap_like "$ver" '"supportedVersions":[[]"0\.3\.1","0\.4\.0","1\.0\.0","1\.1\.0"[]]' \
	"the installed CNI plugin answers CNI VERSION" || true

unit=$dest$INST_UNITDIR/tartand.service
exec_start=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$unit" 2>/dev/null || true)
tap_is "$exec_start" "$INST_SBINDIR/tartand" \
	"the installed unit's ExecStart is the installed tartand" || true

same=yes
for m in tartand.8 tartanctl.8 tartan-cni.8; do
	cmp -s "$TARTAN_SOURCE_ROOT/man/$m" "$dest$INST_MANDIR/man8/$m" || same="no: $m"
done
tap_is "$same" yes "the installed man pages are the sources" || true

same=yes
cmp -s "$TARTAN_SOURCE_ROOT/docs/operators-guide.md" "$dest$INST_DOCDIR/operators-guide.md" ||
	same="no: operators-guide.md"
cmp -s "$TARTAN_SOURCE_ROOT/systemd/tartand.default" \
	"$dest$INST_DOCDIR/examples/tartand.default" || same="no: tartand.default"
tap_is "$same" yes \
	"the installed guide and example environment file are the sources" || true

# the template's only placeholder was replaced; nothing else of it changed
tmpl=$(sed "s|@SBINDIR@|$INST_SBINDIR|" "$TARTAN_SOURCE_ROOT/systemd/tartand.service.in")
tap_is "$(cat "$unit")" "$tmpl" \
	"the installed unit is the template with @SBINDIR@ replaced" || true

tap_done
