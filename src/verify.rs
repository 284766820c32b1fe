//! `aiodiff verify`: explore the catalogue, aggregate the findings, write
//! their witnesses, and state the verdict on the patch.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::case::{Case, Class, Expect};
use crate::catalogue::Entry;
use crate::exhaustive::StateSpace;
use crate::explore::{witness_schedule, Comparison, Tally};
use crate::judge::classify::RefusalTable;
use crate::races::{self, Deciding, Race};
use crate::runner::Outcome;
use crate::sites::{self, SiteReach};
use crate::{judge_case, swimlane, text, New, Old};

/// One finding over the whole catalogue.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Found {
    /// The class.
    pub class: Class,
    /// The signature.
    pub signature: String,
    /// Catalogue scenarios that show it.
    pub scenarios: usize,
    /// The witness file, once written.
    pub witness: Option<PathBuf>,
    /// The catalogue scenario of the shortest witness.
    pub scenario: String,
    /// The model whose schedule the witness replays.
    pub model: String,
    /// The pairs of conflicting events whose order in the witness decides
    /// it ([`crate::races`]).
    pub deciding: Deciding,
    #[serde(skip)]
    case: Case,
    /// Actions the witness runs in its model.
    #[serde(skip)]
    steps: usize,
}

/// What one catalogue scenario took.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ScenarioStats {
    /// Its name.
    pub name: String,
    /// The preemption bounds used, old and new.
    pub preemptions: (u32, u32),
    /// Executions, old and new.
    pub executions: (usize, usize),
    /// Distinct outcomes, old and new.
    pub outcomes: (usize, usize),
    /// Alternatives not run because they exceeded the bound, old and new.
    pub pruned: (u64, u64),
    /// For an exhaustive exploration, the states each version stored.
    pub stored: (Option<StateSpace>, Option<StateSpace>),
    /// Whether a budget cut either exploration short.
    pub incomplete: bool,
    /// Whether the scenario shows a new-only violation or a divergence.
    pub failed: bool,
    /// Wall time in milliseconds.
    pub millis: u128,
}

/// The result of `verify`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Verification {
    /// The races: findings decided by the same pairs of events, the most
    /// scenarios first.
    pub races: Vec<Race>,
    /// Findings, by class then signature.
    pub findings: Vec<Found>,
    /// Per-scenario statistics.
    pub scenarios: Vec<ScenarioStats>,
    /// Each `aio_migratepage` return site of each version: reached, with
    /// its shortest witness, or never.
    pub sites: Vec<SiteReach>,
    /// Every distinct new outcome against the old code under the same
    /// schedule, summed over the catalogue.
    pub tally: Tally,
    /// Total executions (both models).
    pub executions: usize,
    /// Total actions performed.
    pub steps: u64,
    /// Wall time in milliseconds.
    pub millis: u128,
    /// Whether the exit status says the patch is not safe: a new-only
    /// violation or a divergence.
    pub failed: bool,
    /// The execution budget of each exploration.
    pub max_executions: usize,
}

impl Verification {
    /// In how many scenarios the execution budget stopped an exploration
    /// (of either version): where it is not 0, "never" and "none" mean
    /// only "not within what was explored".
    pub fn stopped(&self) -> usize {
        sites::stopped(&self.scenarios)
    }

    /// Whether every exploration ran to its preemption bound.
    pub fn complete(&self) -> bool {
        self.stopped() == 0
    }

    /// How many scenarios the budget stopped, and at what: "3 scenario(s)
    /// stopped at the budget of 1000 executions".
    fn stopped_at(&self) -> String {
        format!(
            "{} scenario(s) stopped at the budget of {} executions",
            self.stopped(),
            self.max_executions
        )
    }

    /// What a line that says something was not found rests on, when the
    /// budget stopped an exploration: "" when every one completed.
    fn within(&self) -> String {
        if self.complete() {
            String::new()
        } else {
            format!(" within the budget ({})", self.stopped_at())
        }
    }
}

