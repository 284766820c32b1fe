//! Judging one case: the verdict, from one interleaving of both versions.
//!
//! The new code runs under the case's schedule; the old code then follows
//! the order of the new run's conflicting events ([`transplant`]). When it
//! can, the two runs are one interleaving of the events they share, and
//! their outcomes are compared directly ([`classify`](mod@classify)). The other direction
//! too: the old code under the schedule and the new code following it,
//! which gives the bugs the patch fixes an aligned witness; it contributes
//! violations only (a behaviour of the old code the new code lacks is no
//! regression).
//!
//! What the direct comparison cannot settle goes to a bounded search of the
//! old code's other schedules of the scenario ([`fallback`]):
//! - a violation only the new code shows is shared when the old code shows
//!   it too somewhere in the same scenario;
//! - when the old code cannot follow the order, a difference is skew when
//!   the old code reaches the new outcome under some schedule. Failing
//!   that, the case is undecided until [`confirm`] minimises it and
//!   explores the result: only then is it a divergence, or a new-only
//!   violation, or it stays undecided, which never crashes a fuzz target.
//!
//! A verdict depends on its case alone: [`Judge`] keeps the scenario
//! explorations it made, which only saves their repeats.

pub mod classify;
pub mod confirm;
pub mod fallback;
pub mod nearby;
pub mod transplant;

use kernel_sim::{AioModel, Replay, Scheduler, Segments, TaskId};

use crate::case::{Case, Class};
use crate::explore::witness_schedule;
use crate::runner::{run_model, Outcome, RunOptions};
use crate::scenario::Scenario;
use crate::{New, Old};
use classify::{classify, RefusalTable, Verdict};
use fallback::Knowledge;
use transplant::{follow, Alignment, Order};

/// One direction of the transplant.
#[derive(Clone, Debug)]
pub struct Transplant {
    /// The version that ran under the case's schedule: `new` or `old`.
    pub leader: &'static str,
    /// The old code's run.
    pub old: Outcome,
    /// The new code's run.
    pub new: Outcome,
    /// How the follower met the leader's order.
    pub alignment: Alignment,
    /// The direct comparison of the two runs.
    pub verdict: Verdict,
}

impl Transplant {
    /// The follower's run.
    pub fn follower(&self) -> &Outcome {
        if self.leader == "new" {
            &self.old
        } else {
            &self.new
        }
    }

    /// How the two runs relate, in a phrase.
    pub fn how(&self) -> String {
        let (leader, follower) = if self.leader == "new" {
            ("new", "old")
        } else {
            ("old", "new")
        };
        let a = &self.alignment;
        let shared = format!(
            "{} shared events, {} only in the {leader} run, {} only in the {follower}",
            a.shared, a.leader_only, a.follower_only
        );
        if a.followed() {
            format!(
                "the {leader} code under the case's schedule, the {follower} code following \
                 its order of conflicting events: one interleaving ({shared})"
            )
        } else {
            format!(
                "the {leader} code under the case's schedule; the {follower} code could not \
                 follow its order: {} pair(s) of conflicting events happened the other way \
                 round ({shared})",
                a.inverted.len()
            )
        }
    }
}

/// A case's verdict and the runs behind it.
#[derive(Clone, Debug)]
pub struct Judged {
    /// The verdict.
    pub verdict: Verdict,
    /// The new code under the schedule, the old code following it.
    pub forward: Transplant,
    /// The old code under the schedule, the new code following it.
    pub reverse: Transplant,
    /// Whether the verdict comes from the reverse direction.
    pub from_reverse: bool,
}

impl Judged {
    /// The direction the verdict comes from.
    pub fn shown(&self) -> &Transplant {
        if self.from_reverse {
            &self.reverse
        } else {
            &self.forward
        }
    }
}

/// Runs `leader` on `scenario` under `sched` and `follower` after its
/// order.
fn transplant<L: AioModel, F: AioModel>(
    leader: &L,
    follower: &F,
    scenario: &Scenario,
    sched: &mut dyn Scheduler,
    opts: RunOptions,
) -> (Outcome, Outcome, Alignment) {
    let led = run_model(leader, scenario, sched, opts.with_history());
    let (followed, alignment) = follow(follower, scenario, &Order::of(&led.history), opts);
    (led, followed, alignment)
}

/// The old code following a new run that made `decisions`, compared
/// directly: how `verify` weighs each new outcome it explored.
pub fn follow_new_run(
    scenario: &Scenario,
    decisions: &[TaskId],
    table: &RefusalTable,
) -> Transplant {
    let mut replay = Replay::new(decisions.to_vec());
    let (new, old, alignment) = transplant(&New, &Old, scenario, &mut replay, RunOptions::QUIET);
    let verdict = classify(&old, &new, table);
    Transplant {
        leader: "new",
        old,
        new,
        alignment,
        verdict,
    }
}

