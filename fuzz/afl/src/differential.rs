//! The `differential` target for AFL++: see `aiodiff::fuzzing::differential`. Crash files
//! are the same byte format as libFuzzer's.

mod interleavings;

fn main() {
    interleavings::init();
    afl::fuzz!(|data: &[u8]| aiodiff::fuzzing::differential(data));
}