/// Explores every catalogue entry on `jobs` threads, each exploration with
/// at most `max_executions` executions, calling `done` after each entry
/// with its name. With `exhaustive`, each entry is first explored with no
/// bound (states stored) within that many executions per version, and
/// keeps that exploration where it completes.
pub fn verify(
    entries: &[Entry],
    table: &RefusalTable,
    jobs: usize,
    max_executions: usize,
    exhaustive: Option<usize>,
    done: &(dyn Fn(&str) + Sync),
) -> Verification {
    let start = Instant::now();
    // Hand out the costliest explorations first, so that no core idles at
    // the end: more tasks, a larger old bound and a larger ring cost more.
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by_key(|&i| {
        let e = &entries[i];
        std::cmp::Reverse((
            e.scenario.total_tasks(),
            e.old_preemptions,
            e.scenario.ring_pages,
        ))
    });
    let mut results: Vec<Option<(Comparison, Duration)>> = vec![None; entries.len()];
    let ran = par_map(&order, jobs, |&i| {
        let e = &entries[i];
        let t = Instant::now();
        let every = exhaustive.map(|budget| e.compare(table, budget, true));
        let c = match every {
            Some(c) if !c.old.incomplete && !c.new.incomplete => c,
            _ => e.compare(table, max_executions, false),
        };
        done(&e.name);
        (c, t.elapsed())
    });
    for (&i, r) in order.iter().zip(ran) {
        results[i] = Some(r);
    }
    let results = results
        .into_iter()
        .map(|r| r.expect("every entry ran"))
        .collect();
    let mut v = from_comparisons(entries, results, max_executions, jobs);
    v.millis = start.elapsed().as_millis();
    v
}

/// `f` of each item, on `jobs` threads that take the items in order; the
/// results in the items' order.
fn par_map<T: Sync, R: Send>(items: &[T], jobs: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let r = f(item);
                results.lock().expect("no panics while holding it")[i] = Some(r);
            });
        }
    });
    results
        .into_inner()
        .expect("threads ended")
        .into_iter()
        .map(|r| r.expect("every item ran"))
        .collect()
}

/// Aggregates the comparisons of `entries` (in the same order).
pub fn from_comparisons(
    entries: &[Entry],
    results: Vec<(Comparison, Duration)>,
    max_executions: usize,
    jobs: usize,
) -> Verification {
    let mut found: BTreeMap<(Class, String), Found> = BTreeMap::new();
    let mut scenarios = Vec::new();
    let mut tally = Tally::default();
    let (mut executions, mut steps) = (0, 0);
    for (e, (c, took)) in entries.iter().zip(&results) {
        tally.add(&c.tally);
        executions += c.old.executions + c.new.executions;
        steps += c.old.steps + c.new.steps;
        scenarios.push(ScenarioStats {
            name: e.name.clone(),
            preemptions: (e.old_preemptions, e.preemptions),
            executions: (c.old.executions, c.new.executions),
            outcomes: (c.old.outcomes.len(), c.new.outcomes.len()),
            pruned: (c.old.pruned, c.new.pruned),
            stored: (c.old.stored, c.new.stored),
            incomplete: c.old.incomplete || c.new.incomplete,
            failed: c
                .findings
                .iter()
                .any(|f| matches!(f.class, Class::NewOnly | Class::Divergence)),
            millis: took.as_millis(),
        });
        for f in &c.findings {
            let witness = || Case {
                scenario: e.scenario.clone(),
                schedule: if f.model == "old" {
                    witness_schedule(&Old, &e.scenario, &f.decisions)
                } else {
                    witness_schedule(&New, &e.scenario, &f.decisions)
                },
                expect: None,
            };
            let entry = found
                .entry((f.class, f.signature.clone()))
                .or_insert_with(|| Found {
                    class: f.class,
                    signature: f.signature.clone(),
                    scenarios: 0,
                    witness: None,
                    scenario: e.name.clone(),
                    model: f.model.to_string(),
                    deciding: Deciding::default(),
                    case: witness(),
                    steps: f.decisions.len(),
                });
            entry.scenarios += 1;
            if f.decisions.len() < entry.steps {
                entry.scenario = e.name.clone();
                entry.model = f.model.to_string();
                entry.case = witness();
                entry.steps = f.decisions.len();
            }
        }
    }
    let mut findings: Vec<Found> = found.into_values().collect();
    let deciding = par_map(&findings, jobs, |f| {
        let (_, violation) = f.signature.split_once(':').unwrap_or_default();
        races::deciding_pairs(&f.model, &f.case.scenario, &f.case.schedule, violation)
    });
    for (f, d) in findings.iter_mut().zip(deciding) {
        f.deciding = d;
    }
    let races = races::group(&findings);
    let failed = findings
        .iter()
        .any(|f| matches!(f.class, Class::NewOnly | Class::Divergence));
    Verification {
        races,
        findings,
        scenarios,
        sites: sites::aggregate(entries, &results.iter().map(|(c, _)| c).collect::<Vec<_>>()),
        tally,
        executions,
        steps,
        millis: results.iter().map(|(_, d)| d.as_millis()).sum(),
        failed,
        max_executions,
    }
}

