//! Human-readable output: operation results, violations, and traces as
//! swimlanes with one column per task.

use std::fmt::Write;

use kernel_sim::errno;
use kernel_sim::{Event, Note, TaskId};

use crate::judge::classify::MigrationEnd;
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

/// One row of two aligned traces.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Row {
    /// The same action in both: event indices in the old and new trace.
    Both(usize, usize),
    /// An action only the old trace has.
    Old(usize),
    /// An action only the new trace has.
    New(usize),
}

/// Aligns two traces on their actions (task and label) with a longest
/// common subsequence, in trace order.
pub fn align(a: &[Event], b: &[Event]) -> Vec<Row> {
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
    let mut rows = Vec::with_capacity(n.max(m));
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && key(&a[i]) == key(&b[j]) {
            rows.push(Row::Both(i, j));
            (i, j) = (i + 1, j + 1);
        } else if j == m || (i < n && lcs[at(i + 1, j)] >= lcs[at(i, j + 1)]) {
            rows.push(Row::Old(i));
            i += 1;
        } else {
            rows.push(Row::New(j));
            j += 1;
        }
    }
    rows
}

fn same(a: &Event, b: &Event) -> bool {
    a.effect.to_string() == b.effect.to_string()
}

/// The first row where the traces differ, as event indices in the old and
/// the new trace (either may be missing).
pub fn first_difference(a: &[Event], b: &[Event]) -> Option<(Option<usize>, Option<usize>)> {
    align(a, b).into_iter().find_map(|r| match r {
        Row::Both(i, j) if same(&a[i], &b[j]) => None,
        Row::Both(i, j) => Some((Some(i), Some(j))),
        Row::Old(i) => Some((Some(i), None)),
        Row::New(j) => Some((None, Some(j))),
    })
}

/// Renders both traces merged as swimlanes: the old and new step numbers,
/// a flag, then one column per task. Flags: `-` an action only the old code
/// performs, `+` one only the new code performs, `~` the same action with
/// another effect (shown `old | new`), `>>` the first difference, `!!` a
/// step where a violation was recorded.
pub fn lanes(old: &Outcome, new: &Outcome, tasks: usize) -> String {
    let (a, b) = (&old.trace, &new.trace);
    let bad = |o: &Outcome, i: usize| o.violations.iter().any(|v| v.step as usize == i + 1);
    let mut funcs: Vec<Option<kernel_sim::Func>> = vec![None; tasks];
    let mut first = true;
    let mut rows: Vec<(String, usize, String)> = Vec::new();
    let step = |i: Option<usize>| i.map_or(String::new(), |i| (i + 1).to_string());
    for row in align(a, b) {
        let (i, j, e) = match row {
            Row::Both(i, j) => (Some(i), Some(j), &a[i]),
            Row::Old(i) => (Some(i), None, &a[i]),
            Row::New(j) => (None, Some(j), &b[j]),
        };
        let t = e.task.index();
        if funcs[t] != Some(e.label.func) {
            funcs[t] = Some(e.label.func);
            rows.push((String::new(), t, format!("▸ {}", e.label.func)));
        }
        let (mark, text) = match row {
            Row::Both(i, j) if same(&a[i], &b[j]) => (' ', cell(e)),
            Row::Both(_, j) => ('~', format!("{} | {}", cell(e), b[j].effect)),
            Row::Old(_) => ('-', cell(e)),
            Row::New(_) => ('+', cell(e)),
        };
        let flag = if i.is_some_and(|i| bad(old, i)) || j.is_some_and(|j| bad(new, j)) {
            "!!".to_string()
        } else if mark != ' ' && std::mem::take(&mut first) {
            ">>".to_string()
        } else {
            format!(" {mark}")
        };
        rows.push((format!("{:>5} {:>5} {flag}", step(i), step(j)), t, text));
    }
    let mut width = vec![4usize; tasks];
    for (_, t, c) in &rows {
        width[*t] = width[*t].max(c.chars().count().min(MAX_CELL));
    }
    let mut out = String::new();
    let _ = write!(out, "{:>5} {:>5}    ", "old", "new");
    for (t, w) in width.iter().enumerate() {
        let _ = write!(out, "│ {} ", fit(&TaskId(t as u8).to_string(), *w));
    }
    out.push('\n');
    let _ = write!(out, "{:─>15}", "");
    for w in &width {
        let _ = write!(out, "┼{:─>1$}", "", w + 2);
    }
    out.push('\n');
    for (steps, t, c) in rows {
        let _ = write!(out, "{steps:>14} ");
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
        OpResult::Submit(n) => crate::runner::submitted(*n),
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

/// Where each `aio_migratepage` call of a run returned, per task in order,
/// or `none`.
pub fn return_sites(outcome: &Outcome) -> String {
    let mut per_task: Vec<(TaskId, Vec<&str>)> = Vec::new();
    for note in &outcome.notes {
        if let Note::Migratepage { task, site, .. } = *note {
            let name = site.map_or("unnamed", |s| s.name());
            match per_task.iter_mut().find(|(t, _)| *t == task) {
                Some((_, sites)) => sites.push(name),
                None => per_task.push((task, vec![name])),
            }
        }
    }
    if per_task.is_empty() {
        return "none".into();
    }
    per_task
        .iter()
        .map(|(t, sites)| format!("{t}: {}", runs(sites)))
        .collect::<Vec<_>>()
        .join("; ")
}

/// `a, a, b` as `a (2 times), b`.
fn runs(items: &[&str]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < items.len() {
        let n = items[i..].iter().take_while(|&&x| x == items[i]).count();
        out.push(match n {
            1 => items[i].to_string(),
            n => format!("{} ({n} times)", items[i]),
        });
        i += n;
    }
    out.join(", ")
}

/// Each kioctx's end state in words: freed, or live and whether user space
/// can still reach it (a live one it cannot, `io_destroy` fails on, and
/// only `exit_aio` would free).
pub fn kioctxs(outcome: &Outcome) -> String {
    if outcome.ctxs.is_empty() {
        return "  none\n".into();
    }
    outcome
        .ctxs
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if c.freed {
                return format!("  ctx{i}: freed\n");
            }
            let mapped = if c.mapped { ", ring mapped" } else { "" };
            let reach = if c.reachable {
                ", reachable"
            } else {
                ", UNREACHABLE: lookup_ioctx of its address fails, so io_destroy cannot free \
                 it; only exit_aio would"
            };
            format!("  ctx{i}: live{mapped}{reach}\n")
        })
        .collect()
}

/// Each violation of the run, one per line.
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
