//! The fuzz targets' logic, shared by libFuzzer and AFL: each target is a
//! call into this module.
//!
//! A finding panics from a non-inlined function of its own class, with the
//! signature in the message, so that libFuzzer and ClusterFuzz keep findings
//! of different classes apart. Now and then (at execution counts, never at
//! times, so that the code a run covers does not depend on the clock) a
//! run prints the share of executions per verdict class to standard error.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::case::Class;
use crate::runner::RunOptions;
use crate::{bytes, judge_bytes, text, Judge, Judged, RefusalTable, Verdict};

/// Executions per verdict class, in [`Class::ALL`] order.
static COUNTS: [AtomicU64; Class::ALL.len()] = [const { AtomicU64::new(0) }; Class::ALL.len()];

/// Executions so far.
static TOTAL: AtomicU64 = AtomicU64::new(0);

/// Whether the shares are printed after `n` executions: at 4 096 and each
/// power of two after, up to every 262 144. Counts, unlike a clock, keep
/// the code an execution covers a function of the inputs, so that a fuzzer
/// run with a fixed seed is repeatable.
fn print_after(n: u64) -> bool {
    const FIRST: u64 = 1 << 12;
    const EVERY: u64 = 1 << 18;
    (n.is_power_of_two() && n >= FIRST) || n % EVERY == 0
}

fn record(class: Class) {
    let i = Class::ALL
        .iter()
        .position(|&c| c == class)
        .expect("a class");
    COUNTS[i].fetch_add(1, Ordering::Relaxed);
    let n = TOTAL.fetch_add(1, Ordering::Relaxed) + 1;
    if n == 1 {
        // The last line, when the fuzzer ends the process by exit(), as it
        // does at -max_total_time and -runs: what a fork-mode job did.
        // SAFETY: `print_at_exit` is an `extern "C"` function without
        // arguments that does not unwind, as `atexit` requires.
        unsafe { libc::atexit(print_at_exit) };
    }
    if print_after(n) {
        eprintln!("{}", shares());
    }
}

extern "C" fn print_at_exit() {
    eprintln!("{} (at exit)", shares());
}

/// The executions per verdict class so far, with their shares, as one
/// line.
pub fn shares() -> String {
    let counts: Vec<u64> = COUNTS.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    let total: u64 = counts.iter().sum::<u64>().max(1);
    let parts: Vec<String> = Class::ALL
        .iter()
        .zip(&counts)
        .map(|(c, &n)| format!("{c} {n} ({:.1}%)", 100.0 * n as f64 / total as f64))
        .collect();
    format!("aiodiff: {} executions: {}", total, parts.join(", "))
}

#[inline(never)]
#[cold]
fn new_only(v: &Verdict) -> ! {
    panic!(
        "aiodiff new-only violation: {} ({})",
        v.signature, v.explanation
    )
}

#[inline(never)]
#[cold]
fn divergence(v: &Verdict) -> ! {
    panic!("aiodiff divergence: {} ({})", v.signature, v.explanation)
}

#[inline(never)]
#[cold]
fn violation_in_new(signature: &str) -> ! {
    panic!("aiodiff violation in the new code: {signature}")
}

#[inline(never)]
#[cold]
fn violation_in_old(signature: &str) -> ! {
    panic!("aiodiff violation in the old code: {signature}")
}

#[inline(never)]
#[cold]
fn format_bug(what: &str) -> ! {
    panic!("aiodiff format bug: {what}")
}

/// The `differential` target: crashes on new-only violations and on
/// divergences, which the verdict confirmed wherever the old code could not
/// follow the new run; agreement, allowed refusals, skew, old-only and
/// shared violations pass, and so do undecided cases, which with
/// `AIODIFF_UNDECIDED_DIR` set are saved there for triage. In the
/// measurement mode (`AIODIFF_TTF_LOG`) it logs the violations of all four
/// runs the judge made and goes on.
pub fn differential(data: &[u8]) {
    let judged = judge_counting(data);
    let v = &judged.verdict;
    record(v.class);
    if let Some(log) = FindingLog::get() {
        log.record(four_runs_violations(&judged));
        return;
    }
    match v.class {
        Class::NewOnly => new_only(v),
        Class::Divergence => divergence(v),
        Class::Undecided => keep_undecided(data),
        _ => {}
    }
}

