//! The comparison of two outcomes: a verdict class and a stable signature.
//!
//! Violations decide first: one only the new code has is a regression, one
//! only the old code has is a bug the patch fixes. Then the outcomes are
//! compared operation by operation, then the final state of each kioctx: a
//! difference there is a divergence even where both versions hit the same
//! violations, so that a violation the patch leaves in place hides no
//! difference the patch makes. Only without one are the same violations in
//! both shared. A difference is an
//! allowed refusal only when every difference is one a row of the
//! [`RefusalTable`] names, such as a migration the old code refused with an
//! errno the table lists where the new code migrated. Anything else is a
//! divergence. [`crate::judge`] decides what a comparison means for a case.

use std::collections::BTreeSet;
use std::fmt;

use kernel_sim::errno;
use kernel_sim::{MigrateResult, TaskId};

use crate::case::Class;
use crate::runner::{CtxState, OpResult, Outcome};

/// What the new code did where a refusal row lets the old code refuse.
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NewSide {
    /// It migrated the page.
    Migrated,
    /// It did not move the page either, in whatever way.
    NotMoved,
    /// Its pfn walk did not get the page (no page found, a frozen page, or
    /// one it could not isolate), where the old code migrated it.
    Missed,
    /// Both versions migrated the page, one of them after passes that
    /// returned `-EAGAIN`.
    Retried,
}

/// One row of the allowed-refusal table: a migration the old code did not
/// make (refused by `aio_migratepage` with `errno`, or, with no errno, not
/// moved in any way) where the new code did what `new` says; or, for
/// `new: Missed`, one the old code made where the new code's pfn walk
/// missed the page.
#[derive(Clone, PartialEq, Eq, Debug, serde::Serialize)]
pub struct RefusalRow {
    /// The row's name, used in signatures.
    pub name: String,
    /// The errno `aio_migratepage` returned in the old code; `None` for any
    /// way of not moving the page.
    pub errno: Option<i32>,
    /// What the new code did instead.
    pub new: NewSide,
    /// Why this difference is benign.
    pub why: String,
}

impl RefusalRow {
    /// The errno column as people read it.
    pub fn errno_name(&self) -> String {
        self.errno.map_or("any".into(), errno::name)
    }
}

/// The allowed-refusal table, with a hit count per row.
#[derive(Clone, PartialEq, Eq, Debug, serde::Serialize)]
pub struct RefusalTable {
    /// The rows.
    pub rows: Vec<RefusalRow>,
}

impl Default for RefusalTable {
    /// The default table: the old code's `-EAGAIN`, `-EBUSY` and `-EINVAL`
    /// where the new code migrated, and migrations neither version made.
    fn default() -> RefusalTable {
        let row = |name: &str, errno: Option<i32>, new, why: &str| RefusalRow {
            name: name.into(),
            errno,
            new,
            why: why.into(),
        };
        RefusalTable {
            rows: vec![
                row(
                    "eagain",
                    Some(errno::EAGAIN),
                    NewSide::Migrated,
                    "the old aio_migratepage refuses a page whose ring_pages entry changed \
                     (first or second check), or whose count lacks the aio reference that the \
                     old teardown drops before it truncates (reference D2); the migration core \
                     retries, on the generic path once the page is truncated, or gives up, and \
                     the page stays where it was",
                ),
                row(
                    "ebusy",
                    Some(errno::EBUSY),
                    NewSide::Migrated,
                    "the old aio_migratepage refuses when teardown cleared private_data after \
                     the move; the new code cannot get there",
                ),
                row(
                    "einval",
                    Some(errno::EINVAL),
                    NewSide::Migrated,
                    "during aio_setup_ring the old code sets nr_pages only after the page loop, \
                     so its first check refuses a page setup already unlocked; the new code \
                     publishes ring_pages[i] and nr_pages under the page lock and migrates \
                     (reference A1, D1)",
                ),
                row(
                    "not-moved",
                    None,
                    NewSide::NotMoved,
                    "neither version moved the page; whether it was refused (and with which \
                     code, e.g. the old first check after teardown cleared the slot while the \
                     new code refuses the truncated page on the generic path, reference D2), \
                     not found, not isolated or left without a target depends on timing, and \
                     all else is equal",
                ),
                row(
                    "missed",
                    None,
                    NewSide::Missed,
                    "one version's pfn walk did not get the page (not in the page cache yet \
                     or any more, frozen or isolated by a concurrent migration of the same \
                     page, or still in a per-CPU pagevec) where the other migrated it; the \
                     versions take different numbers of steps, so concurrent requests meet \
                     at different moments, and the final state is equal",
                ),
                row(
                    "retried",
                    Some(errno::EAGAIN),
                    NewSide::Retried,
                    "both versions migrated the page, one after passes that returned -EAGAIN \
                     because a reference was held for a moment (a concurrent migration's pfn \
                     walk, a truncate lookup, an extra-ref holder) when its count was checked, \
                     so the migration core tried again; or the old code after -EAGAIN where \
                     teardown's put loop had cleared the ring slot or dropped the aio \
                     reference (reference A2, A3a), then on the generic path once teardown \
                     truncated the page; the versions take different numbers of steps, so \
                     these meet at different moments, and the final state is equal",
                ),
            ],
        }
    }
}

