fn main() {
    let text = std::fs::read_to_string("corpus/b1-half-migrated-page.sched").unwrap();
    let case = aiodiff::text::parse("b1", &text).unwrap();
    let t = std::time::Instant::now();
    let n = 20000;
    let mut steps = 0;
    for _ in 0..n {
        let o = aiodiff::run_model(
            &aiodiff::New,
            &case.scenario,
            &mut kernel_sim::Segments::new(case.schedule.clone()),
            aiodiff::RunOptions::QUIET,
        );
        steps += o.decisions.len();
    }
    let el = t.elapsed();
    println!(
        "{:.2} us/run, {:.1} ns/step",
        el.as_secs_f64() * 1e6 / n as f64,
        el.as_secs_f64() * 1e9 / steps as f64
    );
}
