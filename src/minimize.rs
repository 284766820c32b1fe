//! Schedule-level minimisation: drop tasks, operations, segments and
//! faults, and shorten segments, while the verdict's signature stays the
//! same.

use kernel_sim::{Faults, Segment, TaskId};

use crate::case::Case;
use crate::oracle::RefusalTable;
use crate::scenario::{Op, Scenario};
use crate::{check_case, Verdict};

/// Where each task of `from` (program tasks, then holders) went in `to`,
/// given where the program tasks went; `None` where it was removed. A
/// holder follows its migration: the n-th extra-ref migration of a program
/// task maps to the n-th of the task it became. Candidates are re-run, so a
/// rough map costs a rejected candidate at worst.
fn task_map(from: &Scenario, programs: &[Option<usize>], to: &Scenario) -> Vec<Option<usize>> {
    let holders = |s: &Scenario| -> Vec<usize> {
        s.tasks
            .iter()
            .enumerate()
            .flat_map(|(t, p)| {
                p.iter()
                    .filter(|op| matches!(op, Op::Migrate { faults, .. } if faults.extra_ref))
                    .map(move |_| t)
            })
            .collect()
    };
    let (from_h, to_h) = (holders(from), holders(to));
    let mut map = programs.to_vec();
    for (h, &pt) in from_h.iter().enumerate() {
        let nth = from_h[..h].iter().filter(|&&x| x == pt).count();
        map.push(programs[pt].and_then(|nt| {
            to_h.iter()
                .enumerate()
                .filter(|&(_, &x)| x == nt)
                .nth(nth)
                .map(|(i, _)| to.tasks.len() + i)
        }));
    }
    map
}

fn remap(schedule: &[Segment], map: &[Option<usize>]) -> Vec<Segment> {
    schedule
        .iter()
        .filter_map(|s| {
            map.get(s.task.index()).copied().flatten().map(|t| Segment {
                task: TaskId(t as u8),
                until: s.until,
            })
        })
        .collect()
}

/// Every one-step reduction of `case`, simplest first.
fn candidates(case: &Case) -> Vec<Case> {
    let s = &case.scenario;
    let mut out = Vec::new();
    let with = |scenario: Scenario, schedule: Vec<Segment>| Case {
        scenario,
        schedule,
        expect: case.expect.clone(),
    };
    let identity: Vec<Option<usize>> = (0..s.tasks.len()).map(Some).collect();
    // Drop a task.
    for t in 0..s.tasks.len() {
        let mut tasks = s.tasks.clone();
        tasks.remove(t);
        let to = Scenario { tasks, ..s.clone() };
        let programs: Vec<Option<usize>> = (0..s.tasks.len())
            .map(|x| match x.cmp(&t) {
                std::cmp::Ordering::Less => Some(x),
                std::cmp::Ordering::Equal => None,
                std::cmp::Ordering::Greater => Some(x - 1),
            })
            .collect();
        let map = task_map(s, &programs, &to);
        out.push(with(to, remap(&case.schedule, &map)));
    }
    // Drop a segment.
    for i in 0..case.schedule.len() {
        let mut schedule = case.schedule.clone();
        schedule.remove(i);
        out.push(with(s.clone(), schedule));
    }
    // Drop an operation, or a migration's faults.
    for t in 0..s.tasks.len() {
        for i in 0..s.tasks[t].len() {
            let mut to = s.clone();
            to.tasks[t].remove(i);
            let map = task_map(s, &identity, &to);
            out.push(with(to, remap(&case.schedule, &map)));
            if let Op::Migrate { faults, .. } = s.tasks[t][i] {
                if faults.extra_ref {
                    let mut to = s.clone();
                    if let Op::Migrate { faults, .. } = &mut to.tasks[t][i] {
                        faults.extra_ref = false;
                    }
                    let map = task_map(s, &identity, &to);
                    out.push(with(to, remap(&case.schedule, &map)));
                }
                if faults.no_target {
                    let mut to = s.clone();
                    if let Op::Migrate { faults, .. } = &mut to.tasks[t][i] {
                        faults.no_target = false;
                    }
                    out.push(with(to, case.schedule.clone()));
                }
            }
        }
    }
    // Drop a setup fault.
    let f = s.faults;
    for faults in [
        Faults {
            page_alloc_fails_at: None,
            ..f
        },
        Faults {
            kcalloc_fails: false,
            ..f
        },
        Faults {
            mmap_fails: false,
            ..f
        },
    ] {
        if faults != f {
            out.push(with(
                Scenario {
                    faults,
                    ..s.clone()
                },
                case.schedule.clone(),
            ));
        }
    }
    // A smaller ring.
    if s.ring_pages > 1 {
        out.push(with(
            Scenario {
                ring_pages: s.ring_pages - 1,
                ..s.clone()
            },
            case.schedule.clone(),
        ));
    }
    // Shorten a segment: an earlier occurrence, or no label at all.
    for (i, seg) in case.schedule.iter().enumerate() {
        if let Some((pat, n)) = seg.until {
            let mut schedule = case.schedule.clone();
            schedule[i].until = None;
            out.push(with(s.clone(), schedule));
            if n > 1 {
                let mut schedule = case.schedule.clone();
                schedule[i].until = Some((pat, n - 1));
                out.push(with(s.clone(), schedule));
            }
        }
    }
    out.retain(|c| c.scenario.validate().is_ok());
    out
}

/// The result of a minimisation.
#[derive(Clone, Debug)]
pub struct Minimized {
    /// The smallest case found.
    pub case: Case,
    /// Its verdict, with the same signature as the original's.
    pub verdict: Verdict,
    /// How many candidate cases were run.
    pub tries: usize,
}

/// Greedily applies reductions that keep the verdict's signature, until
/// none does. Deterministic: candidates are tried in a fixed order.
pub fn minimize(case: &Case, table: &RefusalTable) -> Minimized {
    let mut best = case.clone();
    let mut verdict = check_case(&best, table, false).verdict;
    let target = verdict.signature.clone();
    let mut tries = 0;
    'outer: loop {
        for candidate in candidates(&best) {
            tries += 1;
            let v = check_case(&candidate, table, false).verdict;
            if v.signature == target {
                best = candidate;
                verdict = v;
                continue 'outer;
            }
        }
        break;
    }
    Minimized {
        case: best,
        verdict,
        tries,
    }
}