impl RefusalTable {
    /// Adds a row allowing the old code to refuse with `errno` where the new
    /// code migrates (from the command line).
    pub fn allow(&mut self, errno: i32) {
        if self.row_of(Some(errno), NewSide::Migrated).is_none() {
            self.rows.push(RefusalRow {
                name: errno::name(errno).trim_start_matches('-').to_lowercase(),
                errno: Some(errno),
                new: NewSide::Migrated,
                why: "allowed on the command line".into(),
            });
        }
    }

    /// Removes the rows for `errno`.
    pub fn disallow(&mut self, errno: i32) {
        self.rows.retain(|r| r.errno != Some(errno));
    }

    fn row_of(&self, errno: Option<i32>, new: NewSide) -> Option<usize> {
        self.rows
            .iter()
            .position(|r| r.errno == errno && r.new == new)
    }
}

/// The verdict on one case.
#[derive(Clone, PartialEq, Eq, Debug, serde::Serialize)]
pub struct Verdict {
    /// The class.
    pub class: Class,
    /// A stable signature, `class` or `class:detail`, with no spaces or
    /// commas.
    pub signature: String,
    /// Rows of the refusal table this case used; for a divergence, the rows
    /// that allowed differences before the one that is not allowed.
    pub rows_hit: Vec<usize>,
    /// A sentence for people.
    pub explanation: String,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.signature)
    }
}

/// How a migration request ended, as the oracle compares it: whether the
/// page moved, and the distinct codes each path returned.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct MigrationEnd {
    /// What `migrate_pages` and the isolation step returned.
    pub result: MigrateResult,
    /// Distinct `aio_migratepage` codes.
    pub aio: BTreeSet<i32>,
    /// Distinct generic-path codes.
    pub generic: BTreeSet<i32>,
}

impl MigrationEnd {
    pub(crate) fn of(r: &OpResult) -> Option<MigrationEnd> {
        match r {
            OpResult::Migrate {
                result,
                aio,
                generic,
            } => Some(MigrationEnd {
                result: *result,
                aio: aio.iter().copied().collect(),
                generic: generic.iter().copied().collect(),
            }),
            _ => None,
        }
    }

    fn migrated(&self) -> bool {
        self.result == MigrateResult::Migrated(0)
    }

    /// The pfn walk did not get the page.
    fn missed(&self) -> bool {
        matches!(
            self.result,
            MigrateResult::NoPage | MigrateResult::NotIsolated
        )
    }

    /// Refused, by `aio_migratepage` at least once, and otherwise only with
    /// `-EAGAIN` on the generic path (the page was truncated between
    /// passes).
    fn refused_in_aio(&self) -> bool {
        !self.migrated() && !self.aio.is_empty() && self.generic.iter().all(|&c| c == errno::EAGAIN)
    }

