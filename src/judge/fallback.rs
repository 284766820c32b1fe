//! What the old code does under other schedules of a case's scenario: the
//! bounded search behind a verdict when the old code cannot follow the new
//! run's order, and behind calling a violation shared.
//!
//! Two searches, cheapest first: schedules near the case's
//! ([`super::nearby`]), then the scenario's preemption-bounded exploration
//! with PCT samples, which is kept per scenario. Both are functions of the
//! scenario and the case alone; the cache only saves the exploration's
//! repeats.

use kernel_sim::{FastMap, Segment};

use super::classify::{equal_up_to, RefusalTable};
use super::nearby;
use crate::explore::{explore, Exploration, ExploreOptions, OldSet, OutcomeKey, Reached};
use crate::runner::{run_model, OpResult, Outcome, RunOptions};
use crate::scenario::Scenario;
use crate::strategy::Pct;
use crate::{New, Old};

/// Preemption bound of the scenario exploration.
pub const PREEMPTIONS: u32 = 1;

/// Executions the scenario exploration spends at most (it adds
/// [`Knowledge::SAMPLES`] PCT runs).
pub const BUDGET: usize = 4_000;

/// Schedules near the case's that a search runs at most.
pub const NEARBY: usize = 2_000;

/// The explorations made so far, per scenario: the search's, and the
/// plain bounded ones that confirmation asks for, per bound. The maps'
/// hasher is deterministic, so that the code a fuzz target covers is a
/// function of its inputs, as a fixed-seed fuzzer run needs.
#[derive(Default)]
pub struct Knowledge {
    explored: FastMap<Scenario, Exploration>,
    bounded: FastMap<(Scenario, u32, usize), Exploration>,
}

/// A schedule as `A until ..., B`.
pub fn show(schedule: &[Segment]) -> String {
    let segments: Vec<String> = schedule.iter().map(|s| s.to_string()).collect();
    segments.join(", ")
}

impl Knowledge {
    /// Most scenarios kept; the cache starts over when it is full.
    const CAPACITY: usize = 4096;

    /// PCT runs added to the bounded exploration, to find outcomes that
    /// need more preemptions than the bound allows.
    pub const SAMPLES: u64 = 256;

    /// The old code's outcomes on `scenario`: every schedule with at most
    /// [`PREEMPTIONS`] preemptions (within [`BUDGET`] executions), and
    /// [`Knowledge::SAMPLES`] PCT runs.
    pub fn explored(&mut self, scenario: &Scenario) -> &Exploration {
        if !self.explored.contains_key(scenario) {
            if self.explored.len() >= Self::CAPACITY {
                self.explored.clear();
            }
            let opts = ExploreOptions {
                preemptions: PREEMPTIONS,
                max_executions: BUDGET,
                ..ExploreOptions::default()
            };
            let mut e = explore(&Old, scenario, opts, |_, _| {});
            for seed in 1..=Self::SAMPLES {
                let mut pct = Pct::new(seed, 2 + (seed % 3) as u32, 400);
                let mut o = run_model(&Old, scenario, &mut pct, RunOptions::QUIET);
                let decisions = std::mem::take(&mut o.decisions);
                e.outcomes.entry(OutcomeKey::of(&o)).or_insert(Reached {
                    outcome: o,
                    decisions,
                });
            }
            self.explored.insert(scenario.clone(), e);
        }
        &self.explored[scenario]
    }

    /// The old code's outcomes on `scenario` under `opts`, as
    /// [`explore`] gives them. Many fuzzer inputs minimise to one scenario,
    /// so confirmation asks for the same ones again and again.
    pub fn bounded(&mut self, scenario: &Scenario, opts: ExploreOptions) -> &Exploration {
        let key = (scenario.clone(), opts.preemptions, opts.max_executions);
        if !self.bounded.contains_key(&key) {
            if self.bounded.len() >= Self::CAPACITY {
                self.bounded.clear();
            }
            let e = explore(&Old, scenario, opts, |_, _| {});
            self.bounded.insert(key.clone(), e);
        }
        &self.bounded[&key]
    }

