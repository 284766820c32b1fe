//! The `old_model` target for AFL++: see `aiodiff::fuzzing::old_model`. Crash files
//! are the same byte format as libFuzzer's.

fn main() {
    afl::fuzz!(|data: &[u8]| aiodiff::fuzzing::old_model(data));
}