/// The signatures of the violations in the judge's four runs: the old
/// code's bare, as `old_model` logs them, the new code's after `new:`, so
/// that a benchmark counts them for the bugs both versions share only.
fn four_runs_violations(judged: &Judged) -> Vec<String> {
    let (forward, reverse) = (&judged.forward, &judged.reverse);
    let old = [&forward.old, &reverse.old].into_iter();
    let new = [&forward.new, &reverse.new].into_iter();
    old.flat_map(|o| o.signatures())
        .chain(new.flat_map(|o| o.signatures()).map(|s| format!("new:{s}")))
        .collect()
}

/// The judge's runs of the decoded case, as [`judge_bytes`] gives them;
/// once a target registered a counter ([`count_interleavings`]), the
/// features of both versions' runs under the case's schedule are counted.
fn judge_counting(data: &[u8]) -> Judged {
    thread_local! {
        static COUNTING: RefCell<Judge> =
            RefCell::new(Judge::new(RefusalTable::default()).counting_interleavings());
    }
    let Some(count) = INTERLEAVINGS.get() else {
        return judge_bytes(data);
    };
    let case = bytes::decode(data);
    let judged = COUNTING.with(|judge| judge.borrow_mut().judge(&case));
    count(&judged.forward.new.interleaving);
    count(&judged.reverse.old.interleaving);
    judged
}

/// Saves an undecided input as `undecided-<hash>` in
/// `AIODIFF_UNDECIDED_DIR`, if it is set. A directory that cannot be
/// written is a setup error, reported once; the run goes on.
fn keep_undecided(data: &[u8]) {
    static DIR: OnceLock<Option<std::path::PathBuf>> = OnceLock::new();
    let Some(dir) = DIR.get_or_init(|| std::env::var_os("AIODIFF_UNDECIDED_DIR").map(Into::into))
    else {
        return;
    };
    let hash = data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let path = dir.join(format!("undecided-{hash:016x}"));
    if let Err(e) = std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&path, data)) {
        static WARNED: std::sync::Once = std::sync::Once::new();
        WARNED.call_once(|| eprintln!("aiodiff: AIODIFF_UNDECIDED_DIR: {}: {e}", path.display()));
    }
}

/// Where the single-model targets' interleaving features go, once a
/// target registered a counter for them ([`count_interleavings`]).
static INTERLEAVINGS: OnceLock<fn(&[u32])> = OnceLock::new();

/// Has every later run of the `differential`, `invariants` and `old_model`
/// targets pass the features of its interleaving ([`kernel_sim::interleaving`]) to
/// `count`, which counts them where the fuzzer sees them (libFuzzer's extra
/// counters, AFL++'s map), so that the fuzzer tells apart interleavings
/// that cover the same code. The first registration holds.
pub fn count_interleavings(count: fn(&[u32])) {
    let _ = INTERLEAVINGS.set(count);
}

/// The signatures of `model`'s violations on the decoded case, in order.
fn violations<M: kernel_sim::AioModel>(model: &M, data: &[u8]) -> Vec<String> {
    let count = INTERLEAVINGS.get();
    let opts = RunOptions {
        interleaving: count.is_some(),
        ..RunOptions::QUIET
    };
    let outcome = crate::recorded::run_keeping(model, data, opts);
    if let Some(count) = count {
        count(&outcome.interleaving);
    }
    outcome.signatures()
}

/// The violation a single-model target reports: the first one, or with
/// the environment variable `AIODIFF_ONLY` set, the first whose signature
/// contains it (a benchmark of the time to one particular finding sets it,
/// e.g. `AIODIFF_ONLY=truncate-livelock` for B1).
fn reported(signatures: Vec<String>) -> Option<String> {
    static ONLY: OnceLock<Option<String>> = OnceLock::new();
    let only = ONLY.get_or_init(|| std::env::var("AIODIFF_ONLY").ok());
    signatures
        .into_iter()
        .find(|s| only.as_ref().is_none_or(|only| s.contains(only.as_str())))
}

