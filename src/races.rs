//! Races: the pairs of conflicting events whose order decides a finding.
//!
//! A finding's witness is one run. Its shared events and their conflict
//! order come from the run's history ([`crate::judge::transplant::Order`]):
//! each event's predecessors are the conflicting events of other tasks
//! before it. Flipping a pair moves the later event before the earlier
//! one, with the rest of the interleaving kept where the code allows (the
//! run follows the flipped order, [`crate::judge::transplant::follow`]). A
//! pair is *deciding* when its flip is carried out and the violation goes
//! away. A deciding pair whose flip also changes what an operation returns
//! (a migration refused or never started because setup had not published
//! the page yet) is a *precondition*: it decides whether the racing
//! operations meet at all. The others decide how they meet, with every
//! operation's result kept. Findings decided by the same such pairs, named
//! by their labels, are one race.

use std::collections::BTreeMap;
use std::fmt;

use kernel_sim::{AioModel, Label, Segments, TaskId};

use crate::judge::transplant::{follow, Order};
use crate::runner::{run_model, RunOptions};
use crate::scenario::Scenario;
use crate::{New, Old};

/// One event of a pair: its task and label.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, serde::Serialize)]
pub struct Event {
    /// The task, as a letter.
    #[serde(serialize_with = "letter")]
    pub task: TaskId,
    /// What it did.
    #[serde(serialize_with = "label")]
    pub label: Label,
    /// Which of the task's events with this label it was, from 1, as in a
    /// `.sched` stop (`LABEL#n`).
    pub nth: u32,
}

fn letter<S: serde::Serializer>(t: &TaskId, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(t)
}

fn label<S: serde::Serializer>(l: &Label, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(l)
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}'s {}", self.task, self.label)?;
        if self.nth > 1 {
            write!(f, "#{}", self.nth)?;
        }
        Ok(())
    }
}

/// A deciding pair: `first` happened before `then` in the witness, and
/// the other way round the violation does not happen.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, serde::Serialize)]
pub struct Pair {
    /// The earlier event in the witness.
    pub first: Event,
    /// The later event, which the flip moves before it.
    pub then: Event,
    /// The events of `first`'s task on either side of `then` in the
    /// witness: where in that task's work the later event came.
    pub within: Within,
}

/// Where an event came among another task's events: after one (the last
/// before it) and before another (the next), where there are any.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Default, serde::Serialize)]
pub struct Within {
    /// The task's last event before it.
    pub after: Option<Event>,
    /// The task's next event after it.
    pub before: Option<Event>,
}

impl fmt::Display for Pair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} before {}", self.first, self.then)
    }
}

impl Pair {
    /// The pair as a reviewer reads it: the later event, after the earlier
    /// one, and between which events of the earlier one's task it came.
    pub fn placed(&self) -> String {
        let mut s = format!("{} after {}", self.then, self.first);
        match (self.within.after, self.within.before) {
            (Some(a), Some(b)) if a != self.first => s += &format!(", between {a} and {b}"),
            (Some(a), None) if a != self.first => s += &format!(", after {a}"),
            (_, Some(b)) => s += &format!(", before {b}"),
            _ => {}
        }
        s
    }
}

/// The deciding pairs of a witness, sorted.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Deciding {
    /// Those whose flip keeps every operation's result.
    pub pairs: Vec<Pair>,
    /// Those whose flip also changes an operation's result.
    pub preconditions: Vec<Pair>,
    /// The witness's step of the latest later event of a pair (of
    /// `pairs`, or of the preconditions where there is none): where a
    /// reader looks first.
    pub step: Option<u32>,
    /// What a reader is shown of `pairs` (of the preconditions where
    /// there is none): one pair per window, see [`Shown`].
    pub shown: Vec<Shown>,
}

/// The pair shown for one window: of the deciding pairs whose later event
/// came between the same two events of the other task, the one whose
/// earlier event came last, and how many others there are.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct Shown {
    /// The pair.
    pub pair: Pair,
    /// The other deciding pairs of its window.
    pub more: usize,
}

impl Shown {
    /// The pair as [`Pair::placed`] puts it, with the count of the others
    /// of its window.
    pub fn placed(&self) -> String {
        match self.more {
            0 => self.pair.placed(),
            n => format!(
                "{} (and {n} more pair(s) in this window)",
                self.pair.placed()
            ),
        }
    }
}

/// One [`Shown`] per window of `found` (pairs each with the witness step
/// of its earlier event), in the order the windows' pairs came.
fn windows(found: &[(u32, Pair)]) -> Vec<Shown> {
    let key = |p: &Pair| (p.first.task, p.then.task, p.within);
    let mut shown: Vec<(u32, Shown)> = Vec::new();
    for &(i, pair) in found {
        match shown.iter_mut().find(|(_, s)| key(&s.pair) == key(&pair)) {
            Some((at, s)) => {
                s.more += 1;
                if i > *at {
                    (*at, s.pair) = (i, pair);
                }
            }
            None => shown.push((i, Shown { pair, more: 0 })),
        }
    }
    shown.into_iter().map(|(_, s)| s).collect()
}