/// The new code under the case's schedule and the old code following it,
/// compared directly.
pub fn forward(case: &Case, table: &RefusalTable, opts: RunOptions) -> Transplant {
    let mut segments = Segments::new(case.schedule.clone());
    let (new, old, alignment) = transplant(&New, &Old, &case.scenario, &mut segments, opts);
    let verdict = classify(&old, &new, table);
    Transplant {
        leader: "new",
        old,
        new,
        alignment,
        verdict,
    }
}

/// The old code under the case's schedule and the new code following it,
/// compared directly.
pub fn reverse(case: &Case, table: &RefusalTable, opts: RunOptions) -> Transplant {
    let mut segments = Segments::new(case.schedule.clone());
    let (old, new, alignment) = transplant(&Old, &New, &case.scenario, &mut segments, opts);
    let verdict = classify(&old, &new, table);
    Transplant {
        leader: "old",
        old,
        new,
        alignment,
        verdict,
    }
}

/// How much a verdict class says: the verdict of a case is its directions'
/// strongest.
fn weight(class: Class) -> u8 {
    match class {
        Class::NewOnly => 7,
        Class::Divergence => 6,
        Class::Undecided => 5,
        Class::OldOnly => 4,
        Class::Shared => 3,
        Class::Skew => 2,
        Class::AllowedRefusal => 1,
        Class::Agree => 0,
    }
}

/// A verdict of `class` with `detail` after the class in its signature.
fn verdict(class: Class, detail: &str, rows_hit: Vec<usize>, explanation: String) -> Verdict {
    Verdict {
        class,
        signature: format!("{class}:{detail}"),
        rows_hit,
        explanation,
    }
}

/// The detail of a signature: what follows `class:`.
fn detail(v: &Verdict) -> &str {
    v.signature.split_once(':').map_or("", |(_, d)| d)
}

/// Judges cases: see the module documentation.
pub struct Judge {
    /// The allowed-refusal table.
    pub table: RefusalTable,
    knowledge: Knowledge,
    opts: RunOptions,
    confirming: bool,
}

impl Judge {
    /// A judge with `table`, recording no traces.
    pub fn new(table: RefusalTable) -> Judge {
        Judge {
            table,
            knowledge: Knowledge::default(),
            opts: RunOptions::QUIET,
            confirming: true,
        }
    }

    /// This judge, keeping the runs' traces for people.
    pub fn traced(self) -> Judge {
        Judge {
            opts: RunOptions::TRACED,
            ..self
        }
    }

    /// This judge, keeping the features of each run's interleaving
    /// ([`kernel_sim::interleaving`]), for a fuzzer's coverage.
    pub fn counting_interleavings(self) -> Judge {
        Judge {
            opts: RunOptions {
                interleaving: true,
                ..self.opts
            },
            ..self
        }
    }

    /// This judge, leaving undecided cases unconfirmed (no minimisation).
    pub fn unconfirming(self) -> Judge {
        Judge {
            confirming: false,
            ..self
        }
    }

    /// The verdict on `case`.
    pub fn judge(&mut self, case: &Case) -> Judged {
        let forward = forward(case, &self.table, self.opts);
        let reverse = reverse(case, &self.table, self.opts);
        let ahead = self.forward_verdict(case, &forward);
        let back = self.reverse_verdict(case, &reverse);
        // A bug of the old code is best shown with the old code under the
        // schedule, where it was found.
        let from_reverse = back.as_ref().is_some_and(|b| {
            let (w, a) = (weight(b.class), weight(ahead.class));
            w > a || (w == a && b.class == Class::OldOnly)
        });
        let mut judged = Judged {
            verdict: if from_reverse {
                back.expect("the reverse verdict won")
            } else {
                ahead
            },
            forward,
            reverse,
            from_reverse,
        };
        let unconfirmed = matches!(judged.verdict.class, Class::Undecided | Class::NewOnly);
        if unconfirmed && self.confirming {
            let reverse = judged.from_reverse;
            judged.verdict = confirm::confirm(self, case, &judged.verdict, reverse);
        }
        judged
    }

    /// A violation only the new code shows in an aligned run is shared when
    /// the old code shows it in the same scenario under another schedule:
    /// near the case's schedule, near the one the follower took, or in the
    /// scenario's exploration.
    fn shared_elsewhere(
        &mut self,
        case: &Case,
        t: &Transplant,
        signature: &str,
    ) -> Option<Verdict> {
        let scenario = &case.scenario;
        let knowledge = &mut self.knowledge;
        let mut how = knowledge.old_violates(scenario, &case.schedule, signature);
        if how.is_none() && t.leader == "old" {
            return None;
        }
        if how.is_none() {
            let followed = witness_schedule(&Old, scenario, &t.old.decisions);
            how = knowledge.old_violates(scenario, &followed, signature);
        }
        how.map(|how| {
            verdict(
                Class::Shared,
                signature,
                Vec::new(),
                format!(
                    "the new code hits {signature} and the old code does not, in this \
                     interleaving ({}), but the old code hits it too {how}: a bug the patch \
                     leaves in place",
                    t.how()
                ),
            )
        })
    }