/// A file name for a signature.
pub fn slug(signature: &str) -> String {
    let mut s: String = signature
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while s.contains("--") {
        s = s.replace("--", "-");
    }
    let s = s.trim_matches('-');
    s.chars().take(80).collect()
}

/// Writes each finding's witness into `dir` as a commented `.sched` with
/// the `expect:` line its replay gives, and records the paths.
pub fn write_witnesses(
    v: &mut Verification,
    dir: &Path,
    table: &RefusalTable,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for f in &mut v.findings {
        let path = dir.join(format!("{}.sched", slug(&f.signature)));
        let mut case = f.case.clone();
        let replay = judge_case(&case, table, false).verdict;
        case.expect = Some(Expect::pinning(replay.class, &replay.signature));
        let mut out = String::new();
        let _ = writeln!(out, "# Finding of `aiodiff verify`: {}", f.signature);
        let _ = writeln!(
            out,
            "# Seen in {} catalogue scenario(s). This is the shortest schedule found,",
            f.scenarios
        );
        let _ = writeln!(out, "# a {} model schedule of: {}", f.model, f.scenario);
        let _ = writeln!(
            out,
            "# Replayed under this label-aligned schedule, both versions give the verdict"
        );
        let _ = writeln!(out, "# below. Show it with: aiodiff run {}", path.display());
        out.push_str(&text::print(&case));
        std::fs::write(&path, out)?;
        f.witness = Some(path);
    }
    v.races = races::group(&v.findings);
    sites::write_witnesses(&mut v.sites, dir, table)
}

/// Whether `signature` (`class:kind@function`) is a violation of kind
/// `kind`: `BUG_ON` is not `VM_BUG_ON`.
fn is_kind(signature: &str, kind: &str) -> bool {
    let detail = signature.split_once(':').map_or(signature, |(_, d)| d);
    detail.split_once('@').is_some_and(|(k, _)| k == kind)
}

/// Whether the patch's new code hits a violation of `kind`: the first such
/// finding, with its witness, or "never".
fn never(v: &Verification, kind: &str) -> String {
    match v
        .findings
        .iter()
        .find(|f| matches!(f.class, Class::NewOnly | Class::Shared) && is_kind(&f.signature, kind))
    {
        None if v.complete() => "never".into(),
        None => format!("not found{}", v.within()),
        Some(f) => format!(
            "YES: {} ({})",
            f.signature,
            f.witness
                .as_ref()
                .map_or(String::new(), |p| p.display().to_string())
        ),
    }
}