    /// This old migration and `new` both migrated, and their codes differ
    /// only by `-EAGAIN`, or the old code finished on the generic path
    /// after `-EAGAIN` in `aio_migratepage` where the new code finished in
    /// `aio_migratepage`.
    fn retried_like(&self, new: &MigrationEnd) -> bool {
        let but_eagain = |s: &BTreeSet<i32>| -> BTreeSet<i32> {
            s.iter().copied().filter(|&c| c != errno::EAGAIN).collect()
        };
        let same = but_eagain(&self.aio) == but_eagain(&new.aio)
            && but_eagain(&self.generic) == but_eagain(&new.generic);
        same || self.truncated_before(new)
    }

    /// Of an old and a new migration that both moved the page: the old
    /// one met only `-EAGAIN` in `aio_migratepage` and moved the page on
    /// the generic path, which a page reaches once truncation cleared its
    /// mapping, where the new one moved it in `aio_migratepage`, meeting
    /// only `-EAGAIN` on the generic path if anything.
    fn truncated_before(&self, new: &MigrationEnd) -> bool {
        let only_eagain = |s: &BTreeSet<i32>| s.iter().all(|&c| c == errno::EAGAIN);
        !self.aio.is_empty()
            && only_eagain(&self.aio)
            && self.generic.contains(&0)
            && new.aio.contains(&0)
            && only_eagain(&new.generic)
    }

    /// The refusal rows that would allow this old migration against `new`,
    /// if some would.
    fn allowed_against(&self, new: &MigrationEnd, table: &RefusalTable) -> Option<Vec<usize>> {
        match (self.migrated(), new.migrated()) {
            (false, true) if self.refused_in_aio() => self
                .aio
                .union(&self.generic)
                .map(|&e| table.row_of(Some(e), NewSide::Migrated))
                .collect(),
            (false, true) if self.missed() => table.row_of(None, NewSide::Missed).map(|r| vec![r]),
            (true, false) if new.missed() => table.row_of(None, NewSide::Missed).map(|r| vec![r]),
            (false, false) => table.row_of(None, NewSide::NotMoved).map(|r| vec![r]),
            (true, true) if self.retried_like(new) => table
                .row_of(Some(errno::EAGAIN), NewSide::Retried)
                .map(|r| vec![r]),
            _ => None,
        }
    }
}

impl fmt::Display for MigrationEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.result {
            MigrateResult::NoPage => return f.write_str("no-page"),
            MigrateResult::NotIsolated => return f.write_str("not-isolated"),
            MigrateResult::Migrated(errno::ENOMEM) => return f.write_str("no-target"),
            MigrateResult::Migrated(0) => f.write_str("migrated")?,
            MigrateResult::Migrated(_) => f.write_str("refused")?,
        }
        let codes: Vec<String> = self
            .aio
            .iter()
            .map(|&c| format!("aio{}", errno::name(c)))
            .chain(
                self.generic
                    .iter()
                    .map(|&c| format!("generic{}", errno::name(c))),
            )
            .collect();
        if codes.is_empty() {
            return f.write_str("(unlocked)");
        }
        write!(f, "({})", codes.join("+"))
    }
}

/// Prints an operation result compactly, for signatures.
fn short(r: &OpResult) -> String {
    match r {
        OpResult::Setup(Ok(_)) => "ok".into(),
        OpResult::Setup(Err(e)) | OpResult::Destroy(e) => errno::name(*e),
        OpResult::Migrate { .. } => MigrationEnd::of(r).expect("a migration").to_string(),
        OpResult::Truncate => "done".into(),
        OpResult::Submit(n) => crate::runner::submitted(*n),
        OpResult::NoContext => "no-context".into(),
    }
}

fn op_name(r: &OpResult) -> &'static str {
    match r {
        OpResult::Setup(_) => "setup",
        OpResult::Migrate { .. } => "migrate",
        OpResult::Truncate => "truncate",
        OpResult::Submit(_) => "submit",
        OpResult::Destroy(_) => "destroy",
        OpResult::NoContext => "no-context",
    }
}

/// A kioctx's final state without page identities: freed, `nr_pages`,
/// mapped, reachable, and each slot's contents.
pub type Contents = (
    bool,
    i64,
    bool,
    bool,
    Vec<Option<[u32; kernel_sim::mm::PAGE_WORDS]>>,
);

