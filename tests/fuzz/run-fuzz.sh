#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# run-fuzz.sh TARGET CORPUS_DIR [RUNS]
#
# A fixed, seeded libFuzzer run for the test suite. libFuzzer writes new
# inputs into its corpus directory, so it works on a copy in a temp dir and
# the source tree stays untouched. A crash input is kept as
# ./<target>-crash-<sha1> (the test's working directory) and the exit status
# is libFuzzer's, non-zero.
set -euo pipefail

target=$1
corpus=$2
runs=${3:-20000}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -R "$corpus"/. "$tmp"/

rc=0
"$target" -runs="$runs" -seed=1 -max_len=65536 -print_final_stats=1 \
	-artifact_prefix="$PWD/$(basename "$target")-" "$tmp" || rc=$?
if [ "$rc" -ne 0 ]; then
	echo "run-fuzz.sh: $target failed with status $rc; crash input in $PWD" >&2
fi
exit "$rc"
