//! Randomised schedule strategies beside the fuzzers' input-driven
//! schedules and the explorer: uniform random, and PCT (probabilistic
//! concurrency testing, Burckhardt et al., ASPLOS 2010). Each is seeded, so
//! a run is a function of its seed.

use kernel_sim::exec::MAX_TASKS;
use kernel_sim::{SchedView, Scheduler, TaskId};

/// A small deterministic generator (xorshift64*).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (0 is replaced by a fixed constant).
    pub fn new(seed: u64) -> Rng {
        Rng(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Picks a uniformly random runnable task at every step.
#[derive(Clone, Debug)]
pub struct RandomWalk {
    rng: Rng,
}

impl RandomWalk {
    /// A random walk from `seed`.
    pub fn new(seed: u64) -> RandomWalk {
        RandomWalk {
            rng: Rng::new(seed),
        }
    }
}

impl Scheduler for RandomWalk {
    fn next_task(&mut self, view: &SchedView<'_>) -> TaskId {
        let k = self.rng.below(view.runnable.len() as u64) as usize;
        view.runnable.iter().nth(k).expect("k < len")
    }
}

/// Steps within which `hunt`'s PCT, and the fuzz targets' PCT draws,
/// place their change points.
pub const PCT_HORIZON: u32 = 400;

/// PCT's bug depth by default (two change points): `hunt`'s `--depth`,
/// and the fuzz targets' PCT draws.
pub const PCT_DEPTH: u32 = 3;

/// PCT with bug depth `d`: tasks get random distinct priorities; the
/// highest-priority runnable task runs; at `d - 1` random steps among the
/// first `horizon`, the running task drops below every initial priority.
/// A bug of depth `d` is found with probability at least 1/(n·k^(d-1)) per
/// run, for n tasks and k steps.
#[derive(Clone, Debug)]
pub struct Pct {
    priority: [u32; MAX_TASKS],
    change_points: Vec<u32>,
    lowered: u32,
}

impl Pct {
    /// A PCT schedule for depth `depth`, with change points drawn among the
    /// first `horizon` steps.
    pub fn new(seed: u64, depth: u32, horizon: u32) -> Pct {
        let mut rng = Rng::new(seed);
        let mut priority = [0u32; MAX_TASKS];
        for (i, p) in priority.iter_mut().enumerate() {
            *p = 1000 + i as u32;
        }
        for i in (1..MAX_TASKS).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            priority.swap(i, j);
        }
        let change_points = (1..depth)
            .map(|_| 1 + rng.below(u64::from(horizon.max(1))) as u32)
            .collect();
        Pct {
            priority,
            change_points,
            lowered: 0,
        }
    }
}

impl Scheduler for Pct {
    fn next_task(&mut self, view: &SchedView<'_>) -> TaskId {
        if let Some(c) = view.current {
            if self.change_points.contains(&view.step) {
                self.lowered += 1;
                self.priority[c.index()] = self.lowered;
            }
        }
        view.runnable
            .iter()
            .max_by_key(|t| self.priority[t.index()])
            .expect("runnable is never empty")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::{run_model, RunOptions};
    use crate::scenario::{MigrateFaults, Op, Scenario};
    use kernel_sim::MigrateMode;

    fn scenario() -> Scenario {
        Scenario {
            ring_pages: 1,
            tasks: vec![
                vec![Op::Setup, Op::Destroy],
                vec![Op::Migrate {
                    index: 0,
                    mode: MigrateMode::Sync,
                    faults: MigrateFaults::default(),
                    frame: None,
                }],
            ],
            ..Scenario::default()
        }
    }

    #[test]
    fn strategies_are_functions_of_their_seed() {
        let s = scenario();
        for seed in 1..20 {
            let a = run_model(
                &crate::Old,
                &s,
                &mut RandomWalk::new(seed),
                RunOptions::QUIET,
            );
            let b = run_model(
                &crate::Old,
                &s,
                &mut RandomWalk::new(seed),
                RunOptions::QUIET,
            );
            assert_eq!(a.decisions, b.decisions);
            let a = run_model(
                &crate::Old,
                &s,
                &mut Pct::new(seed, 3, 300),
                RunOptions::QUIET,
            );
            let b = run_model(
                &crate::Old,
                &s,
                &mut Pct::new(seed, 3, 300),
                RunOptions::QUIET,
            );
            assert_eq!(a.decisions, b.decisions);
        }
    }

    #[test]
    fn different_seeds_give_different_schedules() {
        let s = scenario();
        let runs: std::collections::BTreeSet<Vec<TaskId>> = (1..30)
            .map(|seed| {
                run_model(
                    &crate::New,
                    &s,
                    &mut Pct::new(seed, 3, 300),
                    RunOptions::QUIET,
                )
                .decisions
            })
            .collect();
        assert!(runs.len() > 5, "{} distinct schedules", runs.len());
    }
}
