#!/usr/bin/env bash
# Time to first finding of each signature for `aiodiff hunt` strategies:
# 5 seeds per strategy, each hunting for $1 seconds (default 60), then the
# median per signature (runs that did not find it count as the time limit,
# marked ">").
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
limit="${1:-60}"
cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin aiodiff
out=$(mktemp -d)
for strategy in random pct; do
    for seed in 1 2 3 4 5; do
        "$root/target/release/aiodiff" hunt --strategy "$strategy" --time "${limit}s" \
            --seed "$seed" --json > "$out/$strategy-$seed.json" 2>/dev/null
    done
done
python3 - "$out" "$limit" <<'PY'
import json, sys, glob, statistics, collections
out, limit = sys.argv[1], float(sys.argv[2])
for strategy in ("random", "pct"):
    runs = [json.load(open(f)) for f in sorted(glob.glob(f"{out}/{strategy}-*.json"))]
    sigs = sorted({h["signature"] for r in runs for h in r})
    print(f"## {strategy}: {len(runs)} runs of {limit:.0f} s")
    for s in sigs:
        times = []
        for r in runs:
            t = [h["seconds"] for h in r if h["signature"] == s]
            times.append(t[0] if t else None)
        found = [t for t in times if t is not None]
        padded = sorted(t if t is not None else float("inf") for t in times)
        med = padded[len(padded) // 2]
        shown = f"{med:.1f} s" if med != float("inf") else f"> {limit:.0f} s"
        print(f"{s}\t{shown}\t{len(found)}/{len(runs)} runs")
PY
