#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/run.sh: install what is missing, build twice (gcc with -Werror; clang with ASan+UBSan
# and the fuzz targets) and run every meson test in both builds.
# Exit status 0 only if both builds and both test runs pass.
#
#	bash tests/run.sh
#
# Extra arguments go to both `meson test` runs, e.g. `bash tests/run.sh --suite etcd`.
# TARTAN_TIMEOUT_MULTIPLIER (default 1) and TARTAN_SAN_TIMEOUT_MULTIPLIER (default 3) scale
# the per-test timeouts set in meson.build; sanitized code runs about twice as slowly.

set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd) || exit 1
: "${TARTAN_BUILD:=$root/build}"
: "${TARTAN_BUILD_SAN:=$root/build-san}"
export TARTAN_BUILD TARTAN_BUILD_SAN

# A stale testlog.json would make .ci/run count the previous run's results: remove them
# first, so a run that fails before its tests leaves none behind.
rm -f "$TARTAN_BUILD/meson-logs/testlog.json" "$TARTAN_BUILD_SAN/meson-logs/testlog.json"

# shellcheck source=tests/lib/setup.sh
. "$root/tests/lib/setup.sh" || exit 1

failed=()

run_tests()
{
	local dir=$1 mult=$2
	shift 2
	meson test -C "$dir" --print-errorlogs --num-processes 2 --timeout-multiplier "$mult" "$@"
}

if build_main; then
	echo "=== test: $TARTAN_BUILD"
	run_tests "$TARTAN_BUILD" "${TARTAN_TIMEOUT_MULTIPLIER:-1}" "$@" ||
		failed+=("tests in $TARTAN_BUILD")
else
	failed+=("build in $TARTAN_BUILD")
fi

if build_san; then
	echo "=== test: $TARTAN_BUILD_SAN (ASan+UBSan)"
	ASAN_OPTIONS=detect_leaks=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		run_tests "$TARTAN_BUILD_SAN" "${TARTAN_SAN_TIMEOUT_MULTIPLIER:-3}" "$@" ||
		failed+=("tests in $TARTAN_BUILD_SAN")
else
	failed+=("build in $TARTAN_BUILD_SAN")
fi

if ((${#failed[@]})); then
	printf 'FAILED: %s\n' "${failed[@]}"
	exit 1
fi
echo "all tests passed in $TARTAN_BUILD and $TARTAN_BUILD_SAN"
