//! Scenarios: the ring, the setup faults, and each task's program, with the
//! kernel's rules that every scenario must obey.

use std::fmt;

use kernel_sim::{Faults, MigrateMode, PageRole, TaskId};

/// Most program tasks in a scenario.
pub const MAX_TASKS: usize = 4;
/// Most operations in one task's program.
pub const MAX_OPS: usize = 6;
/// Largest ring, in pages (9 and 10 use the kcalloc'd `ring_pages`).
pub const MAX_RING_PAGES: u8 = 10;
/// Most background drains in a scenario.
pub const MAX_DRAINS: u8 = 2;

/// Faults of one migration.
#[derive(Clone, Copy, PartialEq, Eq, Default, Debug, Hash)]
pub struct MigrateFaults {
    /// Another holder takes a transient reference on the page: an extra
    /// task that runs `find_get_page` and `put_page` on the ring index.
    pub extra_ref: bool,
    /// The target allocation fails.
    pub no_target: bool,
}

/// One operation of a task's program.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum Op {
    /// `io_setup` of the scenario's ring. The task that runs it owns the
    /// context.
    Setup,
    /// Migrate the ring page at `index`, as memory hot-remove does.
    Migrate {
        /// Ring index.
        index: u8,
        /// Migration mode.
        mode: MigrateMode,
        /// Faults.
        faults: MigrateFaults,
        /// Which frame: `None` for the page the ring's page cache holds at
        /// `index`; `Some(role)` for the frame allocated as `role[index]`,
        /// wherever it is now, as a pfn walk meets frames and not
        /// page-cache slots (a page truncate deleted, a half-migrated
        /// page).
        frame: Option<PageRole>,
    },
    /// `put_aio_ring_file` on its own, by the owner.
    Truncate,
    /// `io_submit` of one read, by the owner, completed at once: its
    /// `aio_complete` writes an event into the ring under
    /// `completion_lock`.
    Submit,
    /// `io_destroy`: kill, then `free_ioctx`, by the owner.
    Destroy,
}

/// What a scenario runs.
#[derive(Clone, PartialEq, Eq, Debug, Hash)]
pub struct Scenario {
    /// Ring size in pages, 1 to 10.
    pub ring_pages: u8,
    /// Faults injected into setup.
    pub faults: Faults,
    /// One program per task, task `A` first.
    pub tasks: Vec<Vec<Op>>,
    /// How many times the rest of the system drains every CPU's LRU-add
    /// pagevec (another CPU's `lru_add_drain_all`, as a full pagevec or
    /// another migration's `migrate_prep` would), at moments the schedule
    /// places: a background task after the holders, one drain per
    /// operation.
    pub drains: u8,
}

impl Default for Scenario {
    fn default() -> Scenario {
        Scenario {
            ring_pages: 1,
            faults: Faults::default(),
            tasks: vec![vec![Op::Setup]],
            drains: 0,
        }
    }
}

/// A broken rule, and where.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RuleError {
    /// The task whose program breaks it, if one does.
    pub task: Option<usize>,
    /// The operation, if one does.
    pub op: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(t) = self.task {
            write!(f, "task {}", TaskId(t as u8))?;
            if let Some(o) = self.op {
                write!(f, ", operation {}", o + 1)?;
            }
            write!(f, ": ")?;
        }
        f.write_str(&self.message)
    }
}

impl Scenario {
    /// The task that runs `setup`, if any.
    pub fn owner(&self) -> Option<usize> {
        self.tasks.iter().position(|p| p.contains(&Op::Setup))
    }

    /// How many tasks hold a transient reference for `extra-ref` faults.
    pub fn holders(&self) -> usize {
        self.tasks
            .iter()
            .flatten()
            .filter(|op| matches!(op, Op::Migrate { faults, .. } if faults.extra_ref))
            .count()
    }

    /// The background task that drains, after the holders, if the
    /// scenario has drains.
    pub fn drainer(&self) -> Option<usize> {
        (self.drains > 0).then(|| self.tasks.len() + self.holders())
    }

    /// All tasks of a run: the program tasks, then one holder per
    /// `extra-ref` migration, in program order, then the drainer.
    pub fn total_tasks(&self) -> usize {
        self.tasks.len() + self.holders() + usize::from(self.drains > 0)
    }

