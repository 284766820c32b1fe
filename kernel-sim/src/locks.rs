//! Spinlocks, mutexes and `mmap_sem`.
//!
//! Every lock is an owner slot. Acquiring is one action, enabled only while
//! the lock is free, so a contended spinlock spins and a contended mutex
//! sleeps in the same way: the task is not runnable until the holder
//! releases it. A task that re-acquires a lock it holds waits forever,
//! which the executor reports as a deadlock.

use crate::history::{Access, Obj, Pool};
use crate::kernel::{Guard, Kernel, State};
use crate::label::{Arg, Label, LockName, OpKind};
use crate::objects::{CtxId, InodeId};
use crate::trace::Effect;
use crate::violation::ViolationKind;

/// A lock, by index into [`State::locks`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct LockId(pub u16);

/// The object a lock is embedded in, whose freeing makes the lock's memory
/// invalid.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum LockOwner {
    /// A global lock.
    Global,
    /// A field of a kioctx.
    Ctx(CtxId),
    /// A field of an inode's address_space.
    Inode(InodeId),
}

/// A lock's state.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Lock {
    /// The task holding it.
    pub holder: Option<crate::exec::TaskId>,
    /// Where its holder took it, as lockdep records it.
    pub acquired_at: Option<Label>,
    /// What it is embedded in.
    pub owner: LockOwner,
}

impl State {
    /// `spin_lock_init` / `mutex_init`: a new, free lock inside `owner`.
    pub fn new_lock(&mut self, owner: LockOwner) -> LockId {
        self.allocating(Pool::Lock);
        self.locks.push(Lock {
            holder: None,
            acquired_at: None,
            owner,
        });
        LockId((self.locks.len() - 1) as u16)
    }

    /// Reports a use after free if the lock's owner was freed.
    fn check_owner(&mut self, l: LockId) {
        match self.locks[l.0 as usize].owner {
            LockOwner::Global => {}
            LockOwner::Ctx(c) => {
                self.ctx(Some(c));
            }
            LockOwner::Inode(i) => {
                self.inode(i);
            }
        }
    }

    fn take_lock(&mut self, l: LockId) {
        self.touch(Obj::Lock(l), Access::Write);
        self.check_owner(l);
        debug_assert!(self.locks[l.0 as usize].holder.is_none());
        self.locks[l.0 as usize].holder = self.current;
        self.locks[l.0 as usize].acquired_at = self.cur_label;
    }

    /// lockdep's check on the way back to user space: a violation for
    /// each lock the current task still holds, at the place it took it.
    pub(crate) fn check_no_locks_held(&mut self) {
        let held: Vec<Option<Label>> = (self.locks.iter())
            .filter(|l| l.holder.is_some() && l.holder == self.current)
            .map(|l| l.acquired_at)
            .collect();
        for at in held {
            let name = match at.map(|l| l.arg) {
                Some(Arg::Lock(name)) => name,
                _ => unreachable!("every lock is taken by a labelled acquire"),
            };
            let label = std::mem::replace(&mut self.cur_label, at);
            self.violation(ViolationKind::LockHeldOnReturn(name));
            self.cur_label = label;
        }
    }

    fn release_lock(&mut self, l: LockId) {
        self.touch(Obj::Lock(l), Access::Write);
        self.check_owner(l);
        let lock = &mut self.locks[l.0 as usize];
        if lock.holder != self.current {
            self.violation(ViolationKind::LockNotHeld);
            return;
        }
        lock.holder = None;
    }
}

impl Kernel {
    async fn acquire(&self, op: OpKind, name: LockName, l: LockId) {
        self.act(op, Arg::Lock(name), Guard::LockFree(l), |st| {
            st.take_lock(l);
            ((), Effect::None)
        })
        .await
    }

    async fn release(&self, op: OpKind, name: LockName, l: LockId) {
        self.act(op, Arg::Lock(name), Guard::None, |st| {
            st.release_lock(l);
            ((), Effect::None)
        })
        .await
    }

    /// `spin_lock(l)`.
    pub async fn spin_lock(&self, name: LockName, l: LockId) {
        self.acquire(OpKind::SpinLock, name, l).await
    }

    /// `spin_unlock(l)`.
    pub async fn spin_unlock(&self, name: LockName, l: LockId) {
        self.release(OpKind::SpinUnlock, name, l).await
    }

    /// `spin_lock_irqsave(l, flags)`. Each task is its own CPU, so masking
    /// interrupts changes nothing else.
    pub async fn spin_lock_irqsave(&self, name: LockName, l: LockId) {
        self.acquire(OpKind::SpinLockIrqsave, name, l).await
    }

