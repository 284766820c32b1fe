//! Files, inodes and mappings of them: `alloc_anon_inode`, `fput` down to
//! `evict`, `do_mmap_pgoff` and `vm_munmap`.
//!
//! The final `fput` runs `__fput` at once in the task that dropped the last
//! reference. The kernel defers it (task_work on return to user space, or
//! `delayed_fput` for a kworker); no action in scope runs in between for the
//! same task, so the order of shared events is the same.

use crate::errno::ENOMEM;
use crate::history::{Access, Obj, Pool};
use crate::kernel::{Guard, Kernel, State};
use crate::label::{Arg, Field, Func, OpKind};
use crate::locks::LockOwner;
use crate::objects::{AddressSpace, File, FileId, Inode, InodeId, Vma};
use crate::trace::Effect;
use crate::violation::ViolationKind;

/// `PAGE_SIZE`.
pub const PAGE_SIZE: u64 = 4096;

impl State {
    /// A fresh inode with an empty mapping and its locks.
    pub fn new_inode(&mut self) -> InodeId {
        self.allocating(Pool::Inode);
        let id = InodeId(self.inodes.len() as u8);
        let private_lock = self.new_lock(LockOwner::Inode(id));
        let tree_lock = self.new_lock(LockOwner::Inode(id));
        self.inodes.push(Inode {
            i_size: 0,
            mapping: AddressSpace {
                tree: Vec::with_capacity(16),
                nrpages: 0,
                private_data: None,
                private_lock,
                tree_lock,
                aio_aops: false,
            },
            freed: false,
        });
        id
    }
}

impl Kernel {
    /// `alloc_anon_inode(sb)`: a fresh inode on the aio pseudo-fs, with an
    /// empty mapping.
    pub async fn alloc_anon_inode(&self) -> InodeId {
        let _f = self.enter(Func::AllocAnonInode);
        self.act(OpKind::KmemCacheZalloc, Arg::None, Guard::None, |st| {
            let i = st.new_inode();
            st.touch(Obj::Inode(i), Access::Write);
            (i, Effect::Int(i.0.into()))
        })
        .await
    }

    /// `inode->i_mapping->a_ops = &aio_ctx_aops`.
    pub async fn set_aio_aops(&self, inode: InodeId) {
        self.act(
            OpKind::Write,
            Arg::Field(Field::AOps, None),
            Guard::None,
            |st| {
                st.touch(Obj::InodeField(inode, Field::AOps), Access::Write);
                st.mapping(inode).aio_aops = true;
                ((), Effect::None)
            },
        )
        .await
    }

    /// `i_size_read(inode)`.
    pub async fn i_size_read(&self, inode: InodeId) -> u64 {
        self.act(
            OpKind::Read,
            Arg::Field(Field::ISize, None),
            Guard::None,
            |st| {
                st.touch(Obj::InodeField(inode, Field::ISize), Access::Read);
                let size = st.inode(inode).i_size;
                (size, Effect::Int(size as i64))
            },
        )
        .await
    }

    /// `inode->i_size = size`.
    pub async fn set_i_size(&self, inode: InodeId, size: u64) {
        self.act(
            OpKind::Write,
            Arg::Field(Field::ISize, None),
            Guard::None,
            |st| {
                st.touch(Obj::InodeField(inode, Field::ISize), Access::Write);
                st.inode(inode).i_size = size;
                ((), Effect::Int(size as i64))
            },
        )
        .await
    }

    /// `alloc_file(path, mode, fops)`: a file with one reference.
    pub async fn alloc_file(&self, inode: InodeId) -> FileId {
        self.act(
            OpKind::KmemCacheZalloc,
            Arg::Field(Field::FCount, None),
            Guard::None,
            |st| {
                st.allocating(Pool::File);
                st.files.push(File {
                    f_count: 1,
                    inode,
                    freed: false,
                });
                let f = FileId((st.files.len() - 1) as u8);
                st.touch(Obj::File(f), Access::Write);
                (f, Effect::Int(1))
            },
        )
        .await
    }

    /// `file->f_inode`: fixed at creation.
    pub fn file_inode(&self, file: FileId) -> InodeId {
        self.inspect(|st| st.files[file.0 as usize].inode)
    }

    /// `get_file(file)`.
    async fn get_file(&self, file: FileId) {
        self.act(
            OpKind::Write,
            Arg::Field(Field::FCount, None),
            Guard::None,
            |st| {
                st.touch(Obj::FileCount(file), Access::Add);
                let f = st.file(file);
                f.f_count += 1;
                ((), Effect::Int(f.f_count.into()))
            },
        )
        .await
    }

    /// `fput(file)`: drop a reference; the last one runs `__fput`.
    pub async fn fput(&self, file: FileId) {
        let _f = self.enter(Func::Fput);
        let last = self
            .act(
                OpKind::Write,
                Arg::Field(Field::FCount, None),
                Guard::None,
                |st| {
                    let f = st.file(file);
                    f.f_count -= 1;
                    let c = f.f_count;
                    let access = if c <= 0 { Access::Write } else { Access::Add };
                    st.touch(Obj::FileCount(file), access);
                    if c < 0 {
                        st.violation(ViolationKind::UseAfterFree(crate::violation::Object::File));
                    }
                    (c == 0, Effect::Int(c.into()))
                },
            )
            .await;
        if last {
            self.fput_final(file).await;
        }
    }

