//! Confirming a finding before anything reports it.
//!
//! Two kinds of case come here: a violation only the new code shows (in
//! one interleaving, or as far as the old code could follow) that the old
//! code was not seen to hit in the same scenario, and an undecided
//! difference (the old code could not follow, and the bounded search found
//! no old schedule with the new outcome). The case is minimised while its
//! direct comparison stays the same, within [`CANDIDATES`] candidates;
//! then the minimised scenario's old code is explored with the largest
//! bound of [`BOUNDS`] that completes within [`BUDGET`] executions.
//! - A violation the old code hits there too is shared; one it never hits
//!   is confirmed new-only.
//! - A new outcome the old code never reaches there is a confirmed
//!   divergence; one it reaches leaves the case undecided.
//!
//! When no exploration completes, the case is undecided. The verdict names
//! the minimised case and the bound.

use super::classify::Verdict;
use super::{detail, forward, reverse, verdict, Judge};
use crate::case::{Case, Class};
use crate::explore::{explore, Exploration, ExploreOptions, OldSet};
use crate::minimize::shrink;
use crate::runner::RunOptions;
use crate::Old;

/// Minimisation candidates tried at most.
pub const CANDIDATES: usize = 1_000;

/// Executions one exploration of the minimised scenario spends at most.
pub const BUDGET: usize = 20_000;

/// Preemption bounds tried, the largest first.
pub const BOUNDS: [u32; 2] = [2, 1];

/// A direction's direct comparison: whether the follower followed, and the
/// verdict's signature.
fn direct(case: &Case, judge: &Judge, backwards: bool) -> (bool, String) {
    let t = match backwards {
        false => forward(case, &judge.table, RunOptions::QUIET),
        true => reverse(case, &judge.table, RunOptions::QUIET),
    };
    (t.alignment.followed(), t.verdict.signature)
}

/// The first complete exploration of `case`'s scenario for the old code,
/// with its bound.
fn explored(case: &Case) -> Option<(u32, Exploration)> {
    BOUNDS.iter().find_map(|&k| {
        let opts = ExploreOptions {
            preemptions: k,
            max_executions: BUDGET,
        };
        let e = explore(&Old, &case.scenario, opts, |_, _| {});
        (!e.incomplete).then_some((k, e))
    })
}

/// The verdict on a case whose `found` verdict (new-only, or undecided)
/// needs confirming: see the module documentation. `backwards` says it
/// comes from the reverse direction.
pub fn confirm(judge: &mut Judge, case: &Case, found: &Verdict, backwards: bool) -> Verdict {
    let want = direct(case, judge, backwards);
    let (min, tries) = shrink(case, CANDIDATES, |c| direct(c, judge, backwards) == want);
    let minimised = format!(
        "minimised ({tries} candidates) to\n{}",
        crate::text::print(&Case {
            expect: None,
            ..min.clone()
        })
    );
    let keep = |more: String| Verdict {
        explanation: format!("{}; {more}", found.explanation),
        ..found.clone()
    };
    let undecided = |more: String| {
        let what = detail(found).to_string();
        let what = match found.class {
            Class::NewOnly => format!("new-only:{what}"),
            _ => what,
        };
        verdict(
            Class::Undecided,
            &what,
            Vec::new(),
            format!("{}; {more}", found.explanation),
        )
    };
    let Some((k, e)) = explored(&min) else {
        return undecided(format!(
            "{minimised}whose exploration did not complete within {BUDGET} executions"
        ));
    };
    let bound = format!(
        "every schedule with at most {k} preemption(s) ({} executions)",
        e.executions
    );
    let what = detail(found);
    if let Some(signature) = what.strip_prefix("new-only:").or(match found.class {
        Class::NewOnly => Some(what),
        _ => None,
    }) {
        let set = OldSet {
            old: &e,
            table: &judge.table,
        };
        return if set.violates(signature) {
            verdict(
                Class::Shared,
                signature,
                Vec::new(),
                format!(
                    "the new code hits {signature} where the old code does not, in the runs \
                     below; {minimised}where the old code hits it too, under {bound}: a bug \
                     the patch leaves in place"
                ),
            )
        } else {
            verdict(
                Class::NewOnly,
                signature,
                Vec::new(),
                format!(
                    "{}; confirmed: {minimised}where the old code never hits it under {bound}",
                    found.explanation
                ),
            )
        };
    }
    let new = forward(&min, &judge.table, RunOptions::QUIET).new;
    let set = OldSet {
        old: &e,
        table: &judge.table,
    };
    if set.matches(&new).is_some() {
        return keep(format!(
            "{minimised}where the old code reaches the new outcome under {bound}: a difference \
             of timing, most likely"
        ));
    }
    verdict(
        Class::Divergence,
        what,
        Vec::new(),
        format!(
            "{}; confirmed: {minimised}where the old code never reaches the new outcome under \
             {bound}",
            found.explanation
        ),
    )
}
