//! How the judge decides, and what it costs: `cargo bench --bench judge`.
//!
//! Generates cases as `hunt` does (scenarios from random bytes, up to eight
//! tasks; schedules from a random walk or PCT on one model, alternately, as
//! label-aligned segments), judges each with one judge per strategy, as a
//! fuzz target's process does, and prints:
//! - how often each direction of the transplant was followed;
//! - the verdict classes, with the share of undecided cases;
//! - what decided them: the direct comparison of one interleaving (either
//!   direction), the old code's nearest run where it could not follow, the
//!   search of nearby schedules, the scenario's exploration, or the
//!   confirmation on a minimised case;
//! - the judging time per case: median, 99th percentile, worst.
//!
//! `--cases N` sets how many cases to generate per strategy (default
//! 20 000); `--seed S` the seed. `--corpus DIR` judges the fuzzer inputs
//! of DIR instead (a grown `differential` corpus, say), in file-name order,
//! and adds the time each way of deciding took.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aiodiff::explore::witness_schedule;
use aiodiff::strategy::{Pct, RandomWalk, Rng};
use aiodiff::{bytes, run_model, Case, Judge, New, Old, RefusalTable, RunOptions};
use kernel_sim::Scheduler;

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .map_or(default, |i| args[i + 1].parse().expect("a number"))
}

/// A case as `hunt` makes them: the `n`th of a strategy's run.
fn generate(rng: &mut Rng, strategy: &str, n: u64) -> Case {
    let raw: Vec<u8> = (0..48).map(|_| rng.next_u64() as u8).collect();
    let scenario = bytes::decode(&raw).scenario;
    let run_seed = rng.next_u64();
    let mut sched: Box<dyn Scheduler> = match strategy {
        "random" => Box::new(RandomWalk::new(run_seed)),
        _ => Box::new(Pct::new(run_seed, 3, 400)),
    };
    let schedule = if n % 2 == 0 {
        let o = run_model(&New, &scenario, sched.as_mut(), RunOptions::QUIET);
        witness_schedule(&New, &scenario, &o.decisions)
    } else {
        let o = run_model(&Old, &scenario, sched.as_mut(), RunOptions::QUIET);
        witness_schedule(&Old, &scenario, &o.decisions)
    };
    Case {
        scenario,
        schedule,
        expect: None,
    }
}

/// What decided a verdict, from the phrases its explanation is made of.
fn decided_by(judged: &aiodiff::Judged) -> &'static str {
    let e = &judged.verdict.explanation;
    if e.contains("minimised (") {
        "confirmation on a minimised case"
    } else if e.contains("under another schedule with at most") {
        "the scenario's exploration"
    } else if e.contains("under the schedule `") && !e.contains("as far as it could") {
        "a nearby schedule"
    } else if e.contains("as far as it could") {
        "the old code's nearest run"
    } else if judged.shown().alignment.followed() {
        "one interleaving"
    } else {
        "the old code's run, unaligned"
    }
}

/// Judges `cases` with one judge, as a fuzz target's process does, and
/// prints what decided them and what it cost.
fn report(name: &str, cases: impl Iterator<Item = Case>) {
    let mut judge = Judge::new(RefusalTable::default());
    let mut classes: BTreeMap<String, u64> = BTreeMap::new();
    let mut decided: BTreeMap<&str, (u64, Duration)> = BTreeMap::new();
    let (mut forward, mut reverse) = (0u64, 0u64);
    let mut times = Vec::new();
    for case in cases {
        let t = Instant::now();
        let judged = judge.judge(&case);
        let took = t.elapsed();
        times.push((took, judged.verdict.signature.clone()));
        *classes.entry(judged.verdict.class.to_string()).or_default() += 1;
        let by = decided.entry(decided_by(&judged)).or_default();
        *by = (by.0 + 1, by.1 + took);
        forward += u64::from(judged.forward.alignment.followed());
        reverse += u64::from(judged.reverse.alignment.followed());
    }
    let cases = times.len() as u64;
    assert!(cases > 0, "no cases to judge");
    times.sort();
    let total: Duration = times.iter().map(|(d, _)| *d).sum();
    let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize].0;
    let share = |x: u64| format!("{:.2}%", 100.0 * x as f64 / cases as f64);
    println!("{name}: {cases} cases judged in {total:.2?}");
    println!(
        "  followed: forward {} ({}), reverse {} ({})",
        forward,
        share(forward),
        reverse,
        share(reverse)
    );
    for (class, n) in &classes {
        println!("  {class:<16} {n:>6}  {}", share(*n));
    }
    for (how, (n, took)) in &decided {
        println!(
            "  decided by {how:<34} {n:>6}  {}, {took:.2?} ({:.1}% of the time)",
            share(*n),
            100.0 * took.as_secs_f64() / total.as_secs_f64()
        );
    }
    let worst = times.last().expect("some cases");
    println!(
        "  time per case: median {:.2?}, 99th percentile {:.2?}, worst {:.2?} ({})",
        at(0.5),
        at(0.99),
        worst.0,
        worst.1
    );
}

/// The fuzzer inputs in `dir`, decoded, in file-name order.
fn corpus(dir: &str) -> impl Iterator<Item = Case> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    files.sort();
    files.into_iter().map(|f| {
        let data = std::fs::read(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        bytes::decode(&data)
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--corpus") {
        let dir = args.get(i + 1).expect("--corpus DIR");
        report(dir, corpus(dir));
        return;
    }
    let cases = arg("--cases", 20_000);
    let seed = arg("--seed", 7);
    for strategy in ["random", "pct"] {
        let mut rng = Rng::new(seed);
        report(
            strategy,
            (0..cases).map(|n| generate(&mut rng, strategy, n)),
        );
    }
}
