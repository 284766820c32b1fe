//! How often one try shows each signature of the old code, per catalogue
//! scenario: `cargo bench --bench odds [-- N]` (N tries of each kind,
//! default 2000).
//!
//! Three kinds of try: a draw of `hunt --strategy pct` (depth 3, change
//! points among the first 400 steps); one preemption of the scenario's
//! default run, the fuzz targets' structure-aware mutation
//! (`aiodiff::mutation::preempt`) applied to a seed that `aiodiff
//! catalogue` wrote; and two preemptions in a row, the second of the
//! first's result, as two generations of the fuzzer make them when the
//! first is kept. The counts say which rows one switch can reach from a
//! seed and which need two, which is what sets libFuzzer's time to them
//! beside PCT's (BENCHMARKS.md).

use std::collections::{BTreeMap, BTreeSet};

use aiodiff::runner::{run_model, RunOptions};
use aiodiff::strategy::Pct;
use aiodiff::{bytes, catalogue, Case, Old};
use kernel_sim::{Scheduler, Segments};

/// Signatures of the old code's run of `case` under `sched`, tallied.
fn tally(case: &Case, sched: &mut dyn Scheduler, into: &mut BTreeMap<String, u32>) {
    let run = run_model(&Old, &case.scenario, sched, RunOptions::QUIET);
    for s in run.signatures() {
        *into.entry(s).or_default() += 1;
    }
}

/// Tallies the signatures of the case `data` decodes to, run by its
/// schedule (nothing where the mutation gave up).
fn tally_bytes(data: Option<Vec<u8>>, into: &mut BTreeMap<String, u32>) {
    if let Some(data) = data {
        let case = bytes::decode(&data);
        tally(&case, &mut Segments::new(case.schedule.clone()), into);
    }
}

fn main() {
    let tries: u32 = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map_or(2000, |a| a.parse().expect("N: a number of tries"));
    println!("| scenario | signature | PCT draw | one preemption | two preemptions |");
    println!("|---|---|---|---|---|");
    for e in catalogue::catalogue() {
        let seed = Case {
            scenario: e.scenario.clone(),
            ..Case::default()
        };
        let data = bytes::encode(&seed).expect("a catalogue scenario encodes");
        let mut counts: [BTreeMap<String, u32>; 3] = Default::default();
        for n in 0..tries {
            let mut pct = Pct::new(u64::from(n) * 7919 + 1, 3, 400);
            tally(&seed, &mut pct, &mut counts[0]);
            let once = aiodiff::mutation::preempt(&Old, &data, 2 * n);
            tally_bytes(once.clone(), &mut counts[1]);
            let twice = once.and_then(|d| aiodiff::mutation::preempt(&Old, &d, 2 * n + 1));
            tally_bytes(twice, &mut counts[2]);
        }
        let signatures: BTreeSet<&String> = counts.iter().flat_map(|c| c.keys()).collect();
        for s in signatures {
            let of = |c: &BTreeMap<String, u32>| c.get(s).copied().unwrap_or(0);
            println!(
                "| {} | `{s}` | {} | {} | {} |",
                e.name.replace('|', "\\|"),
                of(&counts[0]),
                of(&counts[1]),
                of(&counts[2])
            );
        }
    }
    println!("\n(counts of {tries} tries of each kind)");
}
