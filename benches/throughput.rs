//! Throughput benchmarks: `cargo bench --bench throughput`.
//!
//! - `run_case` executions per second on one core, uninstrumented, over a
//!   fixed set of cases of up to 4 tasks and 3 pages, with the time per
//!   scheduling step;
//! - the explorer's executions and steps per second on the B1 scenario.
//!
//! Medians of 5 repetitions; results go into BENCHMARKS.md by hand.
//!
//! With `--replay TARGET DIR`, it instead runs the fuzz target TARGET's
//! logic (`aiodiff::fuzzing::differential`, `old_model` or `invariants`)
//! once on each file of DIR, uninstrumented, and stops: the loop a fuzzer
//! runs, for `benches/instrumentation.sh` to count its instructions.
//!
//! With `--passes N`, it instead runs `run_case` over the inputs N times
//! (after the warm-up pass) and stops, for counting instructions: the
//! difference between `--passes 10` and `--passes 0` under
//! `valgrind --tool=cachegrind`, divided by 10 × the inputs it prints, is
//! the instructions per execution, a number the machine's load does not change.

use std::time::{Duration, Instant};

use aiodiff::explore::{explore, ExploreOptions};
use aiodiff::strategy::Rng;
use aiodiff::{bytes, run_case, run_model, text, New, Old, RunOptions};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Inputs: every corpus entry with at most 4 tasks and 3 pages, then
/// decoded random bytes within the same limits, 512 in all.
fn inputs() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/corpus");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("corpus/")
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in files {
        let case = text::parse("c", &std::fs::read_to_string(&f).unwrap()).unwrap();
        if case.scenario.ring_pages <= 3 && case.scenario.total_tasks() <= 4 {
            out.push(bytes::encode(&case).unwrap());
        }
    }
    let mut rng = Rng::new(42);
    while out.len() < 512 {
        let raw: Vec<u8> = (0..48).map(|_| rng.next_u64() as u8).collect();
        let case = bytes::decode(&raw);
        if case.scenario.ring_pages <= 3 && case.scenario.total_tasks() <= 4 {
            out.push(raw);
        }
    }
    out
}

/// Runs fuzz target `target`'s logic once on each file of `dir`.
fn replay(target: &str, dir: &str) {
    let run: fn(&[u8]) = match target {
        "differential" => aiodiff::fuzzing::differential,
        "old_model" => aiodiff::fuzzing::old_model,
        "invariants" => aiodiff::fuzzing::invariants,
        _ => panic!("--replay: no target {target}"),
    };
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("--replay DIR")
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in &files {
        run(&std::fs::read(f).unwrap());
    }
    println!("inputs: {}", files.len());
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--replay") {
        return replay(&args[i + 1], &args[i + 2]);
    }
    let passes = args
        .iter()
        .position(|a| a == "--passes")
        .map(|i| args[i + 1].parse::<usize>().expect("--passes N"));
    let inputs = inputs();
    if let Some(passes) = passes {
        for _ in 0..=passes {
            for data in &inputs {
                std::hint::black_box(run_case(data));
            }
        }
        println!("inputs: {}", inputs.len());
        return;
    }
    let mut steps = 0u64;
    for data in &inputs {
        let case = bytes::decode(data);
        for o in [
            run_model(
                &Old,
                &case.scenario,
                &mut kernel_sim::Segments::new(case.schedule.clone()),
                RunOptions::QUIET,
            ),
            run_model(
                &New,
                &case.scenario,
                &mut kernel_sim::Segments::new(case.schedule.clone()),
                RunOptions::QUIET,
            ),
        ] {
            steps += o.decisions.len() as u64;
        }
    }
    // Warm the skew cache, as a long fuzzing run has.
    for data in &inputs {
        run_case(data);
    }
    let mut rates = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let mut n = 0u64;
        while t.elapsed() < Duration::from_secs(2) {
            for data in &inputs {
                std::hint::black_box(run_case(data));
            }
            n += inputs.len() as u64;
        }
        rates.push(n as f64 / t.elapsed().as_secs_f64());
    }
    let rate = median(rates);
    let per_case = steps as f64 / inputs.len() as f64;
    println!(
        "run_case: {:.0} executions/s (median of 5), {} inputs, {:.0} steps per case (both models), {:.0} ns per step",
        rate,
        inputs.len(),
        per_case,
        1e9 / (rate * per_case)
    );

    let b1 = text::parse(
        "b1",
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/corpus/b1-half-migrated-page.sched"
        ))
        .unwrap(),
    )
    .unwrap();
    let mut execs = Vec::new();
    let mut step_rates = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let e = explore(&Old, &b1.scenario, ExploreOptions::default(), |_, _| {});
        let s = t.elapsed().as_secs_f64();
        execs.push(e.executions as f64 / s);
        step_rates.push(e.steps as f64 / s);
    }
    println!(
        "explore (old model, B1 scenario, K=2): {:.0} executions/s, {:.2}M steps/s (medians of 5)",
        median(execs),
        median(step_rates) / 1e6
    );
}
