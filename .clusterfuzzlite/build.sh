#!/usr/bin/env bash
# ClusterFuzzLite build script: the OSS-Fuzz one, which builds every
# target into $OUT with its options and seed corpus. Runs outside Docker
# too, with the same variables (see oss-fuzz/build.sh).
set -euo pipefail
root="${AIODIFF_ROOT:-$SRC/aiodiff}"
exec "$root/oss-fuzz/build.sh"
