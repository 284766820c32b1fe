#!/usr/bin/env bash
# Prints the libFuzzer flags of a target's options file,
# fuzz/options/TARGET.options (the [libfuzzer] section, as OSS-Fuzz and
# ClusterFuzzLite read it), as command-line flags:
#
#   target/.../old_model corpus/old_model $(fuzz/options.sh old_model)
set -euo pipefail
file="$(cd "$(dirname "$0")" && pwd)/options/${1:?usage: options.sh TARGET}.options"
[[ -f $file ]] || { echo "options.sh: no options file $file" >&2; exit 2; }
awk '
    /^\[/ { section = $0; next }
    section == "[libfuzzer]" && /=/ {
        split($0, kv, "=")
        gsub(/[ \t]/, "", kv[1]); gsub(/[ \t]/, "", kv[2])
        printf "%s-%s=%s", sep, kv[1], kv[2]; sep = " "
    }
    END { print "" }
' "$file"
