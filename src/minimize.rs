//! Schedule-level minimisation: drop tasks, operations, segments and
//! faults, and shorten segments, while the verdict's signature stays the
//! same.

use kernel_sim::{Faults, Segment, TaskId};

use crate::case::Case;
use crate::judge::classify::RefusalTable;
use crate::scenario::{Op, Scenario};
use crate::{Judge, Verdict};

/// Where each task of `from` (program tasks, holders, then the drainer)
/// went in `to`, given where the program tasks went; `None` where it was
/// removed. A holder follows its migration: the n-th extra-ref migration of
/// a program task maps to the n-th of the task it became. The drainer maps
/// to the drainer. Candidates are re-run, so a rough map costs a rejected
/// candidate at worst.
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
    if from.drainer().is_some() {
        map.push(to.drainer());
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
    // Drop a run of segments: halves first, then quarters, and so on down
    // to single segments, as delta debugging does.
    let n = case.schedule.len();
    let mut size = n.div_ceil(2);
    while size > 0 {
        for start in (0..n).step_by(size) {
            let mut schedule = case.schedule.clone();
            schedule.drain(start..(start + size).min(n));
            out.push(with(s.clone(), schedule));
        }
        size = if size == 1 { 0 } else { size.div_ceil(2) };
    }
    // Drop an operation, or a migration's faults or frame.
    for t in 0..s.tasks.len() {
        for i in 0..s.tasks[t].len() {
            let mut to = s.clone();
            to.tasks[t].remove(i);
            let map = task_map(s, &identity, &to);
            out.push(with(to, remap(&case.schedule, &map)));
            if let Op::Migrate { frame: Some(_), .. } = s.tasks[t][i] {
                let mut to = s.clone();
                if let Op::Migrate { frame, .. } = &mut to.tasks[t][i] {
                    *frame = None;
                }
                out.push(with(to, case.schedule.clone()));
            }
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
    // Fewer background drains.
    if s.drains > 0 {
        let to = Scenario {
            drains: s.drains - 1,
            ..s.clone()
        };
        let map = task_map(s, &identity, &to);
        out.push(with(to, remap(&case.schedule, &map)));
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
    /// Its verdict, with the same signature as the original's (a divergence
    /// may be undecided, or the other way round).
    pub verdict: Verdict,
    /// How many candidate cases were run.
    pub tries: usize,
}

/// Greedily applies reductions while `keep` holds of the reduced case,
/// until none does or `limit` candidates were tried. Returns the smallest
/// case and how many candidates were tried. Deterministic: candidates are
/// tried in a fixed order.
pub fn shrink(case: &Case, limit: usize, mut keep: impl FnMut(&Case) -> bool) -> (Case, usize) {
    let mut best = case.clone();
    let mut tries = 0;
    'outer: loop {
        for candidate in candidates(&best) {
            if tries == limit {
                break 'outer;
            }
            tries += 1;
            if keep(&candidate) {
                best = candidate;
                continue 'outer;
            }
        }
        break;
    }
    (best, tries)
}

/// What minimisation keeps: the verdict's signature, where a divergence
/// and an undecided case with the same difference count as one (whether a
/// difference is confirmed is for the smallest case to say).
fn kept(v: &Verdict) -> String {
    match v.signature.strip_prefix("undecided:") {
        Some(detail) if !detail.starts_with("new-only:") => format!("divergence:{detail}"),
        Some(detail) => detail.to_string(),
        None => v.signature.clone(),
    }
}

/// Shrinks `case` while its verdict's signature stays the same, then
/// judges the smallest case in full.
pub fn minimize(case: &Case, table: &RefusalTable) -> Minimized {
    let mut judge = Judge::new(table.clone());
    let target = kept(&judge.judge(case).verdict);
    let mut quick = Judge::new(table.clone()).unconfirming();
    let (case, tries) = shrink(case, usize::MAX, |c| {
        kept(&quick.judge(c).verdict) == target
    });
    let verdict = judge.judge(&case).verdict;
    Minimized {
        case,
        verdict,
        tries,
    }
}
