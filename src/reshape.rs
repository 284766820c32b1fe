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
//! add an operation to a task, or a task; drop one; change a migration's
//! mode, faults or frame; change the number of background drains; or
//! inject or lift a fault of setup. The result obeys the scenario's rules,
//! and the schedule is kept as it is. [`from_catalogue`] replaces the
//! scenario with one of the catalogue's, for inputs no preemption applies
//! to.

use std::sync::OnceLock;

use kernel_sim::{MigrateMode, PageRole};

use crate::bytes;
use crate::scenario::{
    MigrateFaults, Op, Scenario, MAX_DRAINS, MAX_OPS, MAX_RING_PAGES, MAX_TASKS,
};
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

/// `data` with its scenario replaced by one of `aiodiff verify`'s
/// catalogue, drawn by `seed`, its schedule kept: the shapes `aiodiff
/// hunt` draws half its scenarios from and `fuzz/seeds.sh` seeds the
/// targets with, for an input whose runs cannot interleave yet, as from
/// an empty corpus. `None` where the case does not encode.
pub fn from_catalogue(data: &[u8], seed: u32) -> Option<Vec<u8>> {
    static SCENARIOS: OnceLock<Vec<Scenario>> = OnceLock::new();
    let scenarios = SCENARIOS.get_or_init(|| {
        crate::catalogue::catalogue()
            .into_iter()
            .map(|e| e.scenario)
            .collect()
    });
    let mut case = bytes::decode(data);
    case.scenario = scenarios[seed as usize % scenarios.len()].clone();
    bytes::encode(&case).ok()
}

/// One edit of `s`, drawn by `rng`; false where the edit drawn does not
/// apply (no migration to change, a program already full).
fn edit(rng: &mut Rng, s: &mut Scenario) -> bool {
    let migrations = migrations(s);
    match rng.below(7) {
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
            if let Op::Migrate {
                mode,
                faults,
                frame,
                ..
            } = &mut s.tasks[t][i]
            {
                match rng.below(4) {
                    0 => *mode = any_mode(rng),
                    1 => faults.extra_ref = !faults.extra_ref,
                    2 => faults.no_target = !faults.no_target,
                    _ => {
                        *frame =
                            [None, Some(PageRole::Ring), Some(PageRole::New)][rng.below(3) as usize]
                    }
                }
            }
            true
        }
        5 => {
            s.drains = rng.below(u64::from(MAX_DRAINS) + 1) as u8;
            true
        }
        6 => setup_fault(rng, s),
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

/// `s` with one of setup's faults drawn by `rng` injected or lifted: the
/// allocation of a ring page (one inside the ring), of the page array, or
/// the ring's mmap.
fn setup_fault(rng: &mut Rng, s: &mut Scenario) -> bool {
    let f = &mut s.faults;
    match rng.below(3) {
        0 => {
            f.page_alloc_fails_at = match f.page_alloc_fails_at {
                Some(_) => None,
                None => Some(rng.below(u64::from(s.ring_pages)) as u8),
            }
        }
        1 => f.kcalloc_fails = !f.kcalloc_fails,
        _ => f.mmap_fails = !f.mmap_fails,
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

    /// From a one-task input, the edits reach what the byte format can
    /// say beyond programs: drains, setup's faults and named frames.
    #[test]
    fn the_edits_reach_drains_faults_and_frames() {
        let data = bytes::encode(&crate::Case {
            scenario: Scenario::default(),
            schedule: Vec::new(),
            expect: None,
        })
        .unwrap();
        let (mut drains, mut faults, mut frames) = (false, false, false);
        let mut input = data;
        for seed in 0..4096 {
            let Some(out) = reshape(&input, seed) else {
                continue;
            };
            let s = bytes::decode(&out).scenario;
            drains |= s.drains > 0;
            faults |= s.faults != kernel_sim::Faults::default();
            frames |= s
                .tasks
                .iter()
                .flatten()
                .any(|op| matches!(op, Op::Migrate { frame: Some(_), .. }));
            input = out;
        }
        assert!(drains && faults && frames, "{drains} {faults} {frames}");
    }

    /// A catalogue draw gives a catalogue scenario and keeps the schedule.
    #[test]
    fn a_catalogue_draw_keeps_the_schedule() {
        let case = crate::text::parse(
            "t",
            "ring 1\ntask A: setup\nrun A until aio_setup_ring:write(ctx->nr_pages)\n",
        )
        .unwrap();
        let data = bytes::encode(&case).unwrap();
        let entries = crate::catalogue::catalogue();
        for seed in 0..entries.len() as u32 {
            let out = bytes::decode(&from_catalogue(&data, seed).unwrap());
            assert_eq!(out.scenario, entries[seed as usize].scenario);
            assert_eq!(out.schedule, case.schedule);
        }
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