/// The deciding pairs of the violation `signature` in the run of `model`
/// on `scenario` under `schedule`; empty if the run does not show it or
/// no single flip removes it.
pub fn deciding_pairs(
    model: &str,
    scenario: &Scenario,
    schedule: &[kernel_sim::Segment],
    signature: &str,
) -> Deciding {
    if model == "old" {
        deciding::<Old>(&Old, scenario, schedule, signature)
    } else {
        deciding::<New>(&New, scenario, schedule, signature)
    }
}

fn deciding<M: AioModel>(
    model: &M,
    scenario: &Scenario,
    schedule: &[kernel_sim::Segment],
    signature: &str,
) -> Deciding {
    let shows = |o: &crate::Outcome| o.violations.iter().any(|v| v.signature() == signature);
    let led = run_model(
        model,
        scenario,
        &mut Segments::new(schedule.to_vec()),
        RunOptions::QUIET.with_history(),
    );
    let mut found = Deciding::default();
    let (mut kept, mut changed) = (Vec::new(), Vec::new());
    if !shows(&led) {
        return found;
    }
    let order = Order::of(&led.history);
    let events = &led.history.events;
    let event = |j: u32| {
        let e = &events[j as usize];
        let nth = events[..=j as usize]
            .iter()
            .filter(|o| o.task == e.task && o.label == e.label)
            .count();
        Event {
            task: e.task,
            label: e.label,
            nth: nth as u32,
        }
    };
    for j in 0..order.len() as u32 {
        for &i in order.preds(j) {
            let (flipped, a) = follow(model, scenario, &order.flipped(i, j), RunOptions::QUIET);
            if !a.followed() || shows(&flipped) {
                continue;
            }
            let task = order.task(i);
            let of_task = |k: &u32| order.task(*k) == task;
            let pair = Pair {
                first: event(i),
                then: event(j),
                within: Within {
                    after: (0..j).rev().find(of_task).map(event),
                    before: (j + 1..order.len() as u32).find(of_task).map(event),
                },
            };
            let keeps = flipped.results == led.results;
            if keeps || found.pairs.is_empty() {
                found.step = Some(j + 1);
            }
            if keeps {
                kept.push((i, pair));
            } else {
                changed.push((i, pair));
            }
        }
    }
    found.shown = windows(if kept.is_empty() { &changed } else { &kept });
    found.pairs = kept.into_iter().map(|(_, p)| p).collect();
    found.preconditions = changed.into_iter().map(|(_, p)| p).collect();
    for pairs in [&mut found.pairs, &mut found.preconditions] {
        pairs.sort();
        pairs.dedup();
    }
    found
}

/// Rows of the kernel reference's review history (§5) and a pair that
/// shows each: the function and operation of its two events, in witness
/// order.
const REVIEW_ROWS: &[(&str, (&str, &str))] = &[
    (
        "B1 (half-migrated page: teardown puts the page after migrate_page_move_mapping, \
         before the second check)",
        (
            "migrate_page_move_mapping:page_unfreeze_refs",
            "aio_free_ring:put_page",
        ),
    ),
    (
        "B1' (truncate's lookup reference stands in for the one teardown dropped)",
        (
            "truncate_inode_pages_range:pagevec_lookup",
            "migrate_page_move_mapping:page_freeze_refs",
        ),
    ),
    (
        "D2 (migration racing aio_free_ring over ring_pages[i])",
        ("aio_free_ring:read", "aio_migratepage:write"),
    ),
    (
        "D2 (migration racing aio_free_ring over ring_pages[i])",
        ("aio_migratepage:read", "aio_free_ring:write"),
    ),
];

/// The review-history rows a race's pairs match.
fn review_rows(pairs: &[Pair]) -> Vec<&'static str> {
    let op = |e: &Event| format!("{}:{}", e.label.func, e.label.op);
    let mut rows: Vec<&'static str> = REVIEW_ROWS
        .iter()
        .filter(|(_, (first, then))| {
            pairs
                .iter()
                .any(|p| op(&p.first) == *first && op(&p.then) == *then)
        })
        .map(|(row, _)| *row)
        .collect();
    rows.dedup();
    rows
}

