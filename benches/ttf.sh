#!/usr/bin/env bash
# Time to the first finding of each signature `aiodiff verify` reports,
# per engine: libFuzzer (old_model, invariants and differential targets,
# empty corpus), AFL++ (old_model, one zero byte as the only seed unless
# -seeded), and `aiodiff hunt` with the random and PCT strategies. Five
# seeds per engine (1 to 5, or the numbers in $TTF_SEEDS), each run LIMIT
# seconds, as many runs at once as there are cores. Prints a Markdown
# table of medians (of an even number of seeds, the upper one; a run that
# did not find a signature counts as the limit; the median is then shown
# as "> LIMIT") and keeps the raw logs.
#
#   benches/ttf.sh [LIMIT] [ENGINE...]
#
# ENGINE is any of lf-old lf-inv lf-diff lf-old-bytes lf-inv-bytes
# lf-old-seeded lf-inv-seeded lf-diff-seeded lf-old-il lf-inv-il
# lf-old-seeded-il lf-inv-seeded-il lf-old-bare lf-inv-bare
# lf-old-seeded-bare lf-inv-seeded-bare afl-old afl-old-il afl-old-preempt
# afl-old-seeded afl-old-preempt-seeded random pct (default: all but
# lf-diff, the -seeded ones and afl-old-preempt).
# lf-diff is libFuzzer's differential target, which logs the violations of
# both versions' runs in both directions of the judge's transplant, as
# hunt does (the new code's count for the shared rows only);
# afl-old-preempt is AFL++ with the structure-aware custom mutator
# (fuzz/afl/mutator) beside its own; the -bytes engines are the libFuzzer
# targets with libFuzzer's own mutations only (AIODIFF_PREEMPT=0), the
# -seeded ones the targets started from their seed corpus (fuzz/seeds.sh,
# as OSS-Fuzz starts them; differential from old_model's, which holds no
# case the old code fails) instead of an empty one (or, for AFL++, one
# zero byte), the -il engines the fuzz targets with interleaving coverage
# (AIODIFF_INTERLEAVINGS set), the -bare ones the same with the simulator
# built without sanitizer coverage (fuzz/without-sancov.sh), interleavings
# its only feedback; an engine ending in -base (lf-old-base,
# lf-inv-seeded-base, ...) is the one without the suffix run on the
# targets in the directory $TTF_BASELINE (the targets built elsewhere,
# from another commit say; for afl-old-preempt-base and
# afl-old-preempt-seeded-base, the AFL++ mutator
# libaiodiff_afl_mutator.so), so that two builds are timed in one session,
# their runs alternating. libFuzzer runs with the flags of its target's
# options file (fuzz/options/, as OSS-Fuzz runs it; fuzz/options.sh), the
# baseline with $TTF_BASELINE_FLAGS instead where that is set (to "" say).
# The fuzz targets run in their measurement mode (AIODIFF_TTF_LOG, see
# src/fuzzing.rs): they log each signature's first occurrence and go on.
# With TTF_MEASURE=executions the table gives the median number of
# executions to each first finding instead of seconds: the target's runs
# in the process that found it (libFuzzer's seed runs included), or
# hunt's tries, each a run of both versions; it tells an engine's search
# from its speed and start-up.
# Seconds count from the engine's launch, except hunt's, which count
# from the start of its search inside its process (its process starts in
# about 2 ms). With TTF_CLOCK=search libFuzzer's count from the end of
# its first execution instead (the log's fourth column), leaving out its
# own start as hunt's clock does: libFuzzer takes about 20-26 ms to get
# there, most of it zeroing the tables it allocates. AFL++'s count from
# the launch either way, its many processes sharing that clock. A
# finding logged after LIMIT seconds from the launch counts as not found
# (libFuzzer runs on to the next whole second past -max_total_time).
# libFuzzer needs cargo-fuzz, AFL++ cargo-afl (`cargo install cargo-fuzz
# cargo-afl`). CARGO_FUZZ_FLAGS adds flags to the libFuzzer build (e.g.
# --no-trace-compares), as in oss-fuzz/build.sh.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
limit="${1:-60}"
shift || true
engines=("$@")
[[ ${#engines[@]} -gt 0 ]] || engines=(lf-old lf-inv lf-old-bytes lf-inv-bytes lf-old-il lf-inv-il lf-old-bare lf-inv-bare afl-old afl-old-il random pct)
has() { [[ " ${engines[*]} " == *" $1 "* ]]; }
has_any() { for e in "$@"; do has "$e" && return 0; done; return 1; }
# Whether an engine's name matches a glob pattern.
has_like() { for e in "${engines[@]}"; do [[ $e == $1 ]] && return 0; done; return 1; }
TTF_BASELINE="${TTF_BASELINE:-}"
export TTF_SEEDS="${TTF_SEEDS:-1 2 3 4 5}"
case "${TTF_CLOCK:-launch}" in
    launch | search) ;;
    *)
        echo "ttf.sh: TTF_CLOCK=$TTF_CLOCK: expected launch or search" >&2
        exit 2
        ;;
esac
seeds="$TTF_SEEDS"
for e in "${engines[@]}"; do
    if [[ $e == *-base && -z $TTF_BASELINE ]]; then
        echo "ttf.sh: engine $e needs TTF_BASELINE, the directory of the baseline targets" >&2
        exit 2
    fi
done

cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin aiodiff
aiodiff="$root/target/release/aiodiff"
if has_any lf-old lf-inv lf-diff lf-old-bytes lf-inv-bytes lf-old-seeded lf-inv-seeded \
    lf-diff-seeded lf-old-il lf-inv-il lf-old-seeded-il lf-inv-seeded-il; then
    # shellcheck disable=SC2086 # flags are words
    (cd "$root/fuzz" && for target in old_model invariants differential; do
        cargo fuzz build -s none -O --debug-assertions ${CARGO_FUZZ_FLAGS:-} "$target"
    done) >&2
fi
if has_like 'lf-*-bare*'; then
    # shellcheck disable=SC2086 # flags are words
    (cd "$root/fuzz" && for target in old_model invariants; do
        RUSTC_WRAPPER="$root/fuzz/without-sancov.sh" cargo fuzz build -s none -O \
            --debug-assertions ${CARGO_FUZZ_FLAGS:-} --target-dir target/bare "$target"
    done) >&2
fi
if has_any afl-old afl-old-il afl-old-preempt afl-old-seeded afl-old-preempt-seeded \
    afl-old-preempt-base afl-old-preempt-seeded-base; then
    (cd "$root/fuzz/afl" && cargo afl build --release --quiet) >&2
fi
if has_any afl-old-preempt afl-old-preempt-seeded; then
    cargo build --release --quiet --manifest-path "$root/fuzz/afl/mutator/Cargo.toml" >&2
fi
libfuzzer="$root/fuzz/target/x86_64-unknown-linux-gnu/release"
bare="$root/fuzz/target/bare/x86_64-unknown-linux-gnu/release"
afl="$root/fuzz/afl/target/release"
mutator="$root/fuzz/afl/mutator/target/release/libaiodiff_afl_mutator.so"
if has_any afl-old-preempt afl-old-preempt-seeded && [[ ! -f $mutator ]]; then
    echo "ttf.sh: no AFL++ mutator at $mutator (is CARGO_TARGET_DIR set?)" >&2
    exit 2
fi

out="$(mktemp -d "${TMPDIR:-/tmp}/aiodiff-ttf.XXXXXX")"
echo "logs in $out" >&2
"$aiodiff" verify --json --witnesses "$out/witnesses" > "$out/verify.json" 2>/dev/null || true

if has_like '*-seeded*'; then
    bash "$root/fuzz/seeds.sh" "$out/seeds" >&2
fi

jobs="$out/jobs"
: > "$jobs"
for seed in $seeds; do
    for engine in "${engines[@]}"; do
        echo "$engine $seed" >> "$jobs"
    done
done

run_one() {
    local engine="$1" seed="$2" log="$out/$1-$2.log"
    # The engine's output goes beside its work directory, not into it:
    # libFuzzer reads every file of its corpus directory as an input, and
    # rereads it every second.
    local work="$out/work-$engine-$seed" stderr="$out/$1-$2.stderr"
    mkdir -p "$work"
    export AIODIFF_TTF_LOG="$log" AIODIFF_TTF_START
    AIODIFF_TTF_START="$(date +%s.%N)"
    : > "$log"
    case "$engine" in
        lf-*)
            local target=old_model build="$libfuzzer" kind="${engine%-base}"
            [[ $kind == lf-inv* ]] && target=invariants
            [[ $kind == lf-diff* ]] && target=differential
            [[ $kind == *-bare ]] && build="$bare"
            [[ $engine == *-base ]] && build="$TTF_BASELINE"
            if [[ $kind == *-il ]]; then
                export AIODIFF_INTERLEAVINGS=1
            fi
            if [[ $kind == *-bytes ]]; then
                export AIODIFF_PREEMPT=0
            fi
            if [[ $kind == *-seeded* ]]; then
                # differential's own seeds hold the regression corpus'
                # old-only and shared cases, which it passes; old_model's
                # hold no case where the old code breaks an invariant
                local seeds="$target"
                [[ $target == differential ]] && seeds=old_model
                cp "$out/seeds/$seeds/"* "$work/"
            fi
            local flags
            flags="$("$root/fuzz/options.sh" "$target")"
            if [[ $engine == *-base && -n ${TTF_BASELINE_FLAGS+set} ]]; then
                flags="$TTF_BASELINE_FLAGS"
            fi
            # shellcheck disable=SC2086 # flags are words
            "$build/$target" "$work" -seed="$seed" -max_total_time="$limit" $flags \
                > "$stderr" 2>&1 || true
            ;;
        afl-old | afl-old-il | afl-old-preempt | afl-old-seeded | afl-old-preempt-seeded | \
            afl-old-preempt-base | afl-old-preempt-seeded-base)
            mkdir -p "$work/in"
            if [[ $engine == *-il ]]; then
                export AIODIFF_INTERLEAVINGS=1
            fi
            if [[ $engine == *-preempt* ]]; then
                export AFL_CUSTOM_MUTATOR_LIBRARY="$mutator" AIODIFF_MODEL=old
                if [[ $engine == *-base ]]; then
                    AFL_CUSTOM_MUTATOR_LIBRARY="$TTF_BASELINE/libaiodiff_afl_mutator.so"
                fi
            fi
            if [[ $engine == *-seeded* ]]; then
                cp "$out/seeds/old_model/"* "$work/in/"
            else
                printf '\0' > "$work/in/zero"
            fi
            # In a session of its own, so that the fork servers afl-fuzz
            # leaves stopped when -V ends it can be killed with it.
            AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 \
                AFL_NO_AFFINITY=1 setsid cargo afl fuzz -i "$work/in" -o "$work/out" -s "$seed" \
                -V "$limit" "$afl/old_model" > "$stderr" 2>&1 &
            local afl_pid=$!
            wait "$afl_pid" || true
            kill -KILL -- "-$afl_pid" 2> /dev/null || true
            ;;
        random | pct)
            "$aiodiff" hunt --strategy "$engine" --time "${limit}s" --seed "$seed" --json \
                2> "$stderr" | python3 -c '