/// The verdict table for the terminal.
pub fn summary(v: &Verification, table: &RefusalTable) -> String {
    let hits = &v.tally.rows;
    let mut out = String::new();
    let _ = writeln!(out, "{}\n", scope(v));
    out.push_str(&races_text(&v.races));
    let _ = writeln!(out, "findings:");
    if v.findings.is_empty() {
        let _ = writeln!(out, "  none found{}", v.within());
    }
    let width = v
        .findings
        .iter()
        .map(|f| f.signature.len())
        .max()
        .unwrap_or(9);
    for class in Class::ALL {
        let of: Vec<&Found> = v.findings.iter().filter(|f| f.class == class).collect();
        if of.is_empty() {
            continue;
        }
        let _ = writeln!(out, "  {class} ({} signature(s)):", of.len());
        for f in of {
            let _ = writeln!(
                out,
                "    {:<width$}  {:>2} scenario(s)  {}",
                f.signature,
                f.scenarios,
                f.witness
                    .as_ref()
                    .map_or("-".into(), |p| p.display().to_string())
            );
        }
    }
    let _ = writeln!(
        out,
        "\naio_migratepage return sites, each with the shortest witness found:"
    );
    out.push_str(&sites::table(&v.sites, &v.scenarios));
    let _ = writeln!(out, "\nthe new code hits:");
    let _ = writeln!(out, "  BUG_ON:    {}", never(v, "BUG_ON"));
    let _ = writeln!(out, "  VM_BUG_ON: {}", never(v, "VM_BUG_ON"));
    let _ = writeln!(out, "  NULL ctx:  {}", never(v, "NULL-deref"));
    let t = &v.tally;
    let _ = writeln!(
        out,
        "\ndistinct new outcomes, each against the old code following the order of the new run \
         that reached it:\n  \
         one interleaving: agree {}, allowed refusal {}, divergence {}, with violations {}\n  \
         the old code could not follow: reached under other schedules {}, not reached {}",
        t.agree, t.allowed, t.divergence, t.violation, t.skew, t.unreached
    );
    let _ = writeln!(out, "\nallowed-refusal table:");
    for (i, row) in table.rows.iter().enumerate() {
        let n = hits.get(i).copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "  {:<16} {:<8} {n:>4} hit(s)  {}",
            row.name,
            row.errno_name(),
            row.why
        );
    }
    let _ = writeln!(
        out,
        "\n{} scenarios, {} executions, {} actions, {:.1} s; {}",
        v.scenarios.len(),
        v.executions,
        v.steps,
        v.millis as f64 / 1000.0,
        if v.complete() {
            match bounds(&v.scenarios, None).as_str() {
                "exhaustive" => "every exploration complete".to_string(),
                _ => "every exploration complete up to its preemption bound".to_string(),
            }
        } else {
            v.stopped_at()
        }
    );
    let _ = writeln!(out, "\nverdict: {}", verdict_sentence(v));
    out
}

/// The bounds `model`'s explorations used (both versions' if `None`):
/// `K = 2`, `K = 1-2`, `exhaustive`, or `exhaustive in 3, K = 1-2 in 41`.
pub fn bounds(scenarios: &[ScenarioStats], model: Option<&str>) -> String {
    let versions = |s: &ScenarioStats| match model {
        Some("old") => vec![(s.stored.0.is_some(), s.preemptions.0)],
        Some(_) => vec![(s.stored.1.is_some(), s.preemptions.1)],
        None => vec![
            (s.stored.0.is_some(), s.preemptions.0),
            (s.stored.1.is_some(), s.preemptions.1),
        ],
    };
    let exhaustive = scenarios
        .iter()
        .filter(|s| versions(s).iter().all(|v| v.0))
        .count();
    let ks = scenarios
        .iter()
        .flat_map(versions)
        .filter(|v| !v.0)
        .map(|v| v.1);
    let k = match (ks.clone().min(), ks.max()) {
        (Some(lo), Some(hi)) if lo != hi => format!("K = {lo}-{hi}"),
        (Some(k), _) => format!("K = {k}"),
        _ => String::new(),
    };
    match (exhaustive, scenarios.len() - exhaustive) {
        (0, _) => k,
        (_, 0) => "exhaustive".into(),
        (e, b) => format!("exhaustive in {e}, {k} in {b}"),
    }
}