/// One race: the findings its deciding pairs decide.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Race {
    /// The deciding pairs that keep every result, by label (or the
    /// preconditions, where no other pair decides).
    pub pairs: Vec<Pair>,
    /// Whether flipping any of `pairs` keeps every operation's result
    /// (false where only preconditions decide it).
    pub keeps_results: bool,
    /// What a reader is shown of `pairs`: one pair per window.
    pub shown: Vec<Shown>,
    /// The preconditions of its first finding.
    pub preconditions: Vec<Pair>,
    /// Each finding's signature and the scenarios that show it.
    pub signatures: Vec<(String, usize)>,
    /// The versions that have it: `old`, `new` or both.
    pub versions: Vec<&'static str>,
    /// The witness of its first finding.
    pub witness: Option<std::path::PathBuf>,
    /// That witness's model, and its step to look at first.
    pub at: (String, Option<u32>),
    /// The rows of the kernel reference's review history it matches.
    pub review: Vec<&'static str>,
}

/// `pairs` up to a renaming of tasks and of ring indices, without where
/// each came: the least, sorted, of their renamings. Findings whose pairs
/// have one shape are one race, seen at another page of the ring or with
/// other task names.
fn shape(pairs: &[Pair]) -> Vec<Pair> {
    let mut tasks: Vec<TaskId> = pairs
        .iter()
        .flat_map(|p| [p.first.task, p.then.task])
        .collect();
    tasks.sort();
    tasks.dedup();
    let mut indices: Vec<u8> = pairs
        .iter()
        .flat_map(|p| [p.first.label.arg.index(), p.then.label.arg.index()])
        .flatten()
        .collect();
    indices.sort();
    indices.dedup();
    let place = |all: &[u8], k: u8| all.iter().position(|&x| x == k).unwrap_or(0);
    let task_ids: Vec<u8> = tasks.iter().map(|t| t.0).collect();
    let mut least: Option<Vec<Pair>> = None;
    for t in permutations(tasks.len()) {
        for x in permutations(indices.len()) {
            let rename = |e: Event| Event {
                task: TaskId(t[place(&task_ids, e.task.0)] as u8),
                label: Label {
                    arg: e.label.arg.with_index(|i| x[place(&indices, i)] as u8),
                    ..e.label
                },
                nth: e.nth,
            };
            let mut renamed: Vec<Pair> = pairs
                .iter()
                .map(|p| Pair {
                    first: rename(p.first),
                    then: rename(p.then),
                    within: Within::default(),
                })
                .collect();
            renamed.sort();
            if least.as_ref().is_none_or(|l| renamed < *l) {
                least = Some(renamed);
            }
        }
    }
    least.unwrap_or_default()
}

/// Every ordering of `0..n`.
fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![Vec::new()];
    }
    let mut all = Vec::new();
    for rest in permutations(n - 1) {
        for at in 0..=rest.len() {
            let mut p = rest.clone();
            p.insert(at, n - 1);
            all.push(p);
        }
    }
    all
}

