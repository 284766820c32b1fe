//! Which `aio_migratepage` return sites each version reaches over a set of
//! explorations, each with its shortest witness, and which it never
//! reaches within the explorations' bounds. The patch deletes checks; this
//! says which of them were dead code in the scenarios explored and which
//! fired.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use kernel_sim::{AioModel, ReturnSite, TaskId};

use crate::case::{Case, Expect};
use crate::catalogue::Entry;
use crate::explore::{witness_schedule, Comparison};
use crate::judge::classify::RefusalTable;
use crate::verify::{slug, ScenarioStats};
use crate::{judge_case, text, New, Old};

/// One return site of one version over the explorations.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SiteReach {
    /// `old` or `new`.
    pub model: &'static str,
    /// The site's name, e.g. `first-check:-EAGAIN`.
    pub site: &'static str,
    /// The site in kernel terms.
    pub meaning: &'static str,
    /// Scenarios in which the version reaches it; 0 for never.
    pub scenarios: usize,
    /// The scenario of the shortest witness.
    pub scenario: Option<String>,
    /// The witness file, once written.
    pub witness: Option<PathBuf>,
    #[serde(skip)]
    case: Option<Case>,
    #[serde(skip)]
    steps: usize,
}

impl SiteReach {
    fn of<M: AioModel>(site: ReturnSite) -> SiteReach {
        SiteReach {
            model: M::NAME,
            site: site.name(),
            meaning: site.describe(),
            scenarios: 0,
            scenario: None,
            witness: None,
            case: None,
            steps: usize::MAX,
        }
    }

    fn reach<M: AioModel>(&mut self, e: &Entry, decisions: &[TaskId], model: &M) {
        self.scenarios += 1;
        if decisions.len() < self.steps {
            self.steps = decisions.len();
            self.scenario = Some(e.name.clone());
            self.case = Some(Case {
                scenario: e.scenario.clone(),
                schedule: witness_schedule(model, &e.scenario, decisions),
                expect: None,
            });
        }
    }
}

/// Every site of both versions, old first, in source order, with what the
/// comparisons of `entries` (in the same order) reached.
pub fn aggregate(entries: &[Entry], comparisons: &[&Comparison]) -> Vec<SiteReach> {
    let mut sites: Vec<SiteReach> = Old::SITES
        .iter()
        .map(|&s| SiteReach::of::<Old>(s))
        .collect();
    let new_sites = New::SITES.iter().map(|&s| SiteReach::of::<New>(s));
    let first_new = sites.len();
    sites.extend(new_sites);
    for (e, c) in entries.iter().zip(comparisons) {
        for (site, decisions) in &c.old.sites {
            if let Some(r) = sites[..first_new]
                .iter_mut()
                .find(|r| r.site == site.name())
            {
                r.reach(e, decisions, &Old);
            }
        }
        for (site, decisions) in &c.new.sites {
            if let Some(r) = sites[first_new..]
                .iter_mut()
                .find(|r| r.site == site.name())
            {
                r.reach(e, decisions, &New);
            }
        }
    }
    sites
}

/// Writes each reached site's witness into `dir` as a commented `.sched`
/// with the `expect:` line its replay gives, and records the paths.
pub fn write_witnesses(
    sites: &mut [SiteReach],
    dir: &Path,
    table: &RefusalTable,
) -> std::io::Result<()> {
    for r in sites {
        let (Some(case), Some(scenario)) = (&r.case, &r.scenario) else {
            continue;
        };
        let path = dir.join(format!("site-{}-{}.sched", r.model, slug(r.site)));
        let mut case = case.clone();
        let replay = judge_case(&case, table, false).verdict;
        case.expect = Some(Expect::pinning(replay.class, &replay.signature));
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# Witness of `aiodiff verify`: the {} code's aio_migratepage returns from {}",
            r.model, r.site
        );
        let _ = writeln!(out, "# ({}).", r.meaning);
        let _ = writeln!(
            out,
            "# Reached in {} catalogue scenario(s); the shortest schedule found, of: {scenario}.",
            r.scenarios
        );
        let _ = writeln!(
            out,
            "# The {} code under this schedule returns from it; the expect: line is the",
            r.model
        );
        let _ = writeln!(
            out,
            "# case's verdict. Show it with: aiodiff run {}",
            path.display()
        );
        out.push_str(&text::print(&case));
        std::fs::write(&path, out)?;
        r.witness = Some(path);
    }
    Ok(())
}

