//! Machine-readable output (`--json`).

use serde::Serialize;

use crate::judge::classify::RefusalTable;
use crate::runner::Outcome;
use crate::swimlane::result;
use crate::{Judged, Verdict};

/// One row of the refusal table and how often cases used it.
#[derive(Serialize)]
pub struct RowReport {
    /// Row name.
    pub name: String,
    /// The errno it allows, e.g. `-EAGAIN`.
    pub errno: String,
    /// Why it is benign.
    pub why: String,
    /// Cases whose verdict used it.
    pub hits: usize,
}

impl RowReport {
    /// The table's rows with their hit counts.
    pub fn table(table: &RefusalTable, hits: &[usize]) -> Vec<RowReport> {
        table
            .rows
            .iter()
            .zip(hits)
            .map(|(r, &hits)| RowReport {
                name: r.name.clone(),
                errno: r.errno_name(),
                why: r.why.clone(),
                hits,
            })
            .collect()
    }
}

/// One violation.
#[derive(Serialize)]
pub struct ViolationReport {
    /// Kind, e.g. `truncate-livelock`.
    pub kind: String,
    /// Stable signature, e.g. `truncate-livelock@truncate_inode_pages_range`.
    pub signature: String,
    /// The task, if one revealed it.
    pub task: Option<String>,
    /// The label of that action.
    pub label: Option<String>,
    /// The step.
    pub step: u32,
    /// For a leaked page, the references it was left with.
    pub leaked: Option<LeakReport>,
}

/// The references a leaked page was left with (see [`kernel_sim::ledger`]).
#[derive(Serialize)]
pub struct LeakReport {
    /// How many: the page's count at the end.
    pub count: i32,
    /// The oldest, or `None` if the ledger lost track of the page.
    pub reference: Option<ReferenceReport>,
    /// What `run` prints of it.
    pub text: String,
}

/// A page reference: who holds it, where it was taken, and its last move.
#[derive(Serialize)]
pub struct ReferenceReport {
    /// Its holder at the end, e.g. `task A` or `ctx0->ring_pages[0]`.
    pub holder: String,
    /// The action that took it.
    pub taken: SiteReport,
    /// The holder before the last hand-over.
    pub moved_from: Option<String>,
    /// The action that handed it over.
    pub moved: Option<SiteReport>,
}

/// Where an action happened.
#[derive(Serialize)]
pub struct SiteReport {
    /// The task, if one performed it.
    pub task: Option<String>,
    /// Its label.
    pub label: Option<String>,
    /// The step.
    pub step: u32,
}

impl SiteReport {
    fn of(s: &kernel_sim::ledger::Site) -> SiteReport {
        SiteReport {
            task: s.task.map(|t| t.to_string()),
            label: s.label.map(|l| l.to_string()),
            step: s.step,
        }
    }
}

impl LeakReport {
    fn of(l: &kernel_sim::Leaked) -> LeakReport {
        LeakReport {
            count: l.count,
            reference: l.first.map(|r| ReferenceReport {
                holder: r.holder.to_string(),
                taken: SiteReport::of(&r.taken),
                moved_from: r.moved.map(|(from, _)| from.to_string()),
                moved: r.moved.map(|(_, at)| SiteReport::of(&at)),
            }),
            text: l.to_string(),
        }
    }
}

/// One ring slot at the end.
#[derive(Serialize)]
pub struct SlotReport {
    /// `ring` (the page setup created) or `new` (a migration target).
    pub page: String,
    /// Header words and event word.
    pub data: Vec<u32>,
}

/// One kioctx at the end.
#[derive(Serialize)]
pub struct CtxReport {
    /// Whether it was freed.
    pub freed: bool,
    /// `nr_pages`.
    pub nr_pages: i64,
    /// Whether the ring is still mapped into the process.
    pub mapped: bool,
    /// Whether `lookup_ioctx` of its address still finds it.
    pub reachable: bool,
    /// `ring_pages[0..nr_pages]`.
    pub ring: Vec<Option<SlotReport>>,
}

/// One model's outcome.
#[derive(Serialize)]
pub struct ModelReport {
    /// `old` or `new`.
    pub model: String,
    /// How the run ended.
    pub end: String,
    /// Per task, each operation's result.
    pub results: Vec<Vec<String>>,
    /// Every violation.
    pub violations: Vec<ViolationReport>,
    /// Final kioctx states.
    pub ctxs: Vec<CtxReport>,
    /// The trace, one event per entry.
    pub trace: Vec<String>,
}

impl ModelReport {
    /// Builds the report of one outcome.
    pub fn of(o: &Outcome) -> ModelReport {
        ModelReport {
            model: o.model.to_string(),
            end: format!("{:?}", o.end).to_lowercase(),
            results: o
                .results
                .iter()
                .map(|t| t.iter().map(result).collect())
                .collect(),
            violations: o
                .violations
                .iter()
                .map(|v| ViolationReport {
                    kind: v.kind.name(),
                    signature: v.signature(),
                    task: v.task.map(|t| t.to_string()),
                    label: v.label.map(|l| l.to_string()),
                    step: v.step,
                    leaked: v.leaked.as_ref().map(LeakReport::of),
                })
                .collect(),
            ctxs: o
                .ctxs
                .iter()
                .map(|c| CtxReport {
                    freed: c.freed,
                    nr_pages: c.nr_pages,
                    mapped: c.mapped,
                    reachable: c.reachable,
                    ring: c
                        .ring
                        .iter()
                        .map(|s| {
                            s.map(|(role, data)| SlotReport {
                                page: role.to_string(),
                                data: data.to_vec(),
                            })
                        })
                        .collect(),
                })
                .collect(),
            trace: o.trace.iter().map(|e| e.to_string()).collect(),
        }
    }
}

/// The result of `aiodiff run` on one file.
#[derive(Serialize)]
pub struct RunReport<'a> {
    /// The file.
    pub file: String,
    /// The verdict.
    pub verdict: &'a Verdict,
    /// The file's `expect:` line, if any.
    pub expect: Option<String>,
    /// Whether the verdict meets it.
    pub expect_met: Option<bool>,
    /// The version that ran under the case's schedule in the runs below
    /// (`new`, or `old` when the verdict comes from the reverse
    /// direction); the other followed its order.
    pub leader: &'static str,
    /// Whether the follower kept the leader's order: the two runs are one
    /// interleaving.
    pub followed: bool,
    /// Events both runs performed, only the leader's, only the follower's.
    pub events: (usize, usize, usize),
    /// Where the aligned traces first differ: 0-based event indices in the
    /// old and the new trace (either missing when only one has the event).
    pub first_difference: Option<(Option<usize>, Option<usize>)>,
    /// The pre-patch model.
    pub old: ModelReport,
    /// The post-patch model.
    pub new: ModelReport,
}

impl<'a> RunReport<'a> {
    /// Builds the report of one judged case.
    pub fn of(file: &str, judged: &'a Judged, expect: Option<&crate::Expect>) -> RunReport<'a> {
        let shown = judged.shown();
        let a = &shown.alignment;
        RunReport {
            file: file.to_string(),
            verdict: &judged.verdict,
            expect: expect.map(|e| e.to_string()),
            expect_met: expect.map(|e| e.matches(judged.verdict.class, &judged.verdict.signature)),
            leader: shown.leader,
            followed: a.followed(),
            events: (a.shared, a.leader_only, a.follower_only),
            first_difference: crate::swimlane::first_difference(&shown.old.trace, &shown.new.trace),
            old: ModelReport::of(&shown.old),
            new: ModelReport::of(&shown.new),
        }
    }
}