/// The fuzz targets' measurement mode, for the time to the first finding
/// of each signature: with `AIODIFF_TTF_LOG=FILE` set, a target does not
/// stop at a violation (nor `differential` at a verdict). It appends
/// `SECONDS<TAB>SIGNATURE<TAB>EXECUTIONS<TAB>SEARCHING` to FILE the first
/// time this process sees a signature and goes on, as a bug canary would.
/// EXECUTIONS counts the target's executions in this process, that one
/// included (where a fuzzer runs many processes, as AFL++ does, one
/// process' only), to tell a fuzzer's search from its speed. SECONDS
/// count from `AIODIFF_TTF_START` (Unix time in seconds: the launch, so
/// that a campaign of many processes, as AFL runs, shares one clock), or
/// else from the end of the process' first execution; SEARCHING counts
/// from the end of the first execution always, leaving out the fuzzer's
/// own start, as `aiodiff hunt`'s clock leaves out its process'.
struct FindingLog {
    file: Mutex<File>,
    start: f64,
    searching: f64,
    seen: Mutex<HashSet<String>>,
    executions: AtomicU64,
}

impl FindingLog {
    fn get() -> Option<&'static FindingLog> {
        static LOG: OnceLock<Option<FindingLog>> = OnceLock::new();
        LOG.get_or_init(|| {
            let path = std::env::var_os("AIODIFF_TTF_LOG")?;
            let file = match OpenOptions::new().create(true).append(true).open(&path) {
                Ok(file) => file,
                Err(e) => {
                    // A setup error, not a finding: no crash input to save.
                    eprintln!("aiodiff: AIODIFF_TTF_LOG={}: {e}", path.to_string_lossy());
                    std::process::exit(2);
                }
            };
            let searching = unix_seconds();
            let start = std::env::var("AIODIFF_TTF_START")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(searching);
            Some(FindingLog {
                file: Mutex::new(file),
                start,
                searching,
                seen: Mutex::new(HashSet::new()),
                executions: AtomicU64::new(0),
            })
        })
        .as_ref()
    }

    /// Counts one execution, and logs the signatures it showed that no
    /// earlier one did.
    fn record(&self, signatures: Vec<String>) {
        let executions = 1 + self.executions.fetch_add(1, Ordering::Relaxed);
        let mut seen = self.seen.lock().expect("not poisoned");
        for s in signatures {
            if seen.insert(s.clone()) {
                let now = unix_seconds();
                let line = log_line(now - self.start, &s, executions, now - self.searching);
                let mut file = self.file.lock().expect("not poisoned");
                file.write_all(line.as_bytes())
                    .expect("AIODIFF_TTF_LOG is writable");
            }
        }
    }
}

/// One line of the finding log, as `benches/ttf.sh` reads it.
fn log_line(seconds: f64, signature: &str, executions: u64, searching: f64) -> String {
    format!("{seconds:.3}\t{signature}\t{executions}\t{searching:.3}\n")
}

fn unix_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is past 1970")
        .as_secs_f64()
}

/// Runs a single-model target: logs its findings in the measurement mode,
/// otherwise returns the one to report.
fn single_model<M: kernel_sim::AioModel>(model: &M, data: &[u8]) -> Option<String> {
    let signatures = violations(model, data);
    match FindingLog::get() {
        Some(log) => {
            log.record(signatures);
            None
        }
        None => reported(signatures),
    }
}

/// The `invariants` target: crashes on any violation of the new code, so
/// that bugs both versions share show too.
pub fn invariants(data: &[u8]) {
    if let Some(s) = single_model(&crate::New, data) {
        violation_in_new(&s);
    }
}

/// The `old_model` target: crashes on any violation of the old code, to
/// measure how fast the bugs the patch fixes are found again.
pub fn old_model(data: &[u8]) {
    if let Some(s) = single_model(&crate::Old, data) {
        violation_in_old(&s);
    }
}

