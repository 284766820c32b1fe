//! What the steps explored from a state touched, by task: enough to tell
//! whether any of them would wake a task asleep there.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use kernel_sim::history::FastHasher;

use kernel_sim::{Access, Footprint, Obj, TaskId};

/// The objects the steps of part of a search touched, and which tasks'
/// steps read or changed each.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(super) struct Summary {
    /// Objects, sorted, each with the tasks that read it and the tasks
    /// that changed it, as bit masks.
    objects: Vec<(Obj, u16, u16)>,
    /// Tasks with a step that read the state unseen, which conflicts with
    /// every other.
    everything: u16,
    /// Whether steps not recorded here may have followed: a run reached a
    /// state explored before, from elsewhere.
    unknown: bool,
}

impl Summary {
    /// Records a step of `t` that touched `f`.
    pub(super) fn add(&mut self, t: TaskId, f: &Footprint) {
        let bit = 1u16 << t.0;
        if f.touches_everything() {
            self.everything |= bit;
        }
        for touch in f.touches() {
            let i = match self.objects.binary_search_by(|e| e.0.cmp(&touch.obj)) {
                Ok(i) => i,
                Err(i) => {
                    self.objects.insert(i, (touch.obj, 0, 0));
                    i
                }
            };
            match touch.access {
                Access::Read => self.objects[i].1 |= bit,
                Access::Write | Access::Add => self.objects[i].2 |= bit,
            }
        }
    }

    /// Records everything `other` records.
    pub(super) fn merge(&mut self, other: &Summary) {
        self.everything |= other.everything;
        self.unknown |= other.unknown;
        if other.objects.is_empty() {
            return;
        }
        let (a, b) = (&self.objects, &other.objects);
        let mut merged = Vec::with_capacity(a.len() + b.len());
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            match a[i].0.cmp(&b[j].0) {
                Ordering::Less => {
                    merged.push(a[i]);
                    i += 1;
                }
                Ordering::Greater => {
                    merged.push(b[j]);
                    j += 1;
                }
                Ordering::Equal => {
                    merged.push((a[i].0, a[i].1 | b[j].1, a[i].2 | b[j].2));
                    i += 1;
                    j += 1;
                }
            }
        }
        merged.extend_from_slice(&a[i..]);
        merged.extend_from_slice(&b[j..]);
        self.objects = merged;
    }

    /// Whether a recorded step of a task other than `sleeper` may conflict
    /// with `f`, `sleeper`'s step: it changed what `f` touched, or touched
    /// what `f` changed (as [`Footprint::conflicts`] has it).
    pub(super) fn wakes(&self, sleeper: TaskId, f: &Footprint) -> bool {
        let others = !(1u16 << sleeper.0);
        if self.unknown || self.everything & others != 0 {
            return true;
        }
        if f.touches_everything() {
            return self.objects.iter().any(|e| (e.1 | e.2) & others != 0);
        }
        f.touches().iter().any(|t| {
            let Ok(i) = self.objects.binary_search_by(|e| e.0.cmp(&t.obj)) else {
                return false;
            };
            let (_, read, changed) = self.objects[i];
            match t.access {
                Access::Read => changed & others != 0,
                Access::Write | Access::Add => (read | changed) & others != 0,
            }
        })
    }
}

/// The distinct summaries of a search, each kept once and named by a
/// number, from [`Summaries::EMPTY`] and [`Summaries::UNKNOWN`].
#[derive(Debug)]
pub(super) struct Summaries {
    list: Vec<Summary>,
    numbers: HashMap<Summary, u32, BuildHasherDefault<FastHasher>>,
}

impl Default for Summaries {
    fn default() -> Summaries {
        let unknown = Summary {
            unknown: true,
            ..Summary::default()
        };
        let list = vec![Summary::default(), unknown];
        let numbers = list.iter().cloned().zip(0..).collect();
        Summaries { list, numbers }
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
        if let Some(&m) = self.numbers.get(&union) {
            return m;
        }
        let m = u32::try_from(self.list.len()).expect("fewer than 2^32 distinct summaries");
        self.list.push(union.clone());
        self.numbers.insert(union, m);
        m
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
    /// commute with its own, as `Footprint::conflicts` decides.
    #[test]
    fn a_sleeper_wakes_as_footprints_conflict() {
        let objs = [Obj::PageCount(0), Obj::PageCount(1), Obj::AioNr];
        let mut steps = Vec::new();
        for obj in objs {
            for access in [Access::Read, Access::Write, Access::Add] {
                steps.push(footprint(&[(obj, access)]));
            }
        }
        for mine in &steps {
            for theirs in &steps {
                let mut s = Summary::default();
                s.add(B, theirs);
                s.add(A, &steps[1]);
                assert_eq!(
                    s.wakes(A, mine),
                    mine.conflicts(theirs),
                    "{mine:?} {theirs:?}"
                );
            }
        }
    }

    /// A sleeper's own steps never wake it; merged summaries wake as the
    /// steps of both would; an unknown continuation wakes every sleeper.
    /// Equal unions get one number.
    #[test]
    fn own_steps_merges_and_unknown_continuations() {
        let write = footprint(&[(Obj::AioNr, Access::Write)]);
        let read = footprint(&[(Obj::AioNr, Access::Read)]);
        let mut s = Summary::default();
        s.add(A, &write);
        assert!(!s.wakes(A, &read));
        let mut other = Summary::default();
        other.add(B, &footprint(&[(Obj::PageCount(3), Access::Add)]));
        other.add(B, &read);
        s.merge(&other);
        assert!(s.wakes(A, &write));
        assert!(!s.wakes(A, &read));
        assert!(s.wakes(B, &read));
        s.merge(Summaries::default().get(Summaries::UNKNOWN));
        assert!(s.wakes(A, &read));
        let mut numbers = Summaries::default();
        let n = numbers.union(Summaries::EMPTY, &other);
        assert_eq!(numbers.union(n, &other), n);
        assert_eq!(numbers.get(n), &other);
        assert!(!numbers.get(Summaries::EMPTY).wakes(A, &read));
    }
}