/// The final states compared by contents: which page a slot holds (the
/// original or a migration target) is the migration's business, already
/// compared operation by operation.
pub fn contents(ctxs: &[CtxState]) -> Vec<Contents> {
    ctxs.iter()
        .map(|c| {
            (
                c.freed,
                c.nr_pages,
                c.mapped,
                c.reachable,
                c.ring.iter().map(|s| s.map(|(_, d)| d)).collect(),
            )
        })
        .collect()
}

/// A verdict of one of the violation classes, or none when neither
/// outcome broke an invariant.
fn by_violations(old: &Outcome, new: &Outcome) -> Option<Verdict> {
    let (old_sigs, new_sigs) = (old.signatures(), new.signatures());
    let verdict = |class: Class, s: &str, explanation: String| Verdict {
        class,
        signature: format!("{class}:{s}"),
        rows_hit: Vec::new(),
        explanation,
    };
    if let Some(s) = new_sigs.iter().find(|s| !old_sigs.contains(s)) {
        return Some(verdict(
            Class::NewOnly,
            s,
            format!("the new code hits {s}, which the old code does not: a regression"),
        ));
    }
    if let Some(s) = old_sigs.iter().find(|s| !new_sigs.contains(s)) {
        return Some(verdict(
            Class::OldOnly,
            s,
            format!("the old code hits {s} and the new code does not: a bug the patch fixes"),
        ));
    }
    old_sigs.first().map(|s| {
        verdict(
            Class::Shared,
            s,
            format!("both versions hit {s}: a bug the patch leaves in place"),
        )
    })
}

/// The rows of `table` that `old`'s outcome needs to be `new`'s, if it
/// is that up to the table: the same violations, and every difference in
/// results one a row allows (none for the same results). Where both
/// versions hit the same violations, [`classify`] says `shared`, not
/// `allowed-refusal`, for such a pair.
pub fn equal_up_to(old: &Outcome, new: &Outcome, table: &RefusalTable) -> Option<Vec<usize>> {
    if by_violations(old, new).is_some_and(|v| v.class != Class::Shared) {
        return None;
    }
    match first_difference(old, new, table) {
        (None, rows) => Some(rows.into_iter().collect()),
        (Some(_), _) => None,
    }
}

/// The first operation, in task order, that ended differently beyond what
/// `table` allows, as a signature detail and a sentence, and the rows that
/// the allowed differences hit: all of them, since one in a later task may
/// have come first in time.
fn first_difference(
    old: &Outcome,
    new: &Outcome,
    table: &RefusalTable,
) -> (Option<(String, String)>, BTreeSet<usize>) {
    let mut rows_hit = BTreeSet::new();
    let mut first = None;
    for (t, (a, b)) in old.results.iter().zip(&new.results).enumerate() {
        for (i, (ra, rb)) in a.iter().zip(b).enumerate() {
            let task = TaskId(t as u8);
            match (MigrationEnd::of(ra), MigrationEnd::of(rb)) {
                (Some(ea), Some(eb)) if ea == eb => continue,
                (Some(ea), Some(eb)) => {
                    if let Some(rows) = ea.allowed_against(&eb, table) {
                        rows_hit.extend(rows);
                        continue;
                    }
                    if first.is_some() {
                        continue;
                    }
                    let sentence = format!(
                        "task {task}'s migration {} ended {ea} in the old code and {eb} in the new",
                        i + 1
                    );
                    first = Some((format!("migrate:{ea}->{eb}"), sentence));
                }
                _ if ra == rb => continue,
                _ if first.is_some() => continue,
                _ => {
                    let (name, sa, sb) = (op_name(ra), short(ra), short(rb));
                    let sentence = format!(
                        "task {task}'s operation {} ({name}) returned {sa} in the old code and \
                         {sb} in the new",
                        i + 1
                    );
                    first = Some((format!("{name}:{sa}->{sb}"), sentence));
                }
            }
        }
    }
    if first.is_some() {
        return (first, rows_hit);
    }
    if contents(&old.ctxs) != contents(&new.ctxs) {
        let sentence = "every operation returned the same, but the final kioctx state differs";
        return (Some(("final-state".into(), sentence.into())), rows_hit);
    }
    if old.aio_nr != new.aio_nr {
        let sentence = format!(
            "every operation returned the same, but aio_nr ends at {} in the old code and {} in \
             the new",
            old.aio_nr, new.aio_nr
        );
        return (Some(("final-aio_nr".into(), sentence)), rows_hit);
    }
    (None, rows_hit)
}