import json, sys
for h in json.load(sys.stdin):
    print("%.3f\t%s\t%d" % (h["seconds"], h["signature"], h["tries"]))' > "$log"
            ;;
    esac
    echo "done: $engine seed $seed" >&2
}
export -f run_one
export out limit libfuzzer bare afl mutator aiodiff root TTF_BASELINE
[[ -n ${TTF_BASELINE_FLAGS+set} ]] && export TTF_BASELINE_FLAGS
xargs -P "$(nproc)" -L 1 bash -c 'run_one "$@"' _ < "$jobs"

python3 - "$out" "$limit" "${engines[@]}" <<'PY'
import json, sys, glob, os
out, limit, engines = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
by_executions = os.environ.get("TTF_MEASURE") == "executions"
search_clock = os.environ.get("TTF_CLOCK") == "search"
names = {
    "lf-old": "libFuzzer old_model",
    "lf-inv": "libFuzzer invariants",
    "lf-diff": "libFuzzer differential",
    "lf-old-bytes": "libFuzzer old_model, byte mutations only",
    "lf-inv-bytes": "libFuzzer invariants, byte mutations only",
    "lf-old-seeded": "libFuzzer old_model, seed corpus",
    "lf-inv-seeded": "libFuzzer invariants, seed corpus",
    "lf-diff-seeded": "libFuzzer differential, seed corpus",
    "lf-old-il": "libFuzzer old_model, interleavings",
    "lf-old-seeded-il": "libFuzzer old_model, seed corpus, interleavings",
    "lf-inv-seeded-il": "libFuzzer invariants, seed corpus, interleavings",
    "lf-inv-il": "libFuzzer invariants, interleavings",
    "lf-old-bare": "libFuzzer old_model, interleavings, bare simulator",
    "lf-inv-bare": "libFuzzer invariants, interleavings, bare simulator",
    "lf-old-seeded-bare": "libFuzzer old_model, seed corpus, interleavings, bare simulator",
    "lf-inv-seeded-bare": "libFuzzer invariants, seed corpus, interleavings, bare simulator",
    "afl-old": "AFL++ old_model",
    "afl-old-il": "AFL++ old_model, interleavings",
    "afl-old-preempt": "AFL++ old_model, structure-aware mutator",
    "afl-old-seeded": "AFL++ old_model, seed corpus",
    "afl-old-preempt-seeded": "AFL++ old_model, structure-aware mutator, seed corpus",
    "random": "hunt random",
    "pct": "hunt PCT",
}
verify = json.load(open(f"{out}/verify.json"))
rows = [(f["class"], f["signature"].split(":", 1)[1]) for f in verify["findings"]]