/// What the run explored, and so what its "never" and "none" mean.
fn scope(v: &Verification) -> String {
    let n = v.scenarios.len();
    let mut s = match bounds(&v.scenarios, None).as_str() {
        "exhaustive" if v.complete() => format!(
            "explored: every schedule of each of {n} scenario(s) (exhaustive: states stored, \
             no preemption bound); \"never\" below means on no schedule at all"
        ),
        "exhaustive" => format!(
            "explored: schedules of each of {n} scenario(s) without a preemption bound \
             (exhaustive: states stored)"
        ),
        b if b.starts_with("exhaustive") => format!(
            "explored: each of {n} scenario(s), on every schedule or on every schedule with at \
             most K preemptions ({b}); \"never\" below means on no schedule within those bounds"
        ),
        b => format!(
            "explored: every schedule with at most K preemptions of each of {n} scenario(s) \
             ({b}); \"never\" below means on no schedule within that bound"
        ),
    };
    if !v.complete() {
        let _ = write!(
            s,
            ". INCOMPLETE: {}, so what they did not find is only \"not found within the \
             budget\"",
            v.stopped_at()
        );
    }
    s
}

/// The races, for the terminal: each with its deciding pairs, the
/// signatures it causes, the versions that have it and a witness.
fn races_text(races: &[Race]) -> String {
    let mut out = String::new();
    if races.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "races (each: the pairs of conflicting events whose order in its witness decides \
         it; flipped, the violation goes away; of the pairs whose later event came between \
         the same two events of the other task, the one whose earlier event came last):"
    );
    for (n, r) in races.iter().enumerate() {
        let _ = writeln!(
            out,
            "  race {}: in {}, {} signature(s); witness {}",
            n + 1,
            r.versions.join(" and "),
            r.signatures.len(),
            r.witness
                .as_ref()
                .map_or("-".into(), |p| p.display().to_string())
        );
        for row in &r.review {
            let _ = writeln!(out, "    matches the review history's {row}");
        }
        for p in &r.shown {
            let _ = writeln!(out, "    {}", p.placed());
        }
        if !r.keeps_results {
            let _ = writeln!(
                out,
                "    (each of these flips also changes an operation's result)"
            );
        } else if !r.preconditions.is_empty() {
            let _ = writeln!(
                out,
                "    (and {} precondition(s): pairs whose flip also changes a result)",
                r.preconditions.len()
            );
        }
        for (sig, k) in &r.signatures {
            let _ = writeln!(out, "    -> {sig} ({k} scenario(s))");
        }
    }
    out.push('\n');
    out
}

/// REPORT.md's races: a paragraph each, beside its witness's swimlanes
/// cut around the step to look at first.
fn races_report(v: &Verification, table: &RefusalTable) -> String {
    let mut out = String::new();
    if v.races.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "## Races\n\nA race is the pairs of conflicting events whose order in a finding's \
         witness decides it: each pair below was flipped in the witness, the rest of the \
         interleaving kept where the code allows, and the violation went away. Findings \
         decided by the same pairs, up to which page of the ring and which task they name, \
         are one race. Each pair is given as its later event, after the earlier one, and \
         where it came among the earlier one's task's events: its window. Of the pairs with \
         one window, the one whose earlier event came last is shown, with a count of the \
         others.\n"
    );
    for (n, r) in v.races.iter().enumerate() {
        let _ = writeln!(out, "### Race {}\n\n{}", n + 1, race_paragraph(r));
        let Some(f) = v.findings.iter().find(|f| f.witness == r.witness) else {
            continue;
        };
        let shown = judge_case(&f.case, table, true);
        let shown = shown.shown();
        let lanes = swimlane::lanes(&shown.old, &shown.new, f.case.scenario.total_tasks());
        let lines: Vec<&str> = lanes.lines().collect();
        let column = usize::from(r.at.0 != "old");
        let at = r.at.1.and_then(|step| {
            lines
                .iter()
                .position(|l| l.split_whitespace().nth(column) == Some(step.to_string().as_str()))
        });
        let at = at.unwrap_or(2);
        let (from, to) = (at.saturating_sub(10).max(2), (at + 10).min(lines.len()));
        let _ = writeln!(out, "```");
        for l in lines.iter().take(2).chain(&lines[from..to]) {
            let _ = writeln!(out, "{l}");
        }
        let _ = writeln!(out, "```\n");
    }
    out
}