/// Compares two outcomes of one case: violations only one version has
/// first, then operation results and final state, with the differences
/// `table` allows, then the violations both have.
pub fn classify(old: &Outcome, new: &Outcome, table: &RefusalTable) -> Verdict {
    let violations = by_violations(old, new);
    if let Some(v) = violations.as_ref().filter(|v| v.class != Class::Shared) {
        return v.clone();
    }
    let (difference, rows_hit) = first_difference(old, new, table);
    if let (None, Some(shared)) = (&difference, violations) {
        return shared;
    }
    match difference {
        Some((detail, mut explanation)) => {
            if let Some(s) = old.signatures().first() {
                explanation.push_str(&format!(" (both versions also hit {s})"));
            }
            Verdict {
                class: Class::Divergence,
                signature: format!("divergence:{detail}"),
                rows_hit: rows_hit.into_iter().collect(),
                explanation,
            }
        }
        None if rows_hit.is_empty() => Verdict {
            class: Class::Agree,
            signature: "agree".into(),
            rows_hit: Vec::new(),
            explanation: "both versions did the same".into(),
        },
        None => {
            let rows: Vec<usize> = rows_hit.into_iter().collect();
            let names: Vec<&str> = rows.iter().map(|&r| table.rows[r].name.as_str()).collect();
            Verdict {
                class: Class::AllowedRefusal,
                signature: format!("allowed-refusal:{}", names.join("+")),
                explanation: format!(
                    "the migrations differ only in ways the refusal table allows ({}); all else \
                     is equal",
                    names.join(", ")
                ),
                rows_hit: rows,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kernel_sim::violation::{Violation, ViolationKind};
    use kernel_sim::{Func, Label, OpKind, PageRole};

    fn outcome(model: &'static str, migrate: OpResult) -> Outcome {
        Outcome::with_results(
            model,
            vec![vec![OpResult::Setup(Ok(0x1000))], vec![migrate]],
        )
    }

    fn migrated() -> OpResult {
        OpResult::Migrate {
            result: MigrateResult::Migrated(0),
            aio: vec![0],
            generic: vec![],
        }
    }

    fn refused(codes: &[i32]) -> OpResult {
        OpResult::Migrate {
            result: MigrateResult::Migrated(1),
            aio: codes.to_vec(),
            generic: vec![],
        }
    }

    fn violation(kind: ViolationKind, func: Func) -> Violation {
        Violation {
            kind,
            task: Some(TaskId(1)),
            label: Some(Label {
                func,
                op: OpKind::BugOn,
                arg: kernel_sim::Arg::None,
            }),
            step: 7,
            leaked: None,
        }
    }

    #[test]
    fn refusals_in_the_table_are_allowed_and_counted_per_row() {
        let table = RefusalTable::default();
        let old = outcome(
            "old",
            refused(&[errno::EAGAIN, errno::EBUSY, errno::EAGAIN]),
        );
        let new = outcome("new", migrated());
        let v = classify(&old, &new, &table);
        assert_eq!(v.class, Class::AllowedRefusal);
        assert_eq!(v.signature, "allowed-refusal:eagain+ebusy");
        assert_eq!(v.rows_hit, [0, 1]);

        let mut narrow = RefusalTable::default();
        narrow.disallow(errno::EBUSY);
        let v = classify(&old, &new, &narrow);
        assert_eq!(v.class, Class::Divergence);
        assert_eq!(
            v.signature,
            "divergence:migrate:refused(aio-EBUSY+aio-EAGAIN)->migrated(aio0)"
        );
    }

    #[test]
    fn a_refusal_the_new_code_also_makes_is_agreement_and_the_reverse_is_a_divergence() {
        let table = RefusalTable::default();
        let v = classify(
            &outcome("old", refused(&[errno::EAGAIN])),
            &outcome("new", refused(&[errno::EAGAIN])),
            &table,
        );
        assert_eq!(v.class, Class::Agree);
        let v = classify(
            &outcome("old", migrated()),
            &outcome("new", refused(&[errno::EAGAIN])),
            &table,
        );
        assert_eq!(v.class, Class::Divergence);
        assert_eq!(
            v.signature,
            "divergence:migrate:migrated(aio0)->refused(aio-EAGAIN)"
        );
    }

    #[test]
    fn violations_decide_first() {
        let table = RefusalTable::default();
        let bug = violation(ViolationKind::BugOn, Func::AioMigratepage);
        let livelock = violation(
            ViolationKind::TruncateLivelock,
            Func::TruncateInodePagesRange,
        );
        let mut old = outcome("old", migrated());
        let mut new = outcome("new", refused(&[errno::EAGAIN]));
        new.violations.push(bug);
        let v = classify(&old, &new, &table);
        assert_eq!(
            (v.class, v.signature.as_str()),
            (Class::NewOnly, "new-only:BUG_ON@aio_migratepage")
        );
        old.violations.push(livelock);
        let v = classify(&old, &new, &table);
        assert_eq!(v.class, Class::NewOnly, "a regression outranks a fix");
        new.violations.push(livelock);
        old.violations.push(bug);
        let v = classify(&old, &new, &table);
        assert_eq!(
            (v.class, v.signature.as_str()),
            (
                Class::Divergence,
                "divergence:migrate:migrated(aio0)->refused(aio-EAGAIN)"
            ),
            "a difference beside shared violations is not hidden by them"
        );
        new.results = old.results.clone();
        let v = classify(&old, &new, &table);
        assert_eq!(
            (v.class, v.signature.as_str()),
            (
                Class::Shared,
                "shared:truncate-livelock@truncate_inode_pages_range"
            )
        );
    }

    #[test]
    fn a_leak_of_another_page_is_not_the_same_leak() {
        let table = RefusalTable::default();
        let leak = |role, idx| Violation {
            kind: ViolationKind::PageLeak(role, idx),
            task: None,
            label: None,
            step: 9,
            leaked: None,
        };
        let mut old = outcome("old", migrated());
        let mut new = outcome("new", migrated());
        old.violations.push(leak(PageRole::Ring, 0));
        new.violations.push(leak(PageRole::New, 0));
        let v = classify(&old, &new, &table);
        assert_eq!(
            (v.class, v.signature.as_str()),
            (Class::NewOnly, "new-only:leak(new[0])")
        );
        new.violations[0] = leak(PageRole::Ring, 0);
        assert_eq!(classify(&old, &new, &table).class, Class::Shared);
    }

    /// With the same violations in both, an outcome equal up to the table
    /// is one the old code reaches, though the comparison says shared.
    #[test]
    fn the_same_violations_and_allowed_differences_are_equal_up_to_the_table() {
        let table = RefusalTable::default();
        let bug = violation(ViolationKind::BugOn, Func::AioSetupRing);
        let mut old = outcome("old", refused(&[errno::EAGAIN]));
        let mut new = outcome("new", migrated());
        old.violations.push(bug);
        new.violations.push(bug);
        assert_eq!(classify(&old, &new, &table).class, Class::Shared);
        let eagain = table.row_of(Some(errno::EAGAIN), NewSide::Migrated);
        assert_eq!(equal_up_to(&old, &new, &table), eagain.map(|r| vec![r]));
        old.results = new.results.clone();
        assert_eq!(equal_up_to(&old, &new, &table), Some(Vec::new()));
        old.violations.clear();
        assert_eq!(equal_up_to(&old, &new, &table), None);
    }

    #[test]
    fn a_migration_that_needed_another_pass_is_a_retry() {
        let table = RefusalTable::default();
        let after = |codes: &[i32]| OpResult::Migrate {
            result: MigrateResult::Migrated(0),
            aio: codes.to_vec(),
            generic: vec![],
        };
        let old = outcome("old", migrated());
        let new = outcome("new", after(&[errno::EAGAIN, 0]));
        let v = classify(&old, &new, &table);
        assert_eq!(v.signature, "allowed-refusal:retried");
        let v = classify(&new, &old, &table);
        assert_eq!(v.signature, "allowed-refusal:retried");
        let new = outcome("new", after(&[errno::EBUSY, 0]));
        assert_eq!(classify(&old, &new, &table).class, Class::Divergence);
    }

    /// Teardown truncated the page between the old code's passes: it met
    /// `-EAGAIN` in `aio_migratepage` (reference A2, A3a), then moved the
    /// page on the generic path, where the new code moved it at once. Not
    /// the other way round: a new refusal is what the table never allows.
    #[test]
    fn an_old_migration_that_ended_on_the_generic_path_after_truncation_is_a_retry() {
        let table = RefusalTable::default();
        let moved = |aio: &[i32], generic: &[i32]| OpResult::Migrate {
            result: MigrateResult::Migrated(0),
            aio: aio.to_vec(),
            generic: generic.to_vec(),
        };
        let new = outcome("new", migrated());
        let old = outcome("old", moved(&[errno::EAGAIN], &[0]));
        assert_eq!(
            classify(&old, &new, &table).signature,
            "allowed-refusal:retried"
        );
        assert_eq!(classify(&new, &old, &table).class, Class::Divergence);
        let generic_at_once = outcome("old", moved(&[], &[0]));
        assert_eq!(
            classify(&generic_at_once, &new, &table).class,
            Class::Divergence
        );
        let refused_otherwise = outcome("old", moved(&[errno::EBUSY], &[0]));
        assert_eq!(
            classify(&refused_otherwise, &new, &table).class,
            Class::Divergence
        );
    }

    #[test]
    fn an_aio_refusal_that_ends_on_the_generic_path_is_an_eagain_refusal() {
        let table = RefusalTable::default();
        let truncated_meanwhile = |generic: &[i32]| OpResult::Migrate {
            result: MigrateResult::Migrated(1),
            aio: vec![errno::EAGAIN],
            generic: generic.to_vec(),
        };
        let new = outcome("new", migrated());
        let old = outcome("old", truncated_meanwhile(&[errno::EAGAIN]));
        assert_eq!(
            classify(&old, &new, &table).signature,
            "allowed-refusal:eagain"
        );
        // Without an aio_migratepage refusal, or with a generic code other
        // than -EAGAIN, it is not.
        let generic_only = OpResult::Migrate {
            result: MigrateResult::Migrated(1),
            aio: vec![],
            generic: vec![errno::EAGAIN],
        };
        let old = outcome("old", generic_only);
        assert_eq!(classify(&old, &new, &table).class, Class::Divergence);
        let old = outcome("old", truncated_meanwhile(&[errno::EBUSY]));
        assert_eq!(classify(&old, &new, &table).class, Class::Divergence);
    }

    #[test]
    fn other_operations_and_the_final_state_are_compared_too() {
        let table = RefusalTable::default();
        let old = outcome("old", migrated());
        let mut new = outcome("new", migrated());
        new.results[0][0] = OpResult::Setup(Err(errno::ENOMEM));
        assert_eq!(
            classify(&old, &new, &table).signature,
            "divergence:setup:ok->-ENOMEM"
        );
        let mut new = outcome("new", migrated());
        new.ctxs.push(CtxState {
            freed: true,
            nr_pages: 1,
            mapped: false,
            reachable: false,
            ring: vec![None],
        });
        assert_eq!(
            classify(&old, &new, &table).signature,
            "divergence:final-state"
        );
        let mut new = outcome("new", migrated());
        new.aio_nr = 32;
        assert_eq!(
            classify(&old, &new, &table).signature,
            "divergence:final-aio_nr"
        );
    }

    #[test]
    fn a_ring_left_mapped_is_a_different_final_state() {
        let table = RefusalTable::default();
        let state = |mapped| CtxState {
            freed: true,
            nr_pages: 0,
            mapped,
            reachable: false,
            ring: Vec::new(),
        };
        let (mut old, mut new) = (outcome("old", migrated()), outcome("new", migrated()));
        old.ctxs.push(state(false));
        new.ctxs.push(state(true));
        assert_eq!(
            classify(&old, &new, &table).signature,
            "divergence:final-state"
        );
    }
}
