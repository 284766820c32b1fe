use aiodiff::explore::*;
fn main() {
    for f in std::env::args().skip(1) {
        let case = aiodiff::text::parse(&f, &std::fs::read_to_string(&f).unwrap()).unwrap();
        for m in 0..2 {
            let t = std::time::Instant::now();
            let e = if m == 0 {
                explore(
                    &aiodiff::Old,
                    &case.scenario,
                    ExploreOptions::default(),
                    |_, _| {},
                )
            } else {
                explore(
                    &aiodiff::New,
                    &case.scenario,
                    ExploreOptions::default(),
                    |_, _| {},
                )
            };
            println!(
                "{f} {}: {} execs, {} steps, {} outcomes, incomplete {} in {:?}",
                e.model,
                e.executions,
                e.steps,
                e.outcomes.len(),
                e.incomplete,
                t.elapsed()
            );
            for k in e.outcomes.keys() {
                if !k.violations.is_empty() {
                    println!("   {:?} {:?}", k.results, k.violations);
                }
            }
        }
    }
}