    /// `spin_unlock_irqrestore(l, flags)`.
    pub async fn spin_unlock_irqrestore(&self, name: LockName, l: LockId) {
        self.release(OpKind::SpinUnlockIrqrestore, name, l).await
    }

    /// `spin_lock_irq(l)`.
    pub async fn spin_lock_irq(&self, name: LockName, l: LockId) {
        self.acquire(OpKind::SpinLockIrq, name, l).await
    }

    /// `spin_unlock_irq(l)`.
    pub async fn spin_unlock_irq(&self, name: LockName, l: LockId) {
        self.release(OpKind::SpinUnlockIrq, name, l).await
    }

    /// `mutex_lock(l)`: sleeps while another task holds it.
    pub async fn mutex_lock(&self, name: LockName, l: LockId) {
        self.acquire(OpKind::MutexLock, name, l).await
    }

    /// `mutex_unlock(l)`.
    pub async fn mutex_unlock(&self, name: LockName, l: LockId) {
        self.release(OpKind::MutexUnlock, name, l).await
    }

    /// `down_write(&mm->mmap_sem)`.
    pub async fn down_write(&self, l: LockId) {
        self.acquire(OpKind::DownWrite, LockName::MmapSem, l).await
    }

    /// `up_write(&mm->mmap_sem)`.
    pub async fn up_write(&self, l: LockId) {
        self.release(OpKind::UpWrite, LockName::MmapSem, l).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::{RunEnd, RunToBlock, TaskFuture};
    use crate::kernel::Config;
    use crate::label::Func;

    #[test]
    fn a_contended_spinlock_blocks_and_self_reacquire_deadlocks() {
        let k = Kernel::new(Config::default());
        let l = k.st.borrow_mut().new_lock(LockOwner::Global);
        async fn body(k: &Kernel, l: LockId) {
            let _f = k.enter(Func::AioMigratepage);
            k.spin_lock(LockName::PrivateLock, l).await;
            k.spin_unlock(LockName::PrivateLock, l).await;
        }
        let tasks: Vec<TaskFuture> = vec![Box::pin(body(&k, l)), Box::pin(body(&k, l))];
        assert_eq!(k.run(tasks, &mut RunToBlock), RunEnd::Done);
        assert!(k.violations().is_empty());

        let k = Kernel::new(Config::default());
        let l = k.st.borrow_mut().new_lock(LockOwner::Global);
        let twice = async {
            let _f = k.enter(Func::AioMigratepage);
            k.spin_lock(LockName::PrivateLock, l).await;
            k.spin_lock(LockName::PrivateLock, l).await;
        };
        assert_eq!(
            k.run(vec![Box::pin(twice)], &mut RunToBlock),
            RunEnd::Deadlock
        );
        let v = k.violations();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].kind, ViolationKind::Deadlock);
        assert_eq!(
            v[0].label.unwrap().to_string(),
            "aio_migratepage:spin_lock(private_lock)"
        );
    }

    #[test]
    fn unlocking_a_lock_not_held_is_reported() {
        let k = Kernel::new(Config::default());
        let l = k.st.borrow_mut().new_lock(LockOwner::Global);
        let body = async {
            let _f = k.enter(Func::PutAioRingFile);
            k.spin_unlock(LockName::PrivateLock, l).await;
        };
        assert_eq!(k.run(vec![Box::pin(body)], &mut RunToBlock), RunEnd::Done);
        assert_eq!(k.violations()[0].kind, ViolationKind::LockNotHeld);
    }

    #[test]
    fn returning_to_user_space_with_a_lock_held_is_reported_where_it_was_taken() {
        let k = Kernel::new(Config::default());
        let (held, released) = {
            let mut st = k.st.borrow_mut();
            (
                st.new_lock(LockOwner::Global),
                st.new_lock(LockOwner::Global),
            )
        };
        let body = async {
            {
                let _f = k.enter(Func::AioMigratepage);
                k.spin_lock_irqsave(LockName::CompletionLock, held).await;
                k.spin_lock(LockName::PrivateLock, released).await;
                k.spin_unlock(LockName::PrivateLock, released).await;
            }
            k.end_op();
        };
        assert_eq!(k.run(vec![Box::pin(body)], &mut RunToBlock), RunEnd::Done);
        let v = k.violations();
        assert_eq!(v.len(), 1);
        assert_eq!(
            v[0].kind,
            ViolationKind::LockHeldOnReturn(LockName::CompletionLock)
        );
        assert_eq!(
            v[0].label.unwrap().to_string(),
            "aio_migratepage:spin_lock_irqsave(completion_lock)"
        );
    }
}