    /// The forward direction's verdict: see the module documentation.
    fn forward_verdict(&mut self, case: &Case, t: &Transplant) -> Verdict {
        if t.alignment.followed() {
            self.aligned(case, t)
        } else {
            self.unaligned(case, t)
        }
    }

    /// The old code followed: the comparison stands, but for a violation
    /// the old code shows elsewhere in the scenario, and a divergence after
    /// an allowed difference.
    fn aligned(&mut self, case: &Case, t: &Transplant) -> Verdict {
        let v = &t.verdict;
        if v.class == Class::NewOnly {
            if let Some(shared) = self.shared_elsewhere(case, t, detail(v)) {
                return shared;
            }
        }
        if v.class == Class::Divergence && !v.rows_hit.is_empty() {
            return self.after_allowed(case, t);
        }
        Verdict {
            explanation: format!("{}; {}", v.explanation, t.how()),
            ..v.clone()
        }
    }

    /// The old code could not follow.
    fn unaligned(&mut self, case: &Case, t: &Transplant) -> Verdict {
        let v = &t.verdict;
        let how = t.how();
        match v.class {
            Class::Agree | Class::AllowedRefusal => self.nearest(case, t),
            // A bug of the old code the new code does not show, as far as
            // the old code could follow: what decides is the old bug, which
            // also changes the results after it (a livelocked teardown does
            // not finish).
            Class::Shared | Class::OldOnly => Verdict {
                explanation: format!("{}; {how}", v.explanation),
                ..v.clone()
            },
            Class::NewOnly => self
                .shared_elsewhere(case, t, detail(v))
                .unwrap_or_else(|| {
                    verdict(
                        Class::Undecided,
                        &format!("new-only:{}", detail(v)),
                        Vec::new(),
                        format!(
                            "{}; {how}; the old code was not seen to hit it",
                            v.explanation
                        ),
                    )
                }),
            Class::Divergence | Class::Skew | Class::Undecided => self.searched(case, t),
        }
    }

    /// Where the old code could not follow but its nearest run has the new
    /// outcome (up to the table): skew, naming that run's schedule.
    fn nearest(&mut self, case: &Case, t: &Transplant) -> Verdict {
        let v = &t.verdict;
        let followed = witness_schedule(&Old, &case.scenario, &t.old.decisions);
        let (what, unaligned) = match v.class {
            Class::Agree => ("the new outcome".to_string(), "unaligned".to_string()),
            _ => (
                format!("the new outcome up to the refusal table ({})", detail(v)),
                format!("unaligned:{}", detail(v)),
            ),
        };
        verdict(
            Class::Skew,
            &unaligned,
            v.rows_hit.clone(),
            format!(
                "{}; as far as it could, it reaches {what}, under the schedule `{}`",
                t.how(),
                fallback::show(&followed)
            ),
        )
    }

    /// Where the old code could not follow and its nearest run differs: skew
    /// if the bounded search finds the new outcome, else undecided.
    fn searched(&mut self, case: &Case, t: &Transplant) -> Verdict {
        let v = &t.verdict;
        let (scenario, schedule) = (&case.scenario, &case.schedule);
        let reached = self
            .knowledge
            .old_reaches(scenario, schedule, &t.old, &t.new, &self.table);
        let (class, found) = match reached {
            Some(where_) => (
                Class::Skew,
                format!("the old code reaches the new outcome {where_}"),
            ),
            None => (
                Class::Undecided,
                format!(
                    "no schedule of the old code near it, and none with at most {} \
                     preemption(s), reaches the new outcome",
                    fallback::PREEMPTIONS
                ),
            ),
        };
        let explanation = format!("{}; {}; {found}", v.explanation, t.how());
        verdict(class, detail(v), Vec::new(), explanation)
    }