/// The bounds `model`'s explorations used, and how many of them a budget
/// stopped.
fn bounds(model: &str, scenarios: &[ScenarioStats]) -> String {
    let k = crate::verify::bounds(scenarios, Some(model));
    let stopped = stopped(scenarios);
    if stopped == 0 {
        k
    } else {
        format!("{k}, {stopped} scenario(s) stopped by the budget")
    }
}

/// How scenarios explored within `bounds` were explored: `at K = 2`,
/// `exhaustively`, or `(exhaustive in 3, K = 1-2 in 41)`.
fn explored(bounds: &str) -> String {
    match bounds {
        b if b.starts_with("exhaustive in") => format!("({b})"),
        b if b.starts_with("exhaustive") => format!("exhaustively{}", &b["exhaustive".len()..]),
        b => format!("at {b}"),
    }
}

/// Scenarios in which the execution budget stopped an exploration.
pub fn stopped(scenarios: &[ScenarioStats]) -> usize {
    scenarios.iter().filter(|s| s.incomplete).count()
}

/// How a site no exploration reached is described: "never" only when every
/// exploration ran to its bound.
fn unreached(scenarios: &[ScenarioStats]) -> &'static str {
    if stopped(scenarios) == 0 {
        "never"
    } else {
        "not reached within the budget"
    }
}

/// The table of sites for the terminal, one line per site.
pub fn table(sites: &[SiteReach], scenarios: &[ScenarioStats]) -> String {
    let width = sites.iter().map(|r| r.site.len()).max().unwrap_or(0);
    let mut out = String::new();
    for r in sites {
        let seen = match &r.witness {
            _ if r.scenarios == 0 => format!(
                "{}, in {} scenario(s) explored {}",
                unreached(scenarios),
                scenarios.len(),
                explored(&bounds(r.model, scenarios))
            ),
            Some(p) => format!("{:>2} scenario(s)  {}", r.scenarios, p.display()),
            None => format!("{:>2} scenario(s)", r.scenarios),
        };
        let _ = writeln!(out, "  {} {:<width$}  {seen}", r.model, r.site);
    }
    out
}

/// What the verdict says of the checks the patch removes: the old code's
/// sites the new code lacks, which fired and which never did.
pub fn removed_checks(sites: &[SiteReach], scenarios: &[ScenarioStats]) -> String {
    let removed: Vec<&SiteReach> = sites
        .iter()
        .filter(|r| r.model == "old" && !New::SITES.iter().any(|s| s.name() == r.site))
        .collect();
    let names = |fired: bool| -> Vec<&str> {
        removed
            .iter()
            .filter(|r| (r.scenarios > 0) == fired)
            .map(|r| r.site)
            .collect()
    };
    let (fired, dead) = (names(true), names(false));
    let mut s = format!(
        "of the {} return sites the patch removes, {} fired ({})",
        removed.len(),
        fired.len(),
        if fired.is_empty() {
            "-".to_string()
        } else {
            fired.join(", ")
        }
    );
    if !dead.is_empty() {
        let verb = if stopped(scenarios) == 0 {
            "never did"
        } else {
            "were not reached within the budget"
        };
        let _ = write!(
            s,
            " and {} {verb} in the {} scenario(s) explored ({}; {})",
            dead.len(),
            scenarios.len(),
            dead.join(", "),
            bounds("old", scenarios)
        );
    }
    s
}
