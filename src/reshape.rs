//! A structure-aware mutation of a fuzzer input's scenario, the fuzz
//! targets' counterpart of [`crate::mutation::preempt`] for what the
//! tasks run rather than when.
//!
//! libFuzzer's byte edits change a scenario blindly: the ring's size and a
//! migration's page index are separate bytes, so a ring of nine pages
//! whose last page a migration moves (`leak(new[8])`) takes two edits
//! that must agree. [`reshape`] makes one edit a kernel developer would:
//! resize the ring, keeping a migration of its last page on the last
//! page; point a migration at another page (the last one half the time);
//! add an operation to a task, or a task; drop one; or change a
//! migration's mode or faults. The result obeys the scenario's rules, and
//! the schedule is kept as it is.

use kernel_sim::MigrateMode;

use crate::bytes;
use crate::scenario::{MigrateFaults, Op, Scenario, MAX_OPS, MAX_RING_PAGES, MAX_TASKS};
use crate::strategy::Rng;

/// How many edits [`reshape`] draws before it gives up on finding one
/// that keeps the scenario's rules and changes it.
const TRIES: usize = 8;

/// `data` with its scenario changed by one edit drawn by `seed`, its
/// schedule kept. `None` where none of the edits drawn (eight) keeps the
/// scenario's rules and changes it, or the case does not encode; the
/// caller then mutates the bytes instead.
pub fn reshape(data: &[u8], seed: u32) -> Option<Vec<u8>> {
    let mut case = bytes::decode(data);
    let mut rng = Rng::new(u64::from(seed));
    for _ in 0..TRIES {
        let mut scenario = case.scenario.clone();
        if edit(&mut rng, &mut scenario) && scenario.validate().is_ok() && scenario != case.scenario
        {
            case.scenario = scenario;
            return bytes::encode(&case).ok();
        }
    }
    None
}

/// One edit of `s`, drawn by `rng`; false where the edit drawn does not
/// apply (no migration to change, a program already full).
fn edit(rng: &mut Rng, s: &mut Scenario) -> bool {
    let migrations = migrations(s);
    match rng.below(5) {
        0 => resize(rng, s),
        1 if !migrations.is_empty() => {
            let (t, i) = migrations[rng.below(migrations.len() as u64) as usize];
            let pages = s.ring_pages;
            if let Op::Migrate { index, .. } = &mut s.tasks[t][i] {
                *index = page(rng, pages);
            }
            true
        }
        2 => add(rng, s),
        3 => drop_one(rng, s),
        4 if !migrations.is_empty() => {
            let (t, i) = migrations[rng.below(migrations.len() as u64) as usize];
            if let Op::Migrate { mode, faults, .. } = &mut s.tasks[t][i] {
                match rng.below(3) {
                    0 => *mode = any_mode(rng),
                    1 => faults.extra_ref = !faults.extra_ref,
                    _ => faults.no_target = !faults.no_target,
                }
            }
            true
        }
        _ => false,
    }
}

/// Where `s`'s migrations are: (task, operation) pairs.
fn migrations(s: &Scenario) -> Vec<(usize, usize)> {
    let mut at = Vec::new();
    for (t, program) in s.tasks.iter().enumerate() {
        for (i, op) in program.iter().enumerate() {
            if matches!(op, Op::Migrate { .. }) {
                at.push((t, i));
            }
        }
    }
    at
}

/// A ring page to migrate: the last of `pages` half the time, where the
/// old code's teardown leaks, or else any.
fn page(rng: &mut Rng, pages: u8) -> u8 {
    match rng.below(2) {
        0 => pages - 1,
        _ => rng.below(u64::from(pages)) as u8,
    }
}

/// Any migration mode, drawn by `rng`.
fn any_mode(rng: &mut Rng) -> MigrateMode {
    [
        MigrateMode::Async,
        MigrateMode::SyncLight,
        MigrateMode::Sync,
    ][rng.below(3) as usize]
}

