//! The built-in catalogue of scenarios that `aiodiff verify` explores.

use kernel_sim::{Faults, MigrateMode, PageRole};

use std::path::Path;

use crate::explore::{compare, Comparison, ExploreOptions};
use crate::judge::classify::RefusalTable;
use crate::scenario::{MigrateFaults, Op, Scenario};
use crate::text::print_op;
use crate::{judge_case, Case, Expect};

/// One scenario of the catalogue and the preemption bound it is explored
/// with.
#[derive(Clone, Debug)]
pub struct Entry {
    /// A short name, e.g. `ring2 [setup,destroy] | [migrate 1 async]`.
    pub name: String,
    /// The scenario.
    pub scenario: Scenario,
    /// The preemption bound of the new code.
    pub preemptions: u32,
    /// The preemption bound of the old code, at least `preemptions`.
    pub old_preemptions: u32,
}

impl Entry {
    /// Explores both versions on this entry's scenario with its bounds, or
    /// with none if `exhaustive`, and at most `max_executions` executions
    /// each, and compares them.
    pub fn compare(
        &self,
        table: &RefusalTable,
        max_executions: usize,
        exhaustive: bool,
    ) -> Comparison {
        let bound = |k| ExploreOptions {
            preemptions: k,
            max_executions,
            exhaustive,
            ..ExploreOptions::default()
        };
        compare(
            &self.scenario,
            bound(self.old_preemptions),
            bound(self.preemptions),
            table,
            |_, _| {},
        )
    }
}

fn migrate(index: u8, mode: MigrateMode) -> Op {
    Op::Migrate {
        index,
        mode,
        faults: MigrateFaults::default(),
        frame: None,
    }
}

fn entry(ring_pages: u8, faults: Faults, tasks: Vec<Vec<Op>>, preemptions: u32) -> Entry {
    let programs: Vec<String> = tasks
        .iter()
        .map(|p| {
            let ops: Vec<String> = p.iter().map(print_op).collect();
            format!("[{}]", ops.join(", "))
        })
        .collect();
    let mut name = format!("ring {ring_pages}: {}", programs.join(" | "));
    if let Some(k) = faults.page_alloc_fails_at {
        name.push_str(&format!(" (page-alloc {k} fails)"));
    }
    if faults.kcalloc_fails {
        name.push_str(" (kcalloc fails)");
    }
    if faults.mmap_fails {
        name.push_str(" (mmap fails)");
    }
    Entry {
        name,
        scenario: Scenario {
            ring_pages,
            faults,
            tasks,
            drains: 0,
        },
        preemptions,
        old_preemptions: preemptions,
    }
}

/// `e` with `n` background drains.
fn with_drains(e: Entry, n: u8) -> Entry {
    Entry {
        name: format!("{} ({n} background drain(s))", e.name),
        scenario: Scenario {
            drains: n,
            ..e.scenario
        },
        ..e
    }
}

/// An entry whose old code is explored with one more preemption than its
/// new code.
fn entry_plus_one(ring_pages: u8, faults: Faults, tasks: Vec<Vec<Op>>, preemptions: u32) -> Entry {
    Entry {
        old_preemptions: preemptions + 1,
        ..entry(ring_pages, faults, tasks, preemptions)
    }
}

