//! What the steps explored from a state touched, by task: enough to tell
//! whether any of them would wake a task asleep there.

use std::hash::BuildHasher;

use kernel_sim::exec::MAX_TASKS;
use kernel_sim::{Access, FastMap, Footprint, Obj, TaskId};

/// The objects a search has met, numbered in the order it met them.
#[derive(Debug, Default)]
pub(super) struct Objects(FastMap<Obj, u32>);

impl Objects {
    /// `obj`'s number, giving it the next one if it has none.
    fn number(&mut self, obj: Obj) -> u32 {
        let next = u32::try_from(self.0.len()).expect("fewer than 2^32 objects");
        *self.0.entry(obj).or_insert(next)
    }

    /// `obj`'s number, if it has one.
    fn get(&self, obj: Obj) -> Option<u32> {
        self.0.get(&obj).copied()
    }
}

/// Bits a task's touches of one object take: one per task, so that an
/// object's tasks are one byte of a [`Bits`].
const PER_OBJECT: usize = 8;
const _: () = assert!(MAX_TASKS <= PER_OBJECT);

/// A set of (object, task) pairs, `PER_OBJECT` bits an object, with no
/// trailing zero word (so that equal sets are equal vectors).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
struct Bits(Vec<u64>);

impl Bits {
    fn insert(&mut self, obj: u32, t: TaskId) {
        let bit = obj as usize * PER_OBJECT + t.index();
        if self.0.len() <= bit / 64 {
            self.0.resize(bit / 64 + 1, 0);
        }
        self.0[bit / 64] |= 1 << (bit % 64);
    }

    fn union(&mut self, other: &Bits) {
        if self.0.len() < other.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        for (w, o) in self.0.iter_mut().zip(&other.0) {
            *w |= o;
        }
    }

    /// The tasks that touched `obj`, as a mask.
    fn tasks(&self, obj: u32) -> u8 {
        let bit = obj as usize * PER_OBJECT;
        self.0.get(bit / 64).map_or(0, |w| (w >> (bit % 64)) as u8)
    }
}

/// The objects the steps of part of a search touched, and which tasks'
/// steps read or changed each.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(super) struct Summary {
    /// The objects each task read.
    read: Bits,
    /// The objects each task wrote or added to.
    changed: Bits,
    /// Tasks with a step recorded here, whatever it touched.
    acted: u8,
    /// Tasks with a step that read the state unseen, which conflicts with
    /// every other.
    everything: u8,
    /// Whether steps not recorded here may have followed: a run reached a
    /// state whose visit was under way.
    unknown: bool,
}

impl Summary {
    /// Records a step of `t` that touched `f`.
    pub(super) fn add(&mut self, t: TaskId, f: &Footprint, objects: &mut Objects) {
        self.acted |= 1 << t.0;
        if f.touches_everything() {
            self.everything |= 1 << t.0;
        }
        for touch in f.touches() {
            let obj = objects.number(touch.obj);
            match touch.access {
                Access::Read => self.read.insert(obj, t),
                Access::Write | Access::Add => self.changed.insert(obj, t),
            }
        }
    }

    /// Records everything `other` records.
    pub(super) fn merge(&mut self, other: &Summary) {
        self.read.union(&other.read);
        self.changed.union(&other.changed);
        self.acted |= other.acted;
        self.everything |= other.everything;
        self.unknown |= other.unknown;
    }

    /// Whether a recorded step of a task other than `sleeper` may conflict
    /// with `f`, `sleeper`'s step: it changed what `f` touched, or touched
    /// what `f` changed, or either read the state unseen (as
    /// [`Footprint::conflicts`] has it).
    pub(super) fn wakes(&self, sleeper: TaskId, f: &Footprint, objects: &Objects) -> bool {
        let others = !(1u8 << sleeper.0);
        if self.unknown || self.everything & others != 0 {
            return true;
        }
        if f.touches_everything() {
            return self.acted & others != 0;
        }
        f.touches().iter().any(|t| {
            let Some(obj) = objects.get(t.obj) else {
                return false;
            };
            let touched = match t.access {
                Access::Read => self.changed.tasks(obj),
                Access::Write | Access::Add => self.changed.tasks(obj) | self.read.tasks(obj),
            };
            touched & others != 0
        })
    }
}

/// The distinct summaries of a search, each kept once and named by a
/// number, from [`Summaries::EMPTY`] and [`Summaries::UNKNOWN`], and the
/// objects they number.
#[derive(Debug)]
pub(super) struct Summaries {
    list: Vec<Summary>,
    /// Summaries by hash; a summary whose hash another has is kept again.
    numbers: FastMap<u64, u32>,
    /// The objects the search met.
    pub(super) objects: Objects,
}

