//! The fuzz targets' custom mutator, one for libFuzzer's and AFL++'s
//! builds: which of [`crate::mutation`]'s and [`crate::reshape`]'s
//! structure-aware mutations each call makes, by the target's [`Shares`]
//! and how many preemptions the process has made, or none, which leaves
//! the call to the fuzzer's own byte mutations.

use std::sync::atomic::{AtomicU64, Ordering};

use kernel_sim::AioModel;

use crate::{mutation, reshape, New, Old};

/// How a fuzz target's custom mutator shares its mutations: of every
/// sixteen, how many are of each structure-aware kind; the rest are
/// the fuzzer's own (libFuzzer's, or AFL++'s havoc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Share {
    /// Preemptions of the target's code.
    pub preempt: u32,
    /// Preemptions of the other version's run, which the target's code
    /// follows.
    pub followed: u32,
    /// Scenarios drawn from the catalogue, the input's schedule kept
    /// ([`crate::reshape::from_catalogue`]), then preempted as `followed`
    /// preempts.
    pub drawn: u32,
    /// Edits of the scenario ([`crate::reshape::reshape`]).
    pub reshape: u32,
}

impl Share {
    /// How many mutations in sixteen are structure-aware: all but the
    /// fuzzer's own.
    pub const fn ours(&self) -> u32 {
        self.preempt + self.followed + self.drawn + self.reshape
    }
}

/// How a fuzz target's custom mutator shares its mutations over a process'
/// life: by `early` until it has made `warm_up` preemptions (of the three
/// kinds that preempt, `drawn` included, but not the catalogue draws where
/// a preemption found no switch), by `late` after. Counted in preemptions
/// made, the warm-up starts where the inputs can interleave: from an empty
/// corpus, inputs of one task come first, and no preemption applies to
/// them.
#[derive(Clone, Copy, Debug)]
pub struct Shares {
    /// The share of the mutations of the warm-up.
    pub early: Share,
    /// How many preemptions the warm-up makes.
    pub warm_up: u64,
    /// The share of every mutation after those.
    pub late: Share,
    /// Whether a preemption that finds no switch to make, as in an input
    /// of one task, draws a scenario from the catalogue instead
    /// ([`crate::reshape::from_catalogue`]).
    pub catalogue: bool,
}

impl Shares {
    /// `share` all along, and no catalogue draws.
    pub const fn constant(share: Share) -> Shares {
        Shares {
            early: share,
            warm_up: 0,
            late: share,
            catalogue: false,
        }
    }

    /// The share of a process' mutations once it has made `n`
    /// preemptions.
    pub fn at(&self, n: u64) -> Share {
        match n < self.warm_up {
            true => self.early,
            false => self.late,
        }
    }
}

/// The shares of the `old_model` fuzz target, which runs the old code. A
/// followed preemption shows the old code's teardown bugs that the new
/// code's runs lead to, most in a few hundred mutations, so until it has
/// made 384 preemptions (about 440 of libFuzzer's mutations) twelve
/// mutations in sixteen are followed preemptions, ten of them of a scenario
/// drawn from the catalogue: from an empty corpus, the scenarios those bugs
/// need come at once, as they do for PCT, and from the seeds a draw is much
/// like a preemption of a seed. Later, one in sixteen: the bugs of many
/// switches need chains of the target's own preemptions, which a larger
/// followed share makes later, and two in sixteen edit the scenario, which
/// brings those bugs sooner. A preemption that finds no switch draws a
/// catalogue scenario, so that from an empty corpus the inputs soon
/// interleave (BENCHMARKS.md, "A preemption the old code follows", "A
/// warm-up of followed preemptions", "Scenario edits after the warm-up",
/// "Catalogue draws where no preemption applies" and "Catalogue draws in
/// the warm-up").
pub const OLD_CODE: Shares = Shares {
    early: Share {
        preempt: 2,
        followed: 2,
        drawn: 10,
        reshape: 0,
    },
    warm_up: 384,
    late: Share {
        preempt: 11,
        followed: 1,
        drawn: 0,
        reshape: 2,
    },
    catalogue: true,
};