/// A race in words: its review-history row, its pairs as they came in the
/// witness, what it shows as, and its witness.
fn race_paragraph(r: &Race) -> String {
    let mut out = String::new();
    if let Some(row) = r.review.first() {
        let _ = write!(out, "This is the review history's {row}");
        for more in &r.review[1..] {
            let _ = write!(out, ", and its {more}");
        }
        out.push_str(". ");
    }
    let _ = writeln!(
        out,
        "In the {} code, the violation needs each of these orders; flip any one in the \
         witness, keep the rest where the code allows, and it goes away{}:\n",
        r.versions.join(" and the "),
        if r.keeps_results {
            ", every operation still returning what it did"
        } else {
            " (each flip also changes what an operation returns)"
        }
    );
    for p in &r.shown {
        let _ = writeln!(out, "- {}", p.placed());
    }
    let sigs: Vec<String> = r
        .signatures
        .iter()
        .map(|(s, k)| format!("`{s}` ({k} scenario(s))"))
        .collect();
    let _ = write!(out, "\nIt shows as {}.", sigs.join(", "));
    if r.keeps_results && !r.preconditions.is_empty() {
        let _ = write!(
            out,
            " Its witness has {} more such pair(s) whose flip also changes what an operation \
             returns (the racing operations then do not meet).",
            r.preconditions.len()
        );
    }
    let _ = writeln!(
        out,
        " Witness: `{}`.",
        r.witness
            .as_ref()
            .map_or("-".into(), |p| p.display().to_string())
    );
    out
}

/// For a leak finding, what the run that shows it says of the reference
/// never dropped.
fn leaked_reference(signature: &str, runs: [&Outcome; 2]) -> Option<String> {
    let (_, sig) = signature.split_once(':')?;
    runs.iter()
        .flat_map(|o| &o.violations)
        .find(|v| v.signature() == sig)
        .and_then(|v| v.leaked)
        .map(|l| l.to_string())
}

fn verdict_sentence(v: &Verification) -> String {
    let count = |c: Class| v.findings.iter().filter(|f| f.class == c).count();
    let (fixed, broken, shared) = (
        count(Class::OldOnly),
        count(Class::NewOnly),
        count(Class::Shared),
    );
    let unreached = v
        .findings
        .iter()
        .filter(|f| f.signature.starts_with("divergence:new-outcome:"))
        .count();
    let aligned = count(Class::Divergence) - unreached;
    let mut s = String::new();
    if !v.complete() {
        let _ = write!(
            s,
            "INCOMPLETE ({}; what follows holds only of what was explored): ",
            v.stopped_at()
        );
    }
    let _ = write!(
        s,
        "the patch fixes {fixed} kind(s) of invariant violation and introduces {broken}; \
         {shared} kind(s) remain in both"
    );
    if aligned > 0 {
        let _ = write!(
            s,
            "; in one interleaving with the old code, the new code differs from it in {aligned} \
             way(s)"
        );
    } else {
        s.push_str(
            "; every new outcome agrees with the old code in one interleaving where the old code \
             can follow it (up to allowed refusals)",
        );
    }
    if unreached > 0 {
        let _ = write!(
            s,
            "; the new code reaches {unreached} outcome(s) the old code never does"
        );
    } else {
        s.push_str(", and is one the old code reaches");
    }
    let _ = write!(s, "; {}", sites::removed_checks(&v.sites, &v.scenarios));
    s
}