impl Default for Summaries {
    fn default() -> Summaries {
        let unknown = Summary {
            unknown: true,
            ..Summary::default()
        };
        let mut summaries = Summaries {
            list: Vec::new(),
            numbers: FastMap::default(),
            objects: Objects::default(),
        };
        summaries.number(Summary::default());
        summaries.number(unknown);
        summaries
    }
}

impl Summaries {
    /// The summary of nothing.
    pub(super) const EMPTY: u32 = 0;
    /// The summary of a continuation nothing is known of.
    pub(super) const UNKNOWN: u32 = 1;

    /// The summary numbered `n`.
    pub(super) fn get(&self, n: u32) -> &Summary {
        &self.list[n as usize]
    }

    /// The number of the union of summary `n` and `more`.
    pub(super) fn union(&mut self, n: u32, more: &Summary) -> u32 {
        let mut union = self.get(n).clone();
        union.merge(more);
        self.number(union)
    }

    fn number(&mut self, summary: Summary) -> u32 {
        let hash = self.numbers.hasher().hash_one(&summary);
        if let Some(&n) = self.numbers.get(&hash) {
            if self.list[n as usize] == summary {
                return n;
            }
        }
        let n = u32::try_from(self.list.len()).expect("fewer than 2^32 distinct summaries");
        self.list.push(summary);
        self.numbers.entry(hash).or_insert(n);
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kernel_sim::Touch;

    fn footprint(touches: &[(Obj, Access)]) -> Footprint {
        touches
            .iter()
            .map(|&(obj, access)| Touch { obj, access })
            .collect()
    }

    const A: TaskId = TaskId(0);
    const B: TaskId = TaskId(1);

    /// A sleeper wakes exactly when some other task's step would not
    /// commute with its own, as `Footprint::conflicts` decides: also a
    /// step that touched nothing, beside one that read the state unseen.
    #[test]
    fn a_sleeper_wakes_as_footprints_conflict() {
        let objs = [Obj::PageCount(0), Obj::PageCount(1), Obj::AioNr];
        let mut steps = vec![Footprint::default(), Footprint::everything()];
        for obj in objs {
            for access in [Access::Read, Access::Write, Access::Add] {
                steps.push(footprint(&[(obj, access)]));
            }
        }
        for mine in &steps {
            for theirs in &steps {
                let mut objects = Objects::default();
                let mut s = Summary::default();
                s.add(B, theirs, &mut objects);
                s.add(A, &steps[1], &mut objects);
                let wakes = s.wakes(A, mine, &objects);
                assert_eq!(wakes, mine.conflicts(theirs), "{mine:?} {theirs:?}");
            }
        }
    }

    /// A set of (object, task) bits tells an object's tasks apart.
    #[test]
    fn bits_by_object_and_task() {
        let mut bits = Bits::default();
        bits.insert(9, A);
        assert_eq!(bits.tasks(9), 1);
        assert_eq!(bits.tasks(8), 0);
        assert_eq!(bits.tasks(1000), 0);
        let mut more = Bits::default();
        more.insert(9, B);
        more.insert(3, A);
        bits.union(&more);
        assert_eq!(bits.tasks(9), 3);
        assert_eq!(bits.tasks(3), 1);
    }

    /// A sleeper's own steps never wake it; merged summaries wake as the
    /// steps of both would; an unknown continuation wakes every sleeper.
    /// Equal unions get one number.
    #[test]
    fn own_steps_merges_and_unknown_continuations() {
        let write = footprint(&[(Obj::AioNr, Access::Write)]);
        let read = footprint(&[(Obj::AioNr, Access::Read)]);
        let mut numbers = Summaries::default();
        let objects = &mut numbers.objects;
        let mut s = Summary::default();
        s.add(A, &write, objects);
        assert!(!s.wakes(A, &read, objects));
        let mut other = Summary::default();
        let add = footprint(&[(Obj::PageCount(3), Access::Add)]);
        other.add(B, &add, objects);
        other.add(B, &read, objects);
        s.merge(&other);
        assert!(s.wakes(A, &write, objects));
        assert!(!s.wakes(A, &read, objects));
        assert!(s.wakes(B, &read, objects));
        let n = numbers.union(Summaries::EMPTY, &other);
        assert_eq!(numbers.union(n, &other), n);
        assert_eq!(numbers.get(n), &other);
        let objects = &numbers.objects;
        assert!(!numbers.get(Summaries::EMPTY).wakes(A, &read, objects));
        s.merge(numbers.get(Summaries::UNKNOWN));
        assert!(s.wakes(A, &read, objects));
    }
}