/// `s` with a ring of a size drawn by `rng`: a migration of the last page
/// stays on the last page, the others and a page-allocation fault move
/// inside the ring.
fn resize(rng: &mut Rng, s: &mut Scenario) -> bool {
    let pages = 1 + rng.below(u64::from(MAX_RING_PAGES)) as u8;
    let old = s.ring_pages;
    s.ring_pages = pages;
    for op in s.tasks.iter_mut().flatten() {
        if let Op::Migrate { index, .. } = op {
            *index = match *index + 1 == old {
                true => pages - 1,
                false => (*index).min(pages - 1),
            };
        }
    }
    if let Some(k) = s.faults.page_alloc_fails_at {
        s.faults.page_alloc_fails_at = Some(k.min(pages - 1));
    }
    true
}

/// `s` with an operation drawn by `rng` inserted into a task's program,
/// or into a new task; false where that program is full or no task more
/// can run.
fn add(rng: &mut Rng, s: &mut Scenario) -> bool {
    let t = rng.below(s.tasks.len() as u64 + 1) as usize;
    if t == s.tasks.len() {
        if t >= MAX_TASKS {
            return false;
        }
        s.tasks.push(Vec::new());
    }
    let op = match rng.below(6) {
        0 => Op::Setup,
        1 => Op::Destroy,
        2 => Op::Truncate,
        3 => Op::Submit,
        _ => Op::Migrate {
            index: page(rng, s.ring_pages),
            mode: any_mode(rng),
            faults: MigrateFaults::default(),
            frame: None,
        },
    };
    let program = &mut s.tasks[t];
    if program.len() >= MAX_OPS {
        return false;
    }
    let at = rng.below(program.len() as u64 + 1) as usize;
    program.insert(at, op);
    true
}

/// `s` without one operation drawn by `rng`, or without a task whose only
/// operation it was; false where it is the scenario's only one.
fn drop_one(rng: &mut Rng, s: &mut Scenario) -> bool {
    let t = rng.below(s.tasks.len() as u64) as usize;
    let program = &mut s.tasks[t];
    if program.len() > 1 {
        let i = rng.below(program.len() as u64) as usize;
        program.remove(i);
        return true;
    }
    if s.tasks.len() > 1 {
        s.tasks.remove(t);
        return true;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every reshaped input decodes to a scenario that keeps the rules,
    /// differs from the one it came from, and keeps its schedule.
    #[test]
    fn a_reshape_changes_the_scenario_within_its_rules() {
        let (mut reshaped, entries) = (0, crate::catalogue::catalogue());
        for entry in &entries {
            let before = crate::Case {
                scenario: entry.scenario.clone(),
                schedule: Vec::new(),
                expect: None,
            };
            let data = bytes::encode(&before).unwrap();
            for seed in 0..32 {
                let Some(out) = reshape(&data, seed) else {
                    continue;
                };
                let after = bytes::decode(&out);
                after.scenario.validate().unwrap();
                assert_ne!(after.scenario, before.scenario);
                assert_eq!(after.schedule, before.schedule);
                reshaped += 1;
            }
        }
        assert!(reshaped > 32 * entries.len() * 3 / 4, "{reshaped}");
    }

    /// Resizing keeps a migration of the last page on the last page.
    #[test]
    fn a_resize_keeps_a_migration_of_the_last_page_last() {
        let mut s = Scenario {
            ring_pages: 2,
            tasks: vec![vec![Op::Setup, Op::Destroy], vec![]],
            ..Scenario::default()
        };
        s.tasks[1].push(Op::Migrate {
            index: 1,
            mode: MigrateMode::Sync,
            faults: MigrateFaults::default(),
            frame: None,
        });
        for seed in 0..64 {
            let mut t = s.clone();
            resize(&mut Rng::new(seed), &mut t);
            let Op::Migrate { index, .. } = t.tasks[1][0] else {
                unreachable!()
            };
            assert_eq!(index + 1, t.ring_pages);
            t.validate().unwrap();
        }
    }
}
