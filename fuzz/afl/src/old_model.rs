//! The `old_model` target for AFL++: see `aiodiff::fuzzing::old_model`. Crash files
//! are the same byte format as libFuzzer's.

mod interleavings;

fn main() {
    interleavings::init();
    afl::fuzz!(|data: &[u8]| aiodiff::fuzzing::old_model(data));
}