/// The catalogue:
///
/// - one task: the owner's programs alone, and the owner migrating its own
///   ring;
/// - two tasks, bound 2: each owner program (setup; setup, destroy; setup,
///   truncate; setup, truncate, destroy) against one migration of each
///   page of a 1- and a 2-page ring, synchronous and asynchronous;
/// - the kcalloc'd ring: 9 pages, teardown against a migration of the last
///   page (bound 2), and the kcalloc failure (bound 1); and the largest ring
///   that needs no kcalloc, 8 pages, whose setup the kcalloc fault must not
///   touch (bound 2);
/// - every fault, bound 2: page allocation failing at each index, mmap
///   failing, no target page, and a transient extra reference;
/// - three tasks, bound 1 for the new code and 2 for the old: teardown
///   against two migrations of the same page, and of both pages of a 2-page
///   ring;
/// - teardown against a migration of the frame of ring page 0, which
///   reaches the page while it is truncated but still in `ring_pages[0]`
///   (bound 2);
/// - one background drain, bound 2: setup, and setup then teardown, against
///   a migration of page 0, so that the old page the migration put back is
///   freed while setup or teardown still holds its address;
/// - completions, bound 2: requests submitted and completed (`aio_complete`
///   writes their events into `ring_pages[0]` under `completion_lock`)
///   beside a migration of page 0, with teardown on a 1-page ring and
///   without it on a 2-page ring.
pub fn catalogue() -> Vec<Entry> {
    use MigrateMode::{Async, Sync};
    let none = Faults::default();
    let owners = [
        vec![Op::Setup],
        vec![Op::Setup, Op::Destroy],
        vec![Op::Setup, Op::Truncate],
        vec![Op::Setup, Op::Truncate, Op::Destroy],
    ];
    let mut out = vec![
        entry(1, none, vec![owners[1].clone()], 2),
        entry(2, none, vec![owners[3].clone()], 2),
        entry(
            1,
            none,
            vec![vec![Op::Setup, migrate(0, Sync), Op::Destroy]],
            2,
        ),
    ];
    for owner in &owners {
        for ring in [1u8, 2] {
            for index in 0..ring {
                for mode in [Sync, Async] {
                    out.push(entry(
                        ring,
                        none,
                        vec![owner.clone(), vec![migrate(index, mode)]],
                        2,
                    ));
                }
            }
        }
    }
    out.push(entry(
        9,
        none,
        vec![owners[1].clone(), vec![migrate(8, Sync)]],
        2,
    ));
    out.push(entry(
        9,
        Faults {
            kcalloc_fails: true,
            ..none
        },
        vec![owners[1].clone(), vec![migrate(8, Sync)]],
        1,
    ));
    out.push(entry(
        8,
        Faults {
            kcalloc_fails: true,
            ..none
        },
        vec![owners[1].clone()],
        2,
    ));
    for (ring, k) in [(1u8, 0u8), (2, 0), (2, 1)] {
        out.push(entry(
            ring,
            Faults {
                page_alloc_fails_at: Some(k),
                ..none
            },
            vec![owners[0].clone(), vec![migrate(0, Sync)]],
            2,
        ));
    }
    out.push(entry(
        1,
        Faults {
            mmap_fails: true,
            ..none
        },
        vec![owners[0].clone(), vec![migrate(0, Sync)]],
        2,
    ));
    for faults in [
        MigrateFaults {
            extra_ref: false,
            no_target: true,
        },
        MigrateFaults {
            extra_ref: true,
            no_target: false,
        },
    ] {
        out.push(entry(
            1,
            none,
            vec![
                owners[1].clone(),
                vec![Op::Migrate {
                    index: 0,
                    mode: Sync,
                    faults,
                    frame: None,
                }],
            ],
            2,
        ));
    }
    for (ring, owner, second) in [(1u8, 1, 0u8), (2, 1, 1), (1, 3, 0)] {
        out.push(entry_plus_one(
            ring,
            none,
            vec![
                owners[owner].clone(),
                vec![migrate(0, Sync)],
                vec![migrate(second, Async)],
            ],
            1,
        ));
    }
    let of_the_frame = Op::Migrate {
        index: 0,
        mode: Sync,
        faults: MigrateFaults::default(),
        frame: Some(PageRole::Ring),
    };
    out.push(entry(
        1,
        none,
        vec![owners[1].clone(), vec![of_the_frame]],
        2,
    ));
    for owner in &owners[..2] {
        out.push(with_drains(
            entry(1, none, vec![owner.clone(), vec![migrate(0, Sync)]], 2),
            1,
        ));
    }
    out.push(entry(
        1,
        none,
        vec![
            vec![Op::Setup, Op::Submit, Op::Destroy],
            vec![migrate(0, Sync)],
        ],
        2,
    ));
    out.push(entry(
        2,
        none,
        vec![
            vec![Op::Setup, Op::Submit, Op::Submit],
            vec![migrate(0, Async)],
        ],
        2,
    ));
    for e in &out {
        debug_assert_eq!(e.scenario.validate(), Ok(()), "{}", e.name);
    }
    out
}

/// Writes each catalogue scenario into `dir` as `catalogue-NNN.sched`,
/// named in a comment, with no schedule (the default policy runs it) and
/// the `expect:` line its replay gives; how many it wrote.
pub fn write_cases(dir: &Path, table: &RefusalTable) -> std::io::Result<usize> {
    std::fs::create_dir_all(dir)?;
    let all = catalogue();
    for (n, e) in all.iter().enumerate() {
        let mut case = Case {
            scenario: e.scenario.clone(),
            ..Case::default()
        };
        let verdict = judge_case(&case, table, false).verdict;
        case.expect = Some(Expect::pinning(verdict.class, &verdict.signature));
        let text = format!(
            "# Scenario {} of `aiodiff verify`'s catalogue: {}\n{}",
            n + 1,
            e.name,
            crate::text::print(&case)
        );
        std::fs::write(dir.join(format!("catalogue-{:03}.sched", n + 1)), text)?;
    }
    Ok(all.len())
}

/// Each catalogue scenario's name, its case under the default schedule,
/// and the case's bytes: inputs for the tests of the mutations.
#[cfg(test)]
pub(crate) fn default_cases() -> Vec<(String, Case, Vec<u8>)> {
    catalogue()
        .into_iter()
        .map(|entry| {
            let case = Case {
                scenario: entry.scenario,
                ..Case::default()
            };
            let data = crate::bytes::encode(&case).expect("a catalogue case encodes");
            (entry.name, case, data)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each written file parses back to its catalogue scenario with no
    /// schedule, and its `expect:` line is the verdict of that case.
    #[test]
    fn written_cases_are_the_catalogue_with_their_verdicts() {
        let dir = std::env::temp_dir().join(format!("aiodiff-catalogue-{}", std::process::id()));
        let table = RefusalTable::default();
        let written = write_cases(&dir, &table).unwrap();
        let all = catalogue();
        assert_eq!(written, all.len());
        for (n, e) in all.iter().enumerate() {
            let path = dir.join(format!("catalogue-{:03}.sched", n + 1));
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(text.contains(&e.name), "{}", path.display());
            let case = crate::text::parse("catalogue", &text).unwrap();
            assert_eq!(case.scenario, e.scenario, "{}", e.name);
            assert!(case.schedule.is_empty(), "{}", e.name);
            let verdict = judge_case(&case, &table, false).verdict;
            let expect = case.expect.expect("an expect: line");
            assert!(
                expect.matches(verdict.class, &verdict.signature),
                "{}",
                e.name
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn every_catalogue_scenario_obeys_the_rules_and_names_are_unique() {
        let c = catalogue();
        let mut names: Vec<&str> = c.iter().map(|e| e.name.as_str()).collect();
        for e in &c {
            assert_eq!(e.scenario.validate(), Ok(()), "{}", e.name);
        }
        names.sort();
        names.dedup();
        assert_eq!(names.len(), c.len());
    }
}
