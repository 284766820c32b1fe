//! How often one try shows each signature of the old code, per catalogue
//! scenario: `cargo bench --bench odds [-- N]` (N tries of each kind,
//! default 2000).
//!
//! Five kinds of try: a draw of `hunt --strategy pct` (depth 3, change
//! points among the first 400 steps); the fuzz targets' PCT-draw mutation
//! (`aiodiff::mutation::pct_draw`), the same draw written into a seed's
//! bytes as `aiodiff catalogue` wrote it, cut where the byte format
//! cannot say more; one preemption of the scenario's default run, the
//! targets' other structure-aware mutation (`aiodiff::mutation::preempt`)
//! applied to the seed; and two preemptions in a row, the second of the
//! first's result, as two generations of the fuzzer make them when the
//! first is kept; and one preemption of the new code's default run with
//! the old code following it (`aiodiff::mutation::preempt_followed`,
//! `old_model`'s third mutation). The counts say which rows one switch
//! can reach from a seed and which need two, and what the byte format
//! loses of a PCT draw, which is what sets libFuzzer's time to them
//! beside PCT's (BENCHMARKS.md).

use std::collections::{BTreeMap, BTreeSet};

use aiodiff::runner::{run_model, RunOptions};
use aiodiff::strategy::{Pct, PCT_DEPTH, PCT_HORIZON};
use aiodiff::{bytes, catalogue, Case, New, Old};
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
    println!(
        "| scenario | signature | PCT draw | PCT draw as a mutation | one preemption | two preemptions | one preemption of the new run, followed |"
    );
    println!("|---|---|---|---|---|---|---|");
    for e in catalogue::catalogue() {
        let seed = Case {
            scenario: e.scenario.clone(),
            ..Case::default()
        };
        let data = bytes::encode(&seed).expect("a catalogue scenario encodes");
        let mut counts: [BTreeMap<String, u32>; 5] = Default::default();
        for n in 0..tries {
            let draw = n.wrapping_mul(7919).wrapping_add(1);
            let mut pct = Pct::new(u64::from(draw), PCT_DEPTH, PCT_HORIZON);
            tally(&seed, &mut pct, &mut counts[0]);
            tally_bytes(
                aiodiff::mutation::pct_draw(&Old, &data, draw),
                &mut counts[1],
            );
            let once = aiodiff::mutation::preempt(&Old, &data, 2 * n);
            tally_bytes(once.clone(), &mut counts[2]);
            let twice = once.and_then(|d| aiodiff::mutation::preempt(&Old, &d, 2 * n + 1));
            tally_bytes(twice, &mut counts[3]);
            tally_bytes(
                aiodiff::mutation::preempt_followed(&New, &Old, &data, 2 * n),
                &mut counts[4],
            );
        }
        let signatures: BTreeSet<&String> = counts.iter().flat_map(|c| c.keys()).collect();
        for s in signatures {
            let of = |c: &BTreeMap<String, u32>| c.get(s).copied().unwrap_or(0);
            println!(
                "| {} | `{s}` | {} | {} | {} | {} | {} |",
                e.name.replace('|', "\\|"),
                of(&counts[0]),
                of(&counts[1]),
                of(&counts[2]),
                of(&counts[3]),
                of(&counts[4])
            );
        }
    }
    println!("\n(counts of {tries} tries of each kind)");
}
