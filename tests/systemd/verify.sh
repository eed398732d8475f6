#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/systemd/verify.sh: `systemd-analyze verify` passes on tartand.service as installed
# (TAP; no root needed, no running systemd needed).
#
# systemd-analyze verify checks that ExecStart= (and ExecReload=) name executables that
# exist, and that the man pages of Documentation= are found by man(1). The unit is checked
# as `meson install` leaves it: the build is installed into a temp DESTDIR (as install.sh
# does), the installed unit is copied, unchanged but for ExecStart= whose path gets the
# DESTDIR in front (so the check finds the tartand just installed there, not one on the
# host), and MANPATH points at the DESTDIR's man pages.
#
# Asserts: the installed unit's ExecStart is <sbindir>/tartand and exists in the DESTDIR;
# verify exits 0 and prints nothing about tartand.service (warnings such as an unknown key
# or a bad value count as failures; lines about the host's own units are shown, not counted);
# the unit says what this tartand needs: Type=notify, the /etc/default/tartand environment
# file (optional), Restart=on-failure with RestartSec, RestartPreventExitStatus=2 (tartand's
# usage error), StateDirectory=tartan (--state-dir /var/lib/tartan), RuntimeDirectory=tartan
# (--socket /run/tartan/tartand.sock), KillSignal=SIGTERM, After= and Wants=
# network-online.target, and keeps CAP_NET_ADMIN and CAP_SYS_ADMIN in its bounding set;
# and, so that the check above cannot pass by checking nothing, verify fails on a copy whose
# ExecStart names a file that does not exist, and reports a copy with an unknown key.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/systemd/lib.sh
. "$here/lib.sh"

command -v systemd-analyze >/dev/null || tap_bail "systemd-analyze is missing (package systemd)"
command -v man >/dev/null || tap_bail "man is missing (package man-db)"

tap_plan 7

dest=
sys_install dest || tap_bail "meson install failed"
installed=$dest$INST_UNITDIR/tartand.service
[[ -f $installed ]] || tap_bail "no unit at $INST_UNITDIR/tartand.service in the DESTDIR"

exec_start=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$installed")
if [[ $exec_start == "$INST_SBINDIR/tartand" && -x $dest$exec_start ]]; then
	tap_ok "ExecStart is the installed tartand ($exec_start)"
else
	tap_fail "ExecStart is the installed tartand" "ExecStart: $exec_start" \
		"expected $INST_SBINDIR/tartand, executable in the DESTDIR"
fi

work=
tmpdir_new work
unit=$work/tartand.service
sed "s|^ExecStart=$exec_start|ExecStart=$dest$exec_start|" "$installed" >"$unit"

# verify_unit FILE: runs systemd-analyze verify; sets rc and ours (its lines about the unit)
verify_unit()
{
	local out
	rc=0
	out=$(MANPATH=$dest$INST_MANDIR SYSTEMD_LOG_COLOR=0 systemd-analyze verify "$1" 2>&1) ||
		rc=$?
	ours=$(grep -F -e "$(basename "$1")" -e "$1" <<<"$out" || true)
	others=$(grep -v -F -e "$(basename "$1")" -e "$1" <<<"$out" || true)
}

verify_unit "$unit"
[[ -z $others ]] || tap_diag "systemd-analyze said about other units (not counted):" "$others"
if ((rc == 0)) && [[ -z $ours ]]; then
	tap_ok "systemd-analyze verify passes, without a warning"
else
	tap_fail "systemd-analyze verify passes, without a warning" "exit status $rc" "$ours"
fi

missing=()
for line in 'Type=notify' 'EnvironmentFile=-/etc/default/tartand' 'Restart=on-failure' \
	'RestartPreventExitStatus=2' 'StateDirectory=tartan' 'RuntimeDirectory=tartan' \
	'KillSignal=SIGTERM' 'WantedBy=multi-user.target'; do
	grep -qxF "$line" "$unit" || missing+=("$line")
done
grep -qE '^RestartSec=[1-9][0-9]*s?$' "$unit" || missing+=("RestartSec=N")
grep -qE '^After=.*\bnetwork-online\.target\b' "$unit" || missing+=("After=network-online.target")
grep -qE '^Wants=.*\bnetwork-online\.target\b' "$unit" || missing+=("Wants=network-online.target")
tap_is "${missing[*]:-}" "" "the unit has the settings tartand needs" || true

caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit" | tr '\n' ' ')
if [[ -z $caps ]] ||
	[[ " $caps " == *" CAP_NET_ADMIN "* && " $caps " == *" CAP_SYS_ADMIN "* ]]; then
	tap_ok "the bounding set keeps CAP_NET_ADMIN (netlink) and CAP_SYS_ADMIN (setns)"
else
	tap_fail "the bounding set keeps CAP_NET_ADMIN and CAP_SYS_ADMIN" "CapabilityBoundingSet=$caps"
fi
# ProtectKernelTunables would make /proc/sys read-only: tartand sets accept_ra of flannel.<VNI>
tap_is "$(grep -cE '^(ProtectKernelTunables|RestrictNamespaces|PrivateNetwork)=(yes|true|on|1)$' \
	"$unit" || true)" 0 "no hardening that breaks /proc/sys writes, setns or the host network" || true

# the checks above must be able to fail
bad=$work/bad/tartand.service
mkdir -p "$(dirname "$bad")"
sed "s|^ExecStart=[^ ]*|ExecStart=$work/no-such-tartand|" "$unit" >"$bad"
verify_unit "$bad"
if ((rc != 0)) && [[ $ours == *no-such-tartand* ]]; then
	tap_ok "verify fails on a unit whose ExecStart does not exist"
else
	tap_fail "verify fails on a unit whose ExecStart does not exist" "exit status $rc" "$ours"
fi

sed 's/^Type=notify$/Type=notify\nNoSuchKey=1/' "$unit" >"$bad"
verify_unit "$bad"
tap_like "$ours" 'NoSuchKey' "verify reports an unknown key in the unit" || true

tap_done
