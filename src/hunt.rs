//! `aiodiff hunt`: generate scenarios and schedules with a strategy, run
//! them against both versions, and report each finding signature when it
//! is first seen.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kernel_sim::Scheduler;

use crate::case::{Case, Class};
use crate::catalogue::catalogue;
use crate::explore::{witness_schedule, ExploreOptions};
use crate::judge::classify::RefusalTable;
use crate::runner::{run_model, RunOptions};
use crate::scenario::Scenario;
use crate::strategy::{Pct, RandomWalk, Rng, PCT_HORIZON};
use crate::{bytes, Judge, New, Old};

/// How schedules are chosen.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Strategy {
    /// A uniformly random runnable task at every step.
    Random,
    /// PCT with this bug depth.
    Pct(u32),
    /// The explorer over the catalogue, scenario by scenario.
    Explore,
}

/// A finding signature and when it was first seen.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Hit {
    /// The signature.
    pub signature: String,
    /// Seconds from the start of the hunt.
    pub seconds: f64,
    /// Cases (or, for the explorer, scenarios) tried until then.
    pub tries: u64,
    /// A case that shows it.
    #[serde(skip)]
    pub case: Case,
}

/// Runs `strategy` for `time`, calling `found` on each new signature and
/// `tick` about once a second with the tries so far.
pub fn hunt(
    strategy: Strategy,
    time: Duration,
    seed: u64,
    table: &RefusalTable,
    mut found: impl FnMut(&Hit),
    mut tick: impl FnMut(u64, &BTreeMap<Class, u64>),
) -> Vec<Hit> {
    let start = Instant::now();
    let mut hits: BTreeMap<String, Hit> = BTreeMap::new();
    let mut classes: BTreeMap<Class, u64> = BTreeMap::new();
    let mut note =
        |signature: String, tries: u64, case: &Case, hits: &mut BTreeMap<String, Hit>| {
            if let std::collections::btree_map::Entry::Vacant(slot) = hits.entry(signature) {
                let hit = Hit {
                    signature: slot.key().clone(),
                    seconds: start.elapsed().as_secs_f64(),
                    tries,
                    case: case.clone(),
                };
                found(&hit);
                slot.insert(hit);
            }
        };
    let entries = catalogue();
    let mut last_tick = Instant::now();
    let mut tries = 0u64;
    if strategy == Strategy::Explore {
        for e in &entries {
            if start.elapsed() >= time {
                break;
            }
            let c = e.compare(table, ExploreOptions::default().max_executions, false);
            tries += 1;
            for f in &c.findings {
                *classes.entry(f.class).or_default() += 1;
                let decisions = &f.decisions;
                let schedule = if f.model == "old" {
                    witness_schedule(&Old, &e.scenario, decisions)
                } else {
                    witness_schedule(&New, &e.scenario, decisions)
                };
                let case = Case {
                    scenario: e.scenario.clone(),
                    schedule,
                    expect: None,
                };
                note(f.signature.clone(), tries, &case, &mut hits);
            }
            tick(tries, &classes);
        }
        return hits.into_values().collect();
    }
    let mut rng = Rng::new(seed);
    let mut judge = Judge::new(table.clone());
    while start.elapsed() < time {
        tries += 1;
        let scenario = if rng.below(2) == 0 {
            entries[rng.below(entries.len() as u64) as usize]
                .scenario
                .clone()
        } else {
            let mut raw: Vec<u8> = (0..32).map(|_| rng.next_u64() as u8).collect();
            raw[0] = bytes::LATEST;
            bytes::decode(&raw).scenario
        };
        let run_seed = rng.next_u64();
        let mut sched: Box<dyn Scheduler> = match strategy {
            Strategy::Random => Box::new(RandomWalk::new(run_seed)),
            Strategy::Pct(d) => Box::new(Pct::new(run_seed, d, PCT_HORIZON)),
            Strategy::Explore => unreachable!("handled above"),
        };
        let on_old = tries % 2 == 1;
        let schedule = schedule_of(on_old, &scenario, sched.as_mut());
        let case = Case {
            scenario,
            schedule,
            expect: None,
        };
        let judged = judge.judge(&case);
        let verdict = &judged.verdict;
        *classes.entry(verdict.class).or_default() += 1;
        for t in [&judged.forward, &judged.reverse] {
            let (old_sigs, new_sigs) = (t.old.signatures(), t.new.signatures());
            for s in &old_sigs {
                let class = if new_sigs.contains(s) {
                    "shared"
                } else {
                    "old-only"
                };
                note(format!("{class}:{s}"), tries, &case, &mut hits);
            }
            for s in new_sigs.iter().filter(|s| !old_sigs.contains(s)) {
                // As the verdict has it: shared when the old code shows it
                // too under another schedule.
                let new_only = verdict.signature == format!("new-only:{s}");
                let class = if new_only { "new-only" } else { "shared" };
                note(format!("{class}:{s}"), tries, &case, &mut hits);
            }
        }
        if matches!(verdict.class, Class::Divergence | Class::Undecided) {
            note(verdict.signature.clone(), tries, &case, &mut hits);
        }
        if last_tick.elapsed() >= Duration::from_secs(1) {
            last_tick = Instant::now();
            tick(tries, &classes);
        }
    }
    tick(tries, &classes);
    hits.into_values().collect()
}

/// A label-aligned schedule: the strategy's decisions on one model, as
/// segments.
fn schedule_of(
    on_old: bool,
    scenario: &Scenario,
    sched: &mut dyn Scheduler,
) -> Vec<kernel_sim::Segment> {
    if on_old {
        let o = run_model(&Old, scenario, sched, RunOptions::QUIET);
        witness_schedule(&Old, scenario, &o.decisions)
    } else {
        let o = run_model(&New, scenario, sched, RunOptions::QUIET);
        witness_schedule(&New, scenario, &o.decisions)
    }
}
