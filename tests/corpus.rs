//! Replays every entry of corpus/ and every witness `verify` wrote twice:
//! each must meet its `expect:` line, and the two runs, the second with a
//! fresh judge, must give identical traces and verdicts. Every label the
//! traces show must be in the byte format's label table, and the fuzz
//! targets' entry point must give the same verdict on the entry's bytes.

use std::fs;
use std::path::Path;

use aiodiff::{bytes, text, Judge, Judged, RefusalTable};

fn entries(dir: &str) -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sched"))
        .collect();
    files.sort();
    files
}

fn traces(j: &Judged) -> Vec<Vec<kernel_sim::Event>> {
    [&j.forward, &j.reverse]
        .iter()
        .flat_map(|t| [t.old.trace.clone(), t.new.trace.clone()])
        .collect()
}

#[test]
fn every_corpus_entry_and_witness_meets_its_expectation_deterministically() {
    let corpus = entries("corpus");
    assert!(corpus.len() >= 10, "corpus/ holds the reference's cases");
    let witnesses = entries("witnesses");
    assert!(!witnesses.is_empty(), "verify's witnesses are committed");
    let files: Vec<_> = corpus.into_iter().chain(witnesses).collect();
    let table = RefusalTable::default();
    let mut judge = Judge::new(table.clone()).traced();
    let mut failures = Vec::new();
    for file in &files {
        let name = file.display().to_string();
        let case = text::parse(&name, &fs::read_to_string(file).unwrap())
            .unwrap_or_else(|e| panic!("{e}"));
        let expect = case
            .expect
            .clone()
            .unwrap_or_else(|| panic!("{name} has no expect: line"));
        let first = judge.judge(&case);
        let second = Judge::new(table.clone()).traced().judge(&case);
        if !expect.matches(first.verdict.class, &first.verdict.signature) {
            failures.push(format!(
                "{name}: expected {expect}, got {}",
                first.verdict.signature
            ));
        }
        if traces(&first) != traces(&second) {
            failures.push(format!("{name}: traces differ between two runs"));
        }
        if first.verdict != second.verdict {
            failures.push(format!("{name}: verdicts differ between two runs"));
        }
        if let Ok(data) = bytes::encode(&case) {
            let fuzzed = aiodiff::run_case(&data);
            if fuzzed != first.verdict {
                failures.push(format!(
                    "{name}: the fuzz targets' verdict on its bytes is {}, not {}",
                    fuzzed.signature, first.verdict.signature
                ));
            }
        }
        for t in [&first.forward, &first.reverse] {
            for e in t.old.trace.iter().chain(&t.new.trace) {
                if !bytes::LABELS.contains(&(e.label.func, e.label.op)) {
                    failures.push(format!(
                        "{name}: {}:{} is missing from the byte format's label table",
                        e.label.func, e.label.op
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_fuzz_targets_verdict_on_random_bytes_is_the_verdict_of_the_decoded_case() {
    let table = RefusalTable::default();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..300 {
        let len = 8 + (next() % 96) as usize;
        let data: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        let case = bytes::decode(&data);
        let printed = text::print(&case);
        let reparsed = text::parse("decoded", &printed).unwrap();
        let fresh = Judge::new(table.clone()).judge(&reparsed).verdict;
        assert_eq!(aiodiff::run_case(&data), fresh, "{printed}");
    }
}