    /// `__fput` → `iput` → `evict`: truncate what is left of the page cache,
    /// `clear_inode` (`BUG_ON(nrpages)`), and free the inode and the file.
    async fn fput_final(&self, file: FileId) {
        let _f = self.enter(Func::FputFinal);
        let inode = self.file_inode(file);
        {
            let _e = self.enter(Func::Evict);
            self.truncate_inode_pages_range(inode, 0).await;
            let nrpages = self.mapping_nrpages(inode).await;
            self.bug_on(nrpages != 0, Arg::Field(Field::NrPagesMapping, None))
                .await;
            self.act(OpKind::KmemCacheFree, Arg::None, Guard::None, |st| {
                st.touch(Obj::Inode(inode), Access::Write);
                st.inode(inode).freed = true;
                ((), Effect::None)
            })
            .await;
        }
        self.act(
            OpKind::KmemCacheFree,
            Arg::Field(Field::FCount, None),
            Guard::None,
            |st| {
                st.touch(Obj::File(file), Access::Write);
                st.file(file).freed = true;
                ((), Effect::None)
            },
        )
        .await;
    }

    /// `do_mmap_pgoff(file, 0, len, PROT_READ|PROT_WRITE, MAP_SHARED, 0)`:
    /// a shared mapping holding a file reference; no page is faulted in.
    /// Returns the address, or `-ENOMEM` under the fault.
    pub async fn do_mmap_pgoff(&self, file: FileId, len: u64) -> Result<u64, i32> {
        let _f = self.enter(Func::DoMmapPgoff);
        let base = self
            .act(
                OpKind::Write,
                Arg::Field(Field::Mmap, None),
                Guard::None,
                |st| {
                    st.touch(Obj::MmField(Field::Mmap), Access::Write);
                    if st.config.faults.mmap_fails {
                        return (Err(ENOMEM), Effect::Fault);
                    }
                    st.mm.next_base += 0x10_0000;
                    let start = st.mm.next_base;
                    st.mm.vmas.push(Vma { start, len, file });
                    (Ok(start), Effect::Int(start as i64))
                },
            )
            .await?;
        self.get_file(file).await;
        Ok(base)
    }

    /// `vm_munmap(start, len)`: remove the mapping and drop its file
    /// reference.
    pub async fn vm_munmap(&self, start: u64, len: u64) {
        let _f = self.enter(Func::VmMunmap);
        let file = self
            .act(
                OpKind::Write,
                Arg::Field(Field::Mmap, None),
                Guard::None,
                |st| {
                    st.touch(Obj::MmField(Field::Mmap), Access::Write);
                    let pos = st
                        .mm
                        .vmas
                        .iter()
                        .position(|v| v.start == start && v.len == len);
                    let file = pos.map(|i| st.mm.vmas.remove(i).file);
                    (file, Effect::Int(start as i64))
                },
            )
            .await;
        if let Some(file) = file {
            self.fput(file).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn the_last_fput_evicts_the_inode_after_truncating_it() {
        let k = crate::kernel::Kernel::new(crate::kernel::Config::default());
        let pages = std::cell::RefCell::new(Vec::new());
        run_one(&k, async {
            let _f = k.enter(TEST_FUNC);
            let inode = k.alloc_anon_inode().await;
            let file = k.alloc_file(inode).await;
            let base = k.do_mmap_pgoff(file, PAGE_SIZE).await.unwrap();
            let p = k.find_or_create_page(inode, 0).await.unwrap();
            k.unlock_page(p).await;
            pages.borrow_mut().push(p);
            k.fput(file).await;
            k.vm_munmap(base, PAGE_SIZE).await;
        });
        let p = pages.borrow()[0];
        k.inspect(|st| {
            assert!(st.inodes[0].freed);
            assert!(st.files[0].freed);
            assert!(st.mm.vmas.is_empty());
            assert_eq!(st.pages[p.index()].mapping, None);
        });
        // Truncation drained the pagevec and dropped the cache's reference:
        // only the caller's is left.
        assert_eq!(counts(&k, &[p]), [1]);
        assert!(k.violations().is_empty());
    }

    #[test]
    fn mmap_fails_under_the_fault_and_takes_no_file_reference() {
        let k = crate::kernel::Kernel::new(crate::kernel::Config::default());
        k.st.borrow_mut().config.faults.mmap_fails = true;
        let rc = std::cell::Cell::new(Ok(0));
        run_one(&k, async {
            let _f = k.enter(TEST_FUNC);
            let inode = k.alloc_anon_inode().await;
            let file = k.alloc_file(inode).await;
            rc.set(k.do_mmap_pgoff(file, PAGE_SIZE).await);
        });
        assert_eq!(rc.get(), Err(ENOMEM));
        assert_eq!(k.inspect(|st| st.files[0].f_count), 1);
    }
}
