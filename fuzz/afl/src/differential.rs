//! The `differential` target for AFL++: see `aiodiff::fuzzing::differential`. Crash files
//! are the same byte format as libFuzzer's.

fn main() {
    afl::fuzz!(|data: &[u8]| aiodiff::fuzzing::differential(data));
}