/// The `decode` target: the byte decoder, the printer/parser round trip and
/// the encoder on any bytes, and the text parser on any text. Never panics
/// unless a format is broken.
pub fn decode(data: &[u8]) {
    let case = bytes::decode(data);
    if let Err(e) = case.scenario.validate() {
        format_bug(&format!("decoded an invalid scenario: {e}"));
    }
    let printed = text::print(&case);
    match text::parse("decoded", &printed) {
        Ok(back) if back == case => {}
        Ok(_) => format_bug("print then parse changed the case"),
        Err(e) => format_bug(&format!("the printer wrote what the parser rejects: {e}")),
    }
    if case
        .schedule
        .iter()
        .all(|s| s.until.is_none_or(|(_, n)| n <= bytes::MAX_OCCURRENCE))
    {
        match bytes::encode(&case) {
            Ok(b) if bytes::decode(&b) == case => {}
            Ok(_) => format_bug("encode then decode changed the case"),
            Err(e) => format_bug(&format!("could not encode a decoded case: {e}")),
        }
    }
    let _ = text::parse("fuzz", &String::from_utf8_lossy(data));
}

#[cfg(test)]
mod tests {
    use super::{four_runs_violations, log_line, print_after};
    use crate::runner::{run_model, RunOptions};
    use crate::scenario::Op;
    use kernel_sim::{Replay, TaskId};
    use std::collections::BTreeSet;

    /// Two interleavings of teardown and a migration have features of their
    /// own: the pairs of conflicting labels in their order.
    #[test]
    fn interleavings_of_one_scenario_have_features_of_their_own() {
        let s = crate::explore::tests::scenario(vec![Op::Setup, Op::Destroy]);
        let opts = RunOptions {
            interleaving: true,
            ..RunOptions::QUIET
        };
        let features = |first: Vec<TaskId>| {
            let o = run_model(&crate::Old, &s, &mut Replay::new(first), opts);
            o.interleaving.into_iter().collect::<BTreeSet<u32>>()
        };
        let a_first = features(vec![TaskId(0)]);
        let b_within = features([vec![TaskId(0); 60], vec![TaskId(1); 40]].concat());
        assert!(!a_first.is_empty());
        assert!(!b_within.is_subset(&a_first));
    }

    /// A finding log line has the four fields `benches/ttf.sh` reads:
    /// seconds from the launch, the signature, executions, and seconds of
    /// search.
    #[test]
    fn a_finding_log_line_has_four_fields() {
        let line = log_line(0.25, "leak(new[8])", 362, 0.0504);
        assert_eq!(line, "0.250\tleak(new[8])\t362\t0.050\n");
    }

    /// The measurement mode logs the old code's violations bare and the
    /// new code's after `new:`: a bug of the old code only shows bare, a
    /// shared one both ways.
    #[test]
    fn the_four_runs_log_each_version_apart() {
        let logged = |name: &str| {
            let path = format!("{}/corpus/{name}.sched", env!("CARGO_MANIFEST_DIR"));
            let case = crate::text::parse(name, &std::fs::read_to_string(path).unwrap()).unwrap();
            let judged = crate::judge_case(&case, &crate::RefusalTable::default(), false);
            (
                judged.verdict.signature.clone(),
                four_runs_violations(&judged),
            )
        };
        let (verdict, sigs) = logged("teardown-reads-a-stale-ring-page");
        let bare = verdict.strip_prefix("old-only:").expect("an old-only case");
        assert!(sigs.iter().any(|s| s == bare), "{sigs:?}");
        assert!(!sigs.iter().any(|s| s.starts_with("new:")), "{sigs:?}");
        let (verdict, sigs) = logged("shared-header-write-into-a-page-a-drain-freed");
        let bare = verdict.strip_prefix("shared:").expect("a shared case");
        assert!(sigs.contains(&bare.to_string()), "{sigs:?}");
        assert!(sigs.contains(&format!("new:{bare}")), "{sigs:?}");
    }

    #[test]
    fn the_shares_print_at_counts_not_times() {
        let printed: Vec<u64> = (1..=1 << 20).filter(|&n| print_after(n)).collect();
        assert_eq!(
            printed,
            [4096, 8192, 16384, 32768, 65536, 131072, 262144, 524288, 786432, 1048576]
        );
    }
}