    /// A divergence in one interleaving that comes after a difference the
    /// refusal table allows: the allowed difference may be its cause (a
    /// migration the new code made and the old code refused leaves the new
    /// code with references on a page the old code's run does not have), so
    /// it is skew when the old code reaches the new outcome under another
    /// schedule. When the bounded search does not find one, the case is
    /// undecided until confirmation's explorations show the old code never
    /// reaches the new outcome: the search's miss alone claims nothing (the
    /// schedule the old code needs can lie beyond its moves and its bound).
    fn after_allowed(&mut self, case: &Case, t: &Transplant) -> Verdict {
        let v = &t.verdict;
        let rows: Vec<&str> = v
            .rows_hit
            .iter()
            .map(|&r| self.table.rows[r].name.as_str())
            .collect();
        let reached =
            self.knowledge
                .old_reaches(&case.scenario, &case.schedule, &t.old, &t.new, &self.table);
        let after = format!(
            "{}; {}; it comes after a difference the refusal table allows ({})",
            v.explanation,
            t.how(),
            rows.join(", ")
        );
        match reached {
            Some(where_) => verdict(
                Class::Skew,
                detail(v),
                Vec::new(),
                format!("{after}, and the old code reaches the new outcome {where_}"),
            ),
            None => verdict(
                Class::Undecided,
                detail(v),
                Vec::new(),
                format!(
                    "{after}, and no schedule of the old code near it, and none with at most {} \
                     preemption(s), reaches the new outcome",
                    fallback::PREEMPTIONS
                ),
            ),
        }
    }

    /// The reverse direction's verdict. When the new code followed the old
    /// run's order, the comparison stands as it is (the refusal table
    /// allows the old code's refusals where the new code migrated, so what
    /// is left is something the old code did that the new code does not in
    /// the same interleaving). When it could not, only the old code's
    /// violations count: a fixed bug's interleaving is often one the new
    /// code cannot follow, because the patch removed it.
    fn reverse_verdict(&mut self, case: &Case, t: &Transplant) -> Option<Verdict> {
        let v = &t.verdict;
        let with = |v: &Verdict| Verdict {
            explanation: format!("{}; {}", v.explanation, t.how()),
            ..v.clone()
        };
        match v.class {
            Class::OldOnly | Class::Shared => Some(with(v)),
            _ if !t.alignment.followed() => None,
            // A difference downstream of an allowed one: the new code's
            // other schedules are not searched, so it does not count.
            Class::Divergence if !v.rows_hit.is_empty() => None,
            Class::NewOnly => Some(
                self.shared_elsewhere(case, t, detail(v))
                    .unwrap_or_else(|| with(v)),
            ),
            _ => Some(with(v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus(name: &str) -> Case {
        let path = format!("{}/corpus/{name}.sched", env!("CARGO_MANIFEST_DIR"));
        crate::text::parse(&path, &std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    #[test]
    fn the_old_code_follows_the_new_run_and_the_comparison_is_direct() {
        let judged = Judge::new(RefusalTable::default()).judge(&corpus("a1-migrate-during-setup"));
        assert!(judged.forward.alignment.followed());
        assert!(!judged.from_reverse);
        assert_eq!(judged.verdict.signature, "allowed-refusal:einval");
    }

    #[test]
    fn a_fixed_bug_is_shown_with_the_old_code_under_the_schedule() {
        let judged = Judge::new(RefusalTable::default()).judge(&corpus("b1-half-migrated-page"));
        assert!(judged.from_reverse);
        assert_eq!(judged.shown().leader, "old");
        assert_eq!(
            judged.verdict.signature,
            "old-only:truncate-livelock@truncate_inode_pages_range"
        );
    }

    #[test]
    fn where_the_old_code_cannot_follow_its_nearest_run_decides() {
        let judged = Judge::new(RefusalTable::default())
            .judge(&corpus("a2-migrate-after-teardown-cleared-the-slot"));
        assert!(!judged.forward.alignment.followed());
        assert_eq!(judged.verdict.signature, "skew:unaligned:not-moved");
        assert!(judged.verdict.explanation.contains("under the schedule `"));
    }

    /// Found by the `differential` fuzz target (minimised). The new code
    /// migrates page 0 during setup where the old code refuses (allowed,
    /// `einval`); C then holds its new page's reference while B's async
    /// migrations of it fail. The old code reaches that outcome too, under
    /// a schedule with two preemptions that the search near the case once
    /// could not build, and the case was undecided. The search now gives
    /// C's first segment, which has no stop, one near where the new code's
    /// C ended it, and with B's first stop moved too finds the outcome:
    /// skew, naming the schedule.
    #[test]
    fn a_difference_after_an_allowed_refusal_is_skew_where_a_stop_added_finds_it() {
        let case = crate::text::parse(
            "t",
            "ring 3\n\
             task A: migrate 1 sync-light extra-ref, migrate 2 async extra-ref\n\
             task B: setup, migrate 0 async, migrate 0 async\n\
             task C: migrate 0 async\n\
             run B until add_to_page_cache_locked:spin_unlock_irq#2\n\
             run C\n\
             run B until find_or_create_page:ClearPage*\n\
             run C until putback_lru_page:put_page#2\n\
             run A\n",
        )
        .unwrap();
        let judged = Judge::new(RefusalTable::default()).judge(&case);
        assert_eq!(
            judged.verdict.signature,
            "skew:migrate:migrated(aio0)->refused(aio-EAGAIN)"
        );
        assert!(judged.verdict.explanation.contains("under the schedule `"));
    }
}