    /// Where the old code reaches `new`'s outcome, or one it matches up to
    /// `table`, under another schedule of the scenario: schedules near
    /// `schedule` first (from `old`, the old code's outcome under the
    /// schedule it could follow), then the exploration.
    pub fn old_reaches(
        &mut self,
        scenario: &Scenario,
        schedule: &[Segment],
        old: &Outcome,
        new: &Outcome,
        table: &RefusalTable,
    ) -> Option<String> {
        let key = OutcomeKey::of(new);
        let near = nearby::search(
            &Old,
            &New,
            scenario,
            schedule,
            distance(old, new),
            NEARBY,
            |o| {
                if OutcomeKey::of(o) == key {
                    return Ok(None);
                }
                let Some(rows) = equal_up_to(o, new, table) else {
                    return Err(distance(o, new));
                };
                let rows = rows.iter().map(|&r| table.rows[r].name.as_str());
                Ok(Some(rows.collect::<Vec<_>>().join(", ")))
            },
        );
        match near {
            Some((s, None)) => Some(format!("under the schedule `{}`", show(&s))),
            Some((s, Some(rows))) => Some(format!(
                "up to the refusal table's rows {rows}, under the schedule `{}`",
                show(&s)
            )),
            None => {
                let set = OldSet {
                    old: self.explored(scenario),
                    table,
                };
                set.matches(new).map(|_| {
                    format!(
                        "under another schedule with at most {PREEMPTIONS} preemption(s) or of \
                         {} PCT runs",
                        Self::SAMPLES
                    )
                })
            }
        }
    }

    /// Where the old code hits a violation with `signature` under another
    /// schedule of the scenario: near `schedule`, or in the exploration.
    pub fn old_violates(
        &mut self,
        scenario: &Scenario,
        schedule: &[Segment],
        signature: &str,
    ) -> Option<String> {
        let hit = |o: &Outcome| {
            if o.violations.iter().any(|v| v.signature() == signature) {
                Ok(())
            } else {
                Err(1)
            }
        };
        if let Some((s, ())) = nearby::search(&Old, &New, scenario, schedule, 1, NEARBY, hit) {
            return Some(format!("under the schedule `{}`", show(&s)));
        }
        let found = self
            .explored(scenario)
            .outcomes
            .keys()
            .any(|k| k.violations.iter().any(|v| v == signature));
        found.then(|| {
            format!(
                "under another schedule with at most {PREEMPTIONS} preemption(s) or of {} PCT \
                 runs",
                Self::SAMPLES
            )
        })
    }
}