/// The shares of the fuzz targets that run the new code: preemptions
/// only, all along. The new code following the old code's runs shows
/// the shared bugs no more often, and `differential` judges each case
/// both ways anyway.
pub const NEW_CODE: Shares = Shares::constant(Share {
    preempt: 12,
    followed: 0,
    drawn: 0,
    reshape: 0,
});

/// The code a fuzz target runs: the mutator preempts its runs, and has
/// it follow the other version's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    /// The old code, with [`OLD_CODE`]'s shares.
    Old,
    /// The new code, with [`NEW_CODE`]'s shares.
    New,
}

impl Code {
    /// How a mutator of this code shares its mutations.
    pub const fn shares(self) -> Shares {
        match self {
            Code::Old => OLD_CODE,
            Code::New => NEW_CODE,
        }
    }
}

/// A fuzz target's custom mutator: the code it runs, and the count of
/// the preemptions it has made, by which it moves from the warm-up's
/// share to the later one. One per process, as a `static`.
///
/// Its methods take no model type: the runs it makes are compiled in
/// this crate, so that a build without coverage of the simulator
/// (`fuzz/without-sancov.sh`) has none in them either, where a generic
/// call would compile them in the fuzz target's crate, with coverage.
#[derive(Debug)]
pub struct Mutator {
    code: Code,
    preemptions: AtomicU64,
}

impl Mutator {
    /// A mutator of `code`'s runs, with its shares, that has made no
    /// preemption yet.
    pub const fn new(code: Code) -> Mutator {
        Mutator {
            code,
            preemptions: AtomicU64::new(0),
        }
    }

    /// `data` mutated by the kind `seed % 16` names in the share of the
    /// preemptions made so far, the rest of `seed` drawing inside it: a
    /// preemption of the run of the mutator's code
    /// ([`mutation::preempt`]), one of the other version's that the
    /// mutator's code follows ([`mutation::preempt_followed`]),
    /// the same of a catalogue scenario drawn into the input
    /// ([`mutation::drawn_followed`]), or an edit of the scenario
    /// ([`reshape::reshape`]). Where a preemption finds no switch to
    /// make, the scenario needs another task or operation before its runs
    /// can interleave, and with [`Shares::catalogue`] one is drawn from
    /// the catalogue ([`reshape::from_catalogue`]), as `aiodiff hunt`
    /// does. `None` for the fuzzer's own kinds, and where the mutation
    /// gave up; the caller then mutates the bytes.
    pub fn mutate(&self, data: &[u8], seed: u32) -> Option<Vec<u8>> {
        self.make(self.share(), data, (seed % 16, seed / 16))
    }

    /// [`Mutator::mutate`] by a structure-aware kind only, drawn by `seed`
    /// in the proportions of the share, for a fuzzer that makes its own
    /// byte mutations in a stage of their own, as AFL++'s havoc does.
    /// `None` also where the share has no such kind.
    pub fn mutate_structured(&self, data: &[u8], seed: u32) -> Option<Vec<u8>> {
        let share = self.share();
        let ours = share.ours();
        if ours == 0 {
            return None;
        }
        self.make(share, data, (seed % ours, seed / ours))
    }

    /// The share of the preemptions made so far.
    fn share(&self) -> Share {
        self.code
            .shares()
            .at(self.preemptions.load(Ordering::Relaxed))
    }

    /// `data` mutated by the kind and seed of `kind_seed` in `share`, as
    /// [`Mutator::make_with`] says, with the mutator's code.
    fn make(&self, share: Share, data: &[u8], kind_seed: (u32, u32)) -> Option<Vec<u8>> {
        match self.code {
            Code::Old => self.make_with((&Old, &New), share, data, kind_seed),
            Code::New => self.make_with((&New, &Old), share, data, kind_seed),
        }
    }

