#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/systemd/man.sh: the man pages tartand(8), tartanctl(8) and tartan-cni(8) render
# without a warning and document what the programs offer (TAP; no root needed).
#
# Asserts, for each page in man/: `man --warnings -l` renders it with exit status 0, a
# NAME section and not one line on stderr (groff's warnings, -ww, included); `groff -man
# -ww -z` is silent as well; lexgrog(1) finds the whatis line, so apropos and `man -k`
# will list it. And against the programs of this build: every flag `tartand --help` lists
# is in tartand(8); every command and option `tartanctl --help` lists is in tartanctl(8);
# tartan-cni(8) has the plugin's conf keys and variables (socket, daemonWaitSeconds,
# TARTAN_CNI_WAIT_S, TARTAN_CNI_TIMEOUT_S: cni/request.c) and every CNI version its
# VERSION answer lists.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/systemd/lib.sh
. "$here/lib.sh"

for p in man groff lexgrog; do
	command -v "$p" >/dev/null || tap_bail "$p is missing (packages man-db, groff-base)"
done
: "${TARTAND:?}" "${TARTANCTL:?}" "${TARTAN_CNI:?}"

pages=(tartand.8 tartanctl.8 tartan-cni.8)
tap_plan $((3 * ${#pages[@]} + 3))

work=
tmpdir_new work
for page in "${pages[@]}"; do
	src=$TARTAN_SOURCE_ROOT/man/$page
	rc=0
	MANWIDTH=80 man --warnings -l "$src" >"$work/$page.txt" 2>"$work/$page.err" || rc=$?
	if ((rc == 0)) && [[ ! -s $work/$page.err ]] && grep -q '^NAME$' "$work/$page.txt"; then
		tap_ok "$page: man -l renders it, with a NAME section and no warning"
	else
		tap_fail "$page: man -l renders it without a warning" "exit status $rc" \
			"$(cat "$work/$page.err")"
	fi
	out=$(groff -man -Tutf8 -ww -z "$src" 2>&1) || out="exit status $?: $out"
	tap_is "$out" "" "$page: groff -man -ww is silent" || true
	whatis=$(lexgrog "$src" 2>&1) || true
	tap_like "$whatis" ": \"${page%.8} - .+\"$" "$page: lexgrog finds the whatis line" || true
done

# the roff sources with \- as -, for the comparisons
plain()
{
	sed 's/\\-/-/g' "$TARTAN_SOURCE_ROOT/man/$1"
}

missing=()
man_text=$(plain tartand.8)
while read -r flag; do
	grep -qE -- "(^|[^a-z-])$flag([^a-z-]|$)" <<<"$man_text" || missing+=("$flag")
done < <("$TARTAND" --help | grep -oE '^  --[a-z0-9-]+')
tap_is "${missing[*]:-}" "" "tartand(8) has every flag of tartand --help" || true

missing=()
man_text=$(plain tartanctl.8)
help=$("$TARTANCTL" --help)
# a command is a tagged paragraph: .B status, .BI "network set " FILE...
while read -r cmd; do
	grep -qE "^\.BI? \"?$cmd( |\"|\$)" <<<"$man_text" || missing+=("$cmd")
done < <(sed -n '/^Commands:/,/^$/p' <<<"$help" | grep -oE '^  [a-z][a-z -]*[a-z]' |
	sed 's/^  //; s/  .*//')
while read -r opt; do
	grep -qE -- "(^|[^a-z-])$opt([^a-z-]|$)" <<<"$man_text" || missing+=("$opt")
done < <(grep -oE -- '--[a-z-]+' <<<"$help" | sort -u)
tap_is "${missing[*]:-}" "" "tartanctl(8) has every command and option of tartanctl --help" || true

missing=()
man_text=$(plain tartan-cni.8)
versions=$(echo '{"cniVersion":"1.0.0"}' | CNI_COMMAND=VERSION "$TARTAN_CNI" |
	grep -oE '"supportedVersions":\[[^]]*\]' | grep -oE '[0-9]+\.[0-9]+\.[0-9]+')
[[ -n $versions ]] || missing+=("(no versions from the plugin's VERSION answer)")
for word in socket daemonWaitSeconds TARTAN_CNI_WAIT_S TARTAN_CNI_TIMEOUT_S $versions; do
	grep -qF -- "$word" <<<"$man_text" || missing+=("$word")
done
tap_is "${missing[*]:-}" "" \
	"tartan-cni(8) has the plugin's conf keys, variables and CNI versions" || true

tap_done
