#!/usr/bin/env bash
# A RUSTC_WRAPPER that compiles some crates without sanitizer coverage:
# those named in AIODIFF_UNINSTRUMENTED (crate names, space-separated;
# default: the simulator, "kernel_sim model_old model_new"). cargo-fuzz
# passes its coverage flags to every crate; this drops them, and the
# branch-folding setting that only serves them, for the crates named, so
# that the fuzzer's feedback on them is the interleaving coverage alone
# (AIODIFF_INTERLEAVINGS) and their code runs at full speed.
#
#   RUSTC_WRAPPER="$PWD/without-sancov.sh" cargo fuzz build --target-dir target/bare ...
set -euo pipefail
rustc="$1"
shift
crates="aiodiff kernel_sim model_old model_new"
name=""
prev=""
for a in "$@"; do
    [[ $prev == --crate-name ]] && name="$a"
    prev="$a"
done
if [[ -z $name || " $crates " != *" $name "* ]]; then
    exec "$rustc" "$@"
fi
args=()
for a in "$@"; do
    case "$a" in
        -Cpasses=sancov-module | -Cllvm-args=-sanitizer-coverage-* | \
            -Cllvm-args=-simplifycfg-branch-fold-threshold=0) ;;
        *) args+=("$a") ;;
    esac
done
exec "$rustc" "${args[@]}"
