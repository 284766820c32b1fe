//! AFL++'s coverage map, counted with each run's interleaving features
//! (`aiodiff::fuzzing::count_interleavings`), so that AFL++ keeps an input
//! that interleaves the tasks in a new way even where it covers no new
//! code. On when `AIODIFF_INTERLEAVINGS` is set.
//!
//! AFL++ has no region of its own for such features: they are hashed onto
//! the whole map, beside the edges, as its own edge hashes are.

extern "C" {
    /// The shared coverage map, set up by AFL++'s runtime before `main`.
    static __afl_area_ptr: *mut u8;
    /// Its size in bytes.
    static __afl_map_size: u32;
}

fn count(features: &[u32]) {
    // SAFETY: the runtime sets both before `main` and keeps them for the
    // life of the process; the map is `__afl_map_size` bytes, and this
    // process writes it from one thread, as the instrumentation does.
    unsafe {
        let (map, size) = (__afl_area_ptr, __afl_map_size as usize);
        if map.is_null() || size == 0 {
            return;
        }
        for &f in features {
            let c = map.add(f as usize % size);
            *c = (*c).saturating_add(1);
        }
    }
}

/// Registers the map with the targets, if `AIODIFF_INTERLEAVINGS` is set.
pub fn init() {
    if std::env::var_os("AIODIFF_INTERLEAVINGS").is_some() {
        aiodiff::fuzzing::count_interleavings(count);
    }
}
