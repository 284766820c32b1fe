//! How far one mutation of a fuzzer input reaches in the case it decodes
//! to: `cargo bench --bench mutability -- DIR`, over the inputs of DIR (a
//! fuzz target's grown corpus, say).
//!
//! For each input, 50 mutations of each of libFuzzer's three basic kinds
//! (change a byte, insert one, erase one) at a random place. Prints, per
//! kind, how often the scenario and the schedule come out unchanged, and,
//! where a segment changed, how many of the segments after it changed too:
//! a format whose later segments keep their meaning when an earlier one is
//! edited keeps that share low.

use aiodiff::bytes;
use aiodiff::strategy::Rng;

/// Tallies over one kind of mutation.
#[derive(Default)]
struct Reach {
    mutations: u64,
    same_scenario: u64,
    same_schedule: u64,
    later_segments: u64,
    later_changed: u64,
}

impl Reach {
    fn add(&mut self, before: &[u8], after: &[u8]) {
        let (a, b) = (bytes::decode(before), bytes::decode(after));
        self.mutations += 1;
        self.same_scenario += u64::from(a.scenario == b.scenario);
        self.same_schedule += u64::from(a.schedule == b.schedule);
        let pairs = || a.schedule.iter().zip(&b.schedule);
        if let Some(first) = pairs().position(|(x, y)| x != y) {
            let later = pairs().skip(first + 1);
            self.later_segments += later.clone().count() as u64;
            self.later_changed += later.filter(|(x, y)| x != y).count() as u64;
        }
    }

    fn print(&self, kind: &str) {
        let pct = |n: u64, of: u64| 100.0 * n as f64 / of.max(1) as f64;
        println!(
            "{kind}: {} mutations; scenario unchanged {:.1}%, schedule unchanged {:.1}%; \
             segments after the first changed one: {:.1}% changed too",
            self.mutations,
            pct(self.same_scenario, self.mutations),
            pct(self.same_schedule, self.mutations),
            pct(self.later_changed, self.later_segments),
        );
    }
}

fn main() {
    let dir = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .expect("usage: cargo bench --bench mutability -- DIR");
    let inputs: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .expect("DIR")
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .filter(|d| !d.is_empty())
        .collect();
    let mut rng = Rng::new(1);
    let kinds = ["change a byte", "insert a byte", "erase a byte"];
    let mut reach: Vec<Reach> = kinds.iter().map(|_| Reach::default()).collect();
    for input in &inputs {
        for _ in 0..50 {
            for (k, r) in reach.iter_mut().enumerate() {
                let mut m = input.clone();
                let at = rng.next_u64() as usize % m.len();
                match k {
                    0 => m[at] = rng.next_u64() as u8,
                    1 => m.insert(at, rng.next_u64() as u8),
                    _ => {
                        m.remove(at);
                    }
                }
                r.add(input, &m);
            }
        }
    }
    println!("{dir}: {} inputs", inputs.len());
    for (kind, r) in kinds.iter().zip(&reach) {
        r.print(kind);
    }
}