def first_times(engine, seed):
    """Earliest time (or execution count) per bare signature in one run's log."""
    times = {}
    path = f"{out}/{engine}-{seed}.log"
    if not os.path.exists(path):
        return times
    for line in open(path):
        # targets built before the executions column log two, before the
        # search clock's three
        t, sig, *rest = line.rstrip("\n").split("\t")
        if float(t) > limit:
            # libFuzzer stops at the first whole second past its
            # -max_total_time: what came after the limit every engine
            # had counts as not found
            continue
        executions = rest[0] if rest else "inf"
        if search_clock and not by_executions and engine.startswith("lf-"):
            if len(rest) < 2:
                sys.exit(f"ttf.sh: TTF_CLOCK=search: {path} has no search clock; "
                         "rebuild the target (for a -base engine, the one in TTF_BASELINE)")
            t = rest[1]
        if engine in ("random", "pct"):
            sig = sig.split(":", 1)[1]  # hunt names a class first
        value = float(executions if by_executions else t)
        times[sig] = min(value, times.get(sig, float("inf")))
    return times

def name(engine):
    if engine.endswith("-base"):
        return names[engine[: -len("-base")]] + ", baseline build"
    return names[engine]

seeds = os.environ["TTF_SEEDS"].split()
runs = {e: [first_times(e, s) for s in seeds] for e in engines}

def cell(engine, cls, sig):
    if engine.startswith("lf-inv") and cls == "old-only":
        return None, "n/a"
    def first(r):
        # differential logs the new code's violations as new:SIG
        new = r.get(f"new:{sig}", float("inf")) if cls == "shared" else float("inf")
        return min(r.get(sig, float("inf")), new)
    times = sorted(first(r) for r in runs[engine])
    med = times[len(times) // 2]
    found = sum(t != float("inf") for t in times)
    if med == float("inf"):
        shown = f"> {limit:.0f} s"
    else:
        shown = f"{med:.0f}" if by_executions else f"{med:.1f} s"
    return med, f"{shown} ({found}/{len(times)})"

print("| signature | " + " | ".join(name(e) for e in engines) + " |")
print("|---|" + "---|" * len(engines))
for cls, sig in rows:
    cells = [cell(e, cls, sig) for e in engines]
    best = min((m for m, _ in cells if m is not None), default=float("inf"))
    shown = [
        f"**{text}**" if m is not None and m == best and m != float("inf") else text
        for m, text in cells
    ]
    print(f"| `{cls}:{sig}` | " + " | ".join(shown) + " |")
PY
