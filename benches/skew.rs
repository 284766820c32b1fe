//! The skew check's decisions and cost: `cargo bench --bench skew`.
//!
//! Generates cases as `hunt` does (scenarios from random bytes, schedules
//! from a random walk or PCT on one model, alternately, as label-aligned
//! segments), keeps those the oracle calls a divergence before any skew
//! check, and runs the check on each with a fresh cache, as a fuzz target
//! meets a new scenario. Prints how each was decided (a nearby schedule
//! with the new outcome exactly, one matching it up to the refusal table,
//! the exploration, operation by operation, or not at all) and the time
//! the checks took: total, median and worst.
//!
//! `--cases N` sets how many cases to generate per strategy (default
//! 20 000); `--seed S` the seed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aiodiff::explore::{witness_schedule, SkewCache};
use aiodiff::oracle::SkewCheck;
use aiodiff::strategy::{Pct, RandomWalk, Rng};
use aiodiff::{bytes, check_case, run_model, Case, Class, New, Old, RefusalTable, RunOptions};
use kernel_sim::Scheduler;

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .map_or(default, |i| args[i + 1].parse().expect("a number"))
}

/// How the check decided, from the phrase it explains itself with.
fn decided_by(how: &Option<String>) -> &'static str {
    match how.as_deref() {
        None => "divergence",
        Some(h) if h.starts_with("under the schedule") => "nearby, exact",
        Some(h) if h.starts_with("up to the refusal table") => "nearby, up to the table",
        Some(h) if h.starts_with("under another schedule") => "exploration",
        Some(_) => "operation by operation",
    }
}

fn main() {
    let cases = arg("--cases", 20_000);
    let seed = arg("--seed", 7);
    let table = RefusalTable::default();
    for strategy in ["random", "pct"] {
        let mut rng = Rng::new(seed);
        let mut decided: BTreeMap<&str, usize> = BTreeMap::new();
        let mut times = Vec::new();
        for n in 0..cases {
            let raw: Vec<u8> = (0..48).map(|_| rng.next_u64() as u8).collect();
            let scenario = bytes::decode(&raw).scenario;
            let run_seed = rng.next_u64();
            let mut sched: Box<dyn Scheduler> = match strategy {
                "random" => Box::new(RandomWalk::new(run_seed)),
                _ => Box::new(Pct::new(run_seed, 3, 400)),
            };
            let schedule = if n % 2 == 0 {
                let o = run_model(&New, &scenario, sched.as_mut(), RunOptions::QUIET);
                witness_schedule(&New, &scenario, &o.decisions)
            } else {
                let o = run_model(&Old, &scenario, sched.as_mut(), RunOptions::QUIET);
                witness_schedule(&Old, &scenario, &o.decisions)
            };
            let case = Case {
                scenario,
                schedule,
                expect: None,
            };
            let checked = check_case(&case, &table, false);
            if checked.verdict.class != Class::Divergence {
                continue;
            }
            let t = Instant::now();
            let mut cache = SkewCache::new(
                aiodiff::SKEW_PREEMPTIONS,
                aiodiff::SKEW_BUDGET,
                table.clone(),
            );
            let how = cache
                .check(&case.scenario, &case.schedule)
                .old_reaches(&checked.old, &checked.new);
            times.push(t.elapsed());
            *decided.entry(decided_by(&how)).or_default() += 1;
        }
        times.sort();
        let total: Duration = times.iter().sum();
        let median = times.get(times.len() / 2).copied().unwrap_or_default();
        let worst = times.last().copied().unwrap_or_default();
        println!(
            "{strategy}: {cases} cases, {} divergences before the check; decided: {decided:?}; \
             check time total {total:.2?}, median {median:.2?}, worst {worst:.2?}",
            times.len()
        );
    }
}