/// REPORT.md: the same as the terminal summary, with each witness's
/// swimlanes around the first difference.
pub fn report(v: &Verification, table: &RefusalTable) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# aiodiff verify: \"aio: clean up aio_migratepage() and related code much\"\n"
    );
    let _ = writeln!(
        out,
        "Generated by `cargo run --release -- verify --report REPORT.md`. Both versions of \
         fs/aio.c's ring-page code were explored on every schedule with at most K preemptions \
         (K per scenario below) of each scenario of the built-in catalogue, on a deterministic \
         simulation of the v3.14 kernel. Each distinct new outcome was then run again with the \
         old code following the order of conflicting events of the new run that reached it, \
         so that both are one interleaving, and the two compared. Each finding's witness below \
         shows the two runs its verdict comes from.\n"
    );
    let _ = writeln!(out, "## Verdict\n\n{}.\n", verdict_sentence(v));
    let _ = writeln!(out, "```\n{}```\n", summary(v, table));
    out.push_str(&races_report(v, table));
    let _ = writeln!(out, "## Findings\n");
    for f in &v.findings {
        let path = f
            .witness
            .as_ref()
            .map_or(String::new(), |p| p.display().to_string());
        let _ = writeln!(out, "### `{}`\n", f.signature);
        let _ = writeln!(
            out,
            "Seen in {} scenario(s). Shortest witness: `{path}`, a {} model schedule of `{}`. \
             Replay: `aiodiff run {path}`.\n",
            f.scenarios, f.model, f.scenario
        );
        let judged = judge_case(&f.case, table, true);
        let _ = writeln!(
            out,
            "Under this schedule: {}, {}.\n",
            judged.verdict, judged.verdict.explanation
        );
        let tasks = f.case.scenario.total_tasks();
        let shown = judged.shown();
        if let Some(leaked) = leaked_reference(&f.signature, [&shown.old, &shown.new]) {
            let _ = writeln!(out, "Of the leaked page: {leaked}.\n");
        }
        let lanes = swimlane::lanes(&shown.old, &shown.new, tasks);
        let lines: Vec<&str> = lanes.lines().collect();
        let first = lines
            .iter()
            .position(|l| l.contains(">>") || l.contains("!!"))
            .unwrap_or(2);
        let from = first.saturating_sub(12).max(2);
        let to = (first + 40).min(lines.len());
        let _ = writeln!(out, "```");
        for l in lines.iter().take(2).chain(&lines[from..to]) {
            let _ = writeln!(out, "{l}");
        }
        if to < lines.len() {
            let _ = writeln!(
                out,
                "  ... ({} more rows: aiodiff run {path})",
                lines.len() - to
            );
        }
        let _ = writeln!(out, "```\n");
    }
    let _ = writeln!(out, "## Scenarios\n");
    let _ = writeln!(
        out,
        "| scenario | K (old / new) | executions (old / new) | outcomes (old / new) | time |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|");
    for s in &v.scenarios {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} / {} | {} / {} | {} ms{} |",
            s.name,
            match s.stored {
                (Some(_), Some(_)) => "exhaustive".to_string(),
                _ => format!("{} / {}", s.preemptions.0, s.preemptions.1),
            },
            s.executions.0,
            s.executions.1,
            s.outcomes.0,
            s.outcomes.1,
            s.millis,
            if s.incomplete { " (incomplete)" } else { "" }
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_file_names() {
        assert_eq!(
            slug("old-only:truncate-livelock@truncate_inode_pages_range"),
            "old-only-truncate-livelock-truncate-inode-pages-range"
        );
        assert_eq!(
            slug("shared:use-after-free(page)@lru_add_drain_all"),
            "shared-use-after-free-page-lru-add-drain-all"
        );
    }

    #[test]
    fn a_vm_bug_on_is_not_a_bug_on() {
        assert!(is_kind("shared:BUG_ON@aio_migratepage", "BUG_ON"));
        assert!(!is_kind("new-only:VM_BUG_ON@isolate_lru_page", "BUG_ON"));
        assert!(is_kind("new-only:VM_BUG_ON@isolate_lru_page", "VM_BUG_ON"));
        assert!(!is_kind("new-only:leak(new[0])", "BUG_ON"));
    }
}