/// Groups findings, each given with its deciding pairs, into races: one
/// per shape of pairs (the same pairs up to the names of tasks and ring
/// indices), the most scenarios first. Findings without a deciding pair
/// are left out.
pub fn group<'a>(findings: impl IntoIterator<Item = &'a crate::verify::Found>) -> Vec<Race> {
    let mut races: BTreeMap<Vec<Pair>, Race> = BTreeMap::new();
    for f in findings {
        let d = &f.deciding;
        let pairs = if d.pairs.is_empty() {
            d.preconditions.clone()
        } else {
            d.pairs.clone()
        };
        if pairs.is_empty() {
            continue;
        }
        let race = races.entry(shape(&pairs)).or_insert_with(|| Race {
            review: review_rows(&pairs),
            keeps_results: !d.pairs.is_empty(),
            pairs,
            shown: d.shown.clone(),
            preconditions: d.preconditions.clone(),
            at: (f.model.clone(), d.step),
            signatures: Vec::new(),
            versions: Vec::new(),
            witness: f.witness.clone(),
        });
        race.signatures.push((f.signature.clone(), f.scenarios));
        for v in f.class.versions() {
            if !race.versions.contains(v) {
                race.versions.push(v);
            }
        }
    }
    let mut races: Vec<Race> = races.into_values().collect();
    races.sort_by_key(|r| std::cmp::Reverse(r.signatures.iter().map(|s| s.1).sum::<usize>()));
    races
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::parse;

    /// The stale read of `ring_pages[i]` in the old teardown leaks the
    /// new page at whichever index the migrator moves: the leaks of
    /// `new[0]` and `new[1]` have one shape, so they are one race.
    #[test]
    fn the_same_race_at_another_page_has_one_shape() {
        let leak = |i: u8, fault: &str| {
            let case = parse(
                "t",
                &format!(
                    "ring 2\n{fault}task A: setup, destroy\ntask B: migrate {i} sync\n\
                     run A until aio_free_ring:write(ctx->ring_pages[{i}])\nrun B\nrun A\n"
                ),
            )
            .unwrap();
            let d = deciding_pairs(
                "old",
                &case.scenario,
                &case.schedule,
                &format!("leak(new[{i}])"),
            );
            assert!(!d.pairs.is_empty(), "leak(new[{i}]) has a deciding pair");
            d.pairs
        };
        let (zero, one) = (leak(0, ""), leak(1, ""));
        assert_ne!(zero, one);
        assert_eq!(shape(&zero), shape(&one));
        let b1 = parse(
            "t",
            &std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/corpus/b1-half-migrated-page.sched"
            ))
            .unwrap(),
        )
        .unwrap();
        let d = deciding_pairs(
            "old",
            &b1.scenario,
            &b1.schedule,
            "truncate-livelock@truncate_inode_pages_range",
        );
        let b1 = if d.pairs.is_empty() {
            d.preconditions
        } else {
            d.pairs
        };
        assert_ne!(shape(&b1), shape(&zero), "another race has another shape");
    }

    /// The get-on-zero witness's migration runs while the teardown sits
    /// between its read and its write of `ring_pages[0]`: four pairs
    /// (preconditions: each flip also changes a result) share that window, and the one shown is the read before the
    /// store, the latest of their earlier events. Every pair is in the
    /// window of exactly one pair shown.
    #[test]
    fn one_pair_is_shown_per_window_the_latest() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/witnesses/old-only-get-page-on-zero-lru-cache-add.sched"
        ))
        .unwrap();
        let case = parse("t", &text).unwrap();
        let d = deciding_pairs(
            "old",
            &case.scenario,
            &case.schedule,
            "get_page-on-zero@lru_cache_add",
        );
        let window = |p: &Pair| (p.first.task, p.then.task, p.within);
        let all = if d.pairs.is_empty() {
            &d.preconditions
        } else {
            &d.pairs
        };
        for p in all {
            assert_eq!(
                d.shown
                    .iter()
                    .filter(|s| window(&s.pair) == window(p))
                    .count(),
                1
            );
        }
        let more: usize = d.shown.iter().map(|s| s.more).sum();
        assert_eq!(d.shown.len() + more, all.len());
        let store = d
            .shown
            .iter()
            .find(|s| s.pair.then.label.to_string() == "aio_migratepage:write(ctx->ring_pages[0])")
            .expect("the store is shown");
        assert_eq!(
            store.pair.first.label.to_string(),
            "aio_free_ring:read(ctx->ring_pages[0])"
        );
        assert!(store.more > 0, "{all:?}");
    }

    /// A2 in the old teardown: it reads `ring_pages[0]`, the migrator
    /// stores the new page there, the teardown clears the slot and puts
    /// the old page. The read before the store decides the leak: flipped,
    /// with the rest kept, the old code leaks nothing and every operation
    /// returns what it did.
    #[test]
    fn flipping_the_deciding_pair_of_a_witness_removes_its_violation() {
        let case = parse(
            "t",
            "ring 1\ntask A: setup, destroy\ntask B: migrate 0 sync\n\
             run A until aio_free_ring:write(ctx->ring_pages[0])\nrun B\n",
        )
        .unwrap();
        let leak = "leak(new[0])";
        let d = deciding_pairs("old", &case.scenario, &case.schedule, leak);
        let read_before_store = d
            .pairs
            .iter()
            .find(|p| {
                p.first.label.to_string() == "aio_free_ring:read(ctx->ring_pages[0])"
                    && p.then.label.to_string() == "aio_migratepage:write(ctx->ring_pages[0])"
            })
            .expect("the teardown's read before the migrator's store decides it");
        assert_eq!(
            (read_before_store.first.task, read_before_store.then.task),
            (TaskId(0), TaskId(1))
        );

        let led = run_model(
            &Old,
            &case.scenario,
            &mut Segments::new(case.schedule.clone()),
            RunOptions::QUIET.with_history(),
        );
        let shows = |o: &crate::Outcome| o.violations.iter().any(|v| v.signature() == leak);
        assert!(shows(&led));
        let order = Order::of(&led.history);
        let at = |label: &str, task: TaskId| {
            (0..order.len() as u32)
                .find(|&j| {
                    order.task(j) == task
                        && led.history.events[j as usize].label.to_string() == label
                })
                .expect("the event is in the witness")
        };
        let i = at("aio_free_ring:read(ctx->ring_pages[0])", TaskId(0));
        let j = at("aio_migratepage:write(ctx->ring_pages[0])", TaskId(1));
        assert!(order.preds(j).contains(&i));
        let (flipped, a) = follow(
            &Old,
            &case.scenario,
            &order.flipped(i, j),
            RunOptions::QUIET,
        );
        assert!(a.followed());
        assert!(!shows(&flipped), "{:?}", flipped.signatures());
        assert_eq!(flipped.results, led.results);
    }
}
