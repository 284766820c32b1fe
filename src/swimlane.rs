//! Human-readable output: operation results, violations, and traces as
//! swimlanes with one column per task.

use std::fmt::Write;

use kernel_sim::errno;
use kernel_sim::{Event, TaskId};

use crate::oracle::MigrationEnd;
use crate::runner::{OpResult, Outcome};
use crate::scenario::Scenario;
use crate::text::print_op;

/// Widest cell in a lane; longer cells are cut with `…`.
const MAX_CELL: usize = 48;

/// One event as the lanes show it: the operation and its effect, without
/// the function, which gets a row of its own when it changes.
fn cell(e: &Event) -> String {
    let label = e.label.to_string();
    let op = label.split_once(':').map_or(label.as_str(), |(_, op)| op);
    let effect = e.effect.to_string();
    if effect.is_empty() {
        op.to_string()
    } else {
        format!("{op} {effect}")
    }
}

fn fit(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n <= width {
        format!("{s:width$}")
    } else {
        let cut: String = s.chars().take(width - 1).collect();
        format!("{cut}…")
    }
}

/// How an event of one trace relates to the other trace.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mark {
    /// The other trace has the same action with the same effect.
    Same,
    /// The other trace has the same action with another effect.
    Effect,
    /// Only this trace has the action.
    Only,
}

/// Aligns two traces on their actions (task and label) with a longest
/// common subsequence, and marks each event of each.
pub fn align(a: &[Event], b: &[Event]) -> (Vec<Mark>, Vec<Mark>) {
    let key = |e: &Event| (e.task, e.label);
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![0u32; (n + 1) * (m + 1)];
    let at = |i: usize, j: usize| i * (m + 1) + j;
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[at(i, j)] = if key(&a[i]) == key(&b[j]) {
                lcs[at(i + 1, j + 1)] + 1
            } else {
                lcs[at(i + 1, j)].max(lcs[at(i, j + 1)])
            };
        }
    }
    let (mut ma, mut mb) = (vec![Mark::Only; n], vec![Mark::Only; m]);
    let (mut i, mut j) = (0, 0);
    while i < n && j < m {
        if key(&a[i]) == key(&b[j]) {
            let mark = if a[i].effect.to_string() == b[j].effect.to_string() {
                Mark::Same
            } else {
                Mark::Effect
            };
            (ma[i], mb[j]) = (mark, mark);
            (i, j) = (i + 1, j + 1);
        } else if lcs[at(i + 1, j)] >= lcs[at(i, j + 1)] {
            i += 1;
        } else {
            j += 1;
        }
    }
    (ma, mb)
}

/// The first event of each trace that the other does not match exactly.
pub fn first_difference(a: &[Event], b: &[Event]) -> (Option<usize>, Option<usize>) {
    let (ma, mb) = align(a, b);
    let first = |m: &[Mark]| m.iter().position(|&m| m != Mark::Same);
    (first(&ma), first(&mb))
}

/// Renders a trace as swimlanes: a step column, then one column per task.
/// `marks` (from [`align`]) flag each event: `-`/`+` for actions only this
/// trace has (`sign`), `~` for the same action with another effect. The
/// first difference is flagged `>>`; a step where a violation was recorded
/// is flagged `!!`.
pub fn lanes(outcome: &Outcome, tasks: usize, marks: &[Mark], sign: char) -> String {
    let first = marks.iter().position(|&m| m != Mark::Same);
    let mut rows: Vec<(String, usize, String)> = Vec::new();
    let mut funcs: Vec<Option<kernel_sim::Func>> = vec![None; tasks];
    let bad_steps: Vec<u32> = outcome.violations.iter().map(|v| v.step).collect();
    for (i, e) in outcome.trace.iter().enumerate() {
        let t = e.task.index();
        if funcs[t] != Some(e.label.func) {
            funcs[t] = Some(e.label.func);
            rows.push((String::new(), t, format!("▸ {}", e.label.func)));
        }
        let step = i as u32 + 1;
        let flag = if bad_steps.contains(&step) {
            "!!".to_string()
        } else if first == Some(i) {
            ">>".to_string()
        } else {
            match marks.get(i) {
                Some(Mark::Only) => format!(" {sign}"),
                Some(Mark::Effect) => " ~".to_string(),
                _ => "  ".to_string(),
            }
        };
        rows.push((format!("{flag}{step:>5}"), t, cell(e)));
    }
    let mut width = vec![4usize; tasks];
    for (_, t, c) in &rows {
        width[*t] = width[*t].max(c.chars().count().min(MAX_CELL));
    }
    let mut out = String::new();
    let _ = write!(out, "{:>7} ", "step");
    for (t, w) in width.iter().enumerate() {
        let _ = write!(out, "│ {} ", fit(&TaskId(t as u8).to_string(), *w));
    }
    out.push('\n');
    let _ = write!(out, "{:─>8}", "");
    for w in &width {
        let _ = write!(out, "┼{:─>1$}", "", w + 2);
    }
    out.push('\n');
    for (step, t, c) in rows {
        let _ = write!(out, "{step:>7} ");
        for (col, w) in width.iter().enumerate() {
            let text = if col == t { c.as_str() } else { "" };
            let _ = write!(out, "│ {} ", fit(text, *w));
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
    }
    out
}

/// One operation's result in words.
pub fn result(r: &OpResult) -> String {
    match r {
        OpResult::Setup(Ok(id)) => format!("ok, ctx_id {id:#x}"),
        OpResult::Setup(Err(e)) | OpResult::Destroy(e) => errno::name(*e),
        OpResult::Truncate => "done".into(),
        OpResult::NoContext => "skipped: no context".into(),
        OpResult::Migrate { .. } => MigrationEnd::of(r).expect("a migration").to_string(),
    }
}

/// Each task's operations and what they returned; operations a task never
/// finished (it hung or oopsed) are shown as such.
pub fn results(scenario: &Scenario, outcome: &Outcome) -> String {
    let mut out = String::new();
    for (t, program) in scenario.tasks.iter().enumerate() {
        let _ = write!(out, "  {}:", TaskId(t as u8));
        for (i, op) in program.iter().enumerate() {
            let sep = if i == 0 { " " } else { "; " };
            match outcome.results[t].get(i) {
                Some(r) => {
                    let _ = write!(out, "{sep}{} → {}", print_op(op), result(r));
                }
                None => {
                    let _ = write!(out, "{sep}{} → did not return", print_op(op));
                }
            }
        }
        out.push('\n');
    }
    out
}

/// The violations, one per line.
pub fn violations(outcome: &Outcome) -> String {
    if outcome.violations.is_empty() {
        return "  none\n".into();
    }
    outcome
        .violations
        .iter()
        .map(|v| format!("  {v}\n"))
        .collect()
}