    /// Checks the kernel's rules:
    ///
    /// 1. one to four tasks, each with one to six operations;
    /// 2. a ring of one to ten pages, and fault and migration indices
    ///    inside it;
    /// 3. at most one `setup`, and it is the first operation of its task,
    ///    the owner;
    /// 4. `truncate` and `destroy` only by the owner, after `setup`, each at
    ///    most once, `submit` only by the owner, after `setup`, and nothing
    ///    but migrations after `destroy` (the context is gone);
    /// 5. migrations may come at any time, in any task;
    /// 6. at most [`MAX_DRAINS`] background drains, and no more tasks in
    ///    all than the executor runs.
    pub fn validate(&self) -> Result<(), RuleError> {
        let whole = |message: String| RuleError {
            task: None,
            op: None,
            message,
        };
        if self.tasks.is_empty() || self.tasks.len() > MAX_TASKS {
            return Err(whole(format!(
                "a scenario has 1 to {MAX_TASKS} tasks, not {}",
                self.tasks.len()
            )));
        }
        if !(1..=MAX_RING_PAGES).contains(&self.ring_pages) {
            return Err(whole(format!(
                "a ring has 1 to {MAX_RING_PAGES} pages, not {}",
                self.ring_pages
            )));
        }
        if self.drains > MAX_DRAINS {
            return Err(whole(format!(
                "a scenario has 0 to {MAX_DRAINS} background drains, not {}",
                self.drains
            )));
        }
        if let Some(k) = self.faults.page_alloc_fails_at {
            if k >= self.ring_pages {
                return Err(whole(format!(
                    "page allocation can only fail inside the ring: index {k} of a {}-page ring",
                    self.ring_pages
                )));
            }
        }
        let owner = self.owner();
        for (t, program) in self.tasks.iter().enumerate() {
            let at = |op: usize, message: String| RuleError {
                task: Some(t),
                op: Some(op),
                message,
            };
            if program.is_empty() || program.len() > MAX_OPS {
                return Err(RuleError {
                    task: Some(t),
                    op: None,
                    message: format!(
                        "a task has 1 to {MAX_OPS} operations, not {}",
                        program.len()
                    ),
                });
            }
            let (mut truncated, mut destroyed) = (false, false);
            for (i, op) in program.iter().enumerate() {
                match *op {
                    Op::Setup if owner != Some(t) => {
                        return Err(at(i, "only one task may set up the context".into()))
                    }
                    Op::Setup if i != 0 => {
                        return Err(at(
                            i,
                            "setup must be the first operation of its task".into(),
                        ))
                    }
                    Op::Setup => {}
                    Op::Migrate { index, .. } if index >= self.ring_pages => {
                        return Err(at(
                            i,
                            format!(
                                "migrate {index} is outside the {}-page ring",
                                self.ring_pages
                            ),
                        ))
                    }
                    Op::Migrate { .. } => {}
                    Op::Truncate | Op::Destroy | Op::Submit if owner != Some(t) => return Err(at(
                        i,
                        "only the owner, the task that ran setup, may submit, truncate or destroy"
                            .into(),
                    )),
                    Op::Truncate | Op::Destroy | Op::Submit if destroyed => {
                        return Err(at(i, "the context is already destroyed".into()))
                    }
                    Op::Truncate if truncated => {
                        return Err(at(i, "the ring file is already truncated".into()))
                    }
                    Op::Truncate => truncated = true,
                    Op::Submit => {}
                    Op::Destroy => destroyed = true,
                }
            }
        }
        if self.total_tasks() > kernel_sim::exec::MAX_TASKS {
            return Err(whole(format!(
                "{} tasks with the extra-ref holders and the drainer; at most {}",
                self.total_tasks(),
                kernel_sim::exec::MAX_TASKS
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn migrate(index: u8) -> Op {
        Op::Migrate {
            index,
            mode: MigrateMode::Sync,
            faults: MigrateFaults::default(),
            frame: None,
        }
    }

    fn check(tasks: Vec<Vec<Op>>) -> Result<(), String> {
        Scenario {
            ring_pages: 2,
            tasks,
            ..Scenario::default()
        }
        .validate()
        .map_err(|e| e.to_string())
    }

    #[test]
    fn kernel_rules_accept_what_a_kernel_could_run() {
        assert_eq!(
            check(vec![vec![Op::Setup, Op::Truncate, Op::Destroy, migrate(1)]]),
            Ok(())
        );
        assert_eq!(
            check(vec![vec![migrate(0)], vec![Op::Setup, Op::Destroy]]),
            Ok(())
        );
        assert_eq!(check(vec![vec![migrate(0)]]), Ok(()));
    }

    #[test]
    fn kernel_rules_reject_with_a_reason() {
        let cases = [
            (
                vec![vec![Op::Destroy]],
                "task A, operation 1: only the owner",
            ),
            (
                vec![vec![Op::Setup], vec![Op::Setup]],
                "task B, operation 1: only one task may set up",
            ),
            (
                vec![vec![migrate(0), Op::Setup]],
                "setup must be the first operation",
            ),
            (
                vec![vec![Op::Setup], vec![Op::Truncate]],
                "task B, operation 1: only the owner",
            ),
            (
                vec![vec![Op::Setup, Op::Destroy, Op::Truncate]],
                "already destroyed",
            ),
            (
                vec![vec![Op::Setup, Op::Truncate, Op::Truncate]],
                "already truncated",
            ),
            (vec![vec![Op::Setup, migrate(2)]], "outside the 2-page ring"),
            (vec![], "1 to 4 tasks"),
            (vec![vec![]], "1 to 6 operations"),
        ];
        for (tasks, want) in cases {
            let got = check(tasks).unwrap_err();
            assert!(got.contains(want), "`{got}` should say `{want}`");
        }
    }
}