    /// `data` mutated by the kind numbered `kind` in `share` (preemptions,
    /// followed preemptions, draws, edits, then the fuzzer's own), drawing
    /// by `seed` inside it, as [`Mutator::mutate`] says.
    fn make_with<M: AioModel, O: AioModel>(
        &self,
        (model, other): (&M, &O),
        share: Share,
        data: &[u8],
        (kind, seed): (u32, u32),
    ) -> Option<Vec<u8>> {
        let preempts = share.preempt + share.followed + share.drawn;
        let mutated = if kind < share.preempt {
            mutation::preempt(model, data, seed)
        } else if kind < share.preempt + share.followed {
            mutation::preempt_followed(other, model, data, seed)
        } else if kind < preempts {
            mutation::drawn_followed(other, model, data, seed)
        } else if kind < preempts + share.reshape {
            return reshape::reshape(data, seed);
        } else {
            return None;
        };
        if mutated.is_some() {
            self.preemptions.fetch_add(1, Ordering::Relaxed);
        }
        match mutated {
            None if self.code.shares().catalogue => reshape::from_catalogue(data, seed),
            m => m,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytes;

    /// A share is of sixteen, and every share leaves the fuzzer's own
    /// mutations, which change any byte, a part; the
    /// warm-up ends after its mutations.
    #[test]
    fn the_shares_leave_the_fuzzer_a_part_and_the_warm_up_ends() {
        for shares in [OLD_CODE, NEW_CODE] {
            for share in [shares.early, shares.late] {
                assert!(share.ours() < 16, "{shares:?}");
            }
            assert_eq!(shares.at(shares.warm_up), shares.late);
            assert_eq!(shares.at(u64::MAX), shares.late);
        }
        assert_eq!(OLD_CODE.at(OLD_CODE.warm_up - 1), OLD_CODE.early);
        assert_ne!(OLD_CODE.early, OLD_CODE.late);
    }

    /// In its warm-up, `old_model`'s mutator makes the kinds of the early
    /// share; after it, of the late one, which leaves the fuzzer its part.
    #[test]
    fn the_old_codes_mutator_moves_to_the_late_share_after_the_warm_up() {
        let case = crate::Case {
            scenario: crate::catalogue::catalogue().swap_remove(9).scenario,
            ..crate::Case::default()
        };
        assert_eq!(case.scenario.tasks.len(), 2);
        let data = bytes::encode(&case).unwrap();
        let (early, late) = (OLD_CODE.early, OLD_CODE.late);
        let mutator = Mutator::new(Code::Old);
        for rest in 0..32 {
            let drawn = early.preempt + early.followed;
            let mutated = mutator.mutate(&data, rest * 16 + drawn);
            let expected = mutation::drawn_followed(&New, &Old, &data, rest);
            assert_eq!(mutated, expected);
        }
        mutator
            .preemptions
            .store(OLD_CODE.warm_up, Ordering::Relaxed);
        for rest in 0..32 {
            let edit = late.preempt + late.followed + late.drawn;
            let mutated = mutator.mutate(&data, rest * 16 + edit);
            assert_eq!(mutated, reshape::reshape(&data, rest));
            assert_eq!(mutator.mutate(&data, rest * 16 + 15), None);
        }
    }

    /// Where the fuzzer makes its byte mutations apart, every call is of
    /// a structure-aware kind: for the new code, a preemption.
    #[test]
    fn a_structured_mutation_leaves_nothing_to_the_fuzzer() {
        let case = crate::Case {
            scenario: crate::catalogue::catalogue().swap_remove(9).scenario,
            ..crate::Case::default()
        };
        let data = bytes::encode(&case).unwrap();
        let mutator = Mutator::new(Code::New);
        let mut preempted = 0;
        for seed in 0..64 {
            let mutated = mutator.mutate_structured(&data, seed);
            let preempt = mutation::preempt(&New, &data, seed / NEW_CODE.early.preempt);
            assert_eq!(mutated, preempt);
            preempted += usize::from(mutated.is_some());
        }
        assert!(preempted > 48, "{preempted}");
    }
}