/// How far two outcomes are apart, operation by operation in task order:
/// 0 for the same result, else 1, and for a migration also how many
/// `aio_migratepage` and generic-path codes one returned that the other
/// did not (counting repeats, so ten -EAGAINs are nearer to nine than to
/// one); then 1 each for differing violations and final contents. Compared
/// in order, the first operation first: the search of schedules near a
/// case's climbs by putting the operations right one after another, and
/// needs a measure that moves when the old code gets partway there.
fn distance(a: &Outcome, b: &Outcome) -> Vec<u32> {
    fn apart(x: &[i32], y: &[i32]) -> usize {
        let (mut x, mut y) = (x.to_vec(), y.to_vec());
        x.sort_unstable();
        y.sort_unstable();
        let (mut i, mut j, mut common) = (0, 0, 0);
        while i < x.len() && j < y.len() {
            match x[i].cmp(&y[j]) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    common += 1;
                    i += 1;
                    j += 1;
                }
            }
        }
        x.len() + y.len() - 2 * common
    }
    let ops = a.results.iter().flatten().zip(b.results.iter().flatten());
    let mut d: Vec<u32> = ops
        .map(|(x, y)| match (x, y) {
            _ if x == y => 0,
            (
                OpResult::Migrate {
                    aio: a1,
                    generic: g1,
                    ..
                },
                OpResult::Migrate {
                    aio: a2,
                    generic: g2,
                    ..
                },
            ) => (1 + apart(a1, a2) + apart(g1, g2)) as u32,
            _ => 1,
        })
        .collect();
    let (ka, kb) = (OutcomeKey::of(a), OutcomeKey::of(b));
    d.push(u32::from(ka.violations != kb.violations));
    d.push(u32::from(ka.contents != kb.contents));
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::Case;
    use kernel_sim::Segments;

    #[test]
    fn a_schedule_found_near_the_case_replays_the_new_outcome() {
        let case = crate::text::parse(
            "t",
            "ring 2\n\
             task A: setup, migrate 1 sync-light extra-ref, migrate 1 async extra-ref, destroy, migrate 0 sync-light extra-ref\n\
             run A until aio_migratepage:BUG_ON#2\n\
             run C until find_get_page:put_page\n\
             run A\n\
             run A\n",
        )
        .unwrap();
        let run = |m: &dyn Fn(&mut Segments) -> Outcome, schedule: &[Segment]| {
            m(&mut Segments::new(schedule.to_vec()))
        };
        let old = |s: &mut Segments| run_model(&Old, &case.scenario, s, RunOptions::QUIET);
        let new = |s: &mut Segments| run_model(&New, &case.scenario, s, RunOptions::QUIET);
        let (o, n) = (run(&old, &case.schedule), run(&new, &case.schedule));
        assert_ne!(OutcomeKey::of(&o), OutcomeKey::of(&n));

        let how = Knowledge::default()
            .old_reaches(
                &case.scenario,
                &case.schedule,
                &o,
                &n,
                &RefusalTable::default(),
            )
            .expect("reached");
        let named = how
            .strip_prefix("under the schedule `")
            .and_then(|s| s.strip_suffix('`'))
            .unwrap_or_else(|| panic!("no schedule in {how:?}"));
        let mut text = crate::text::print(&Case {
            schedule: Vec::new(),
            ..case.clone()
        });
        for segment in named.split(", ") {
            text.push_str(&format!("run {segment}\n"));
        }
        let replayed = crate::text::parse("named", &text).unwrap();
        assert_eq!(
            OutcomeKey::of(&run(&old, &replayed.schedule)),
            OutcomeKey::of(&n),
            "{text}"
        );
    }

    #[test]
    fn distance_counts_differing_codes_one_by_one() {
        use kernel_sim::errno::EAGAIN;
        use kernel_sim::MigrateResult;
        let outcome = |migrated: i32, aio: Vec<i32>| {
            let result = MigrateResult::Migrated(migrated);
            let generic = Vec::new();
            Outcome::with_results(
                "t",
                vec![vec![OpResult::Migrate {
                    result,
                    aio,
                    generic,
                }]],
            )
        };
        let ten = outcome(1, vec![EAGAIN; 10]);
        let nine_then_moved = outcome(0, [vec![EAGAIN; 9], vec![0]].concat());
        let moved = outcome(0, vec![0]);
        assert_eq!(distance(&ten, &ten), [0, 0, 0]);
        assert_eq!(distance(&nine_then_moved, &ten), [1 + 2, 0, 0]);
        assert_eq!(distance(&moved, &ten), [1 + 11, 0, 0]);
        assert_eq!(distance(&moved, &ten), distance(&ten, &moved));

        // Nearer on the first operation is nearer, whatever the later ones.
        let pair = |a: &Outcome, b: &Outcome| Outcome {
            results: vec![a.results[0].clone(), b.results[0].clone()],
            ..ten.clone()
        };
        assert!(
            distance(&pair(&nine_then_moved, &moved), &pair(&ten, &ten))
                < distance(&pair(&moved, &ten), &pair(&ten, &ten))
        );
    }
}
