//! The component's allocator: a bump arena in front of the system allocator.
//!
//! A host runs each command in a fresh instance (architecture.md: a fresh `Store` and
//! instance per command), so the guest's heap lives for one command. A general allocator
//! (wasi-libc's dlmalloc, under Rust's `System`) spends much of a command keeping free lists
//! that the instance never reuses: under `perf` it was about a seventh of an
//! `iam-update-user`, and the arena took the median from 48 µs to 40 µs (BENCHMARKS.md).
//!
//! The arena hands out the first [`ARENA_BYTES`] by moving one pointer. Freeing or growing the
//! most recent block (a `String` or `Vec` being built, a temporary dropped at once) works in
//! place; any other freed block stays used until the instance ends. Once the arena is full,
//! every further allocation goes to the system allocator, and blocks are returned to
//! whichever of the two gave them. So a command that needs more memory than the arena still
//! runs as it did before, and an embedder that keeps one instance for many calls loses at most
//! `ARENA_BYTES` to it.
//!
//! [`Bump`] is the pointer arithmetic, plain and tested natively; the global allocator that
//! puts it in front of `System` exists only in the wasm build.

use core::alloc::Layout;
use core::cell::Cell;

/// Bytes of the arena. A whole `iam-update-user` allocates well under this; the arena is
/// zero-filled static memory, so its untouched pages cost the host nothing to reset.
pub const ARENA_BYTES: usize = 256 << 10;

/// Every block starts on a multiple of `GRAIN` from the base and takes a multiple of it, so
/// the common allocation (alignment at most 8) is a subtraction, a comparison and an add.
pub const GRAIN: usize = 8;

/// A bump region of `capacity` bytes from a base address, with `used` bytes handed out. The
/// base is passed to each call rather than kept, so that a static `Bump` needs no
/// initialisation (a static's address is not a constant expression); it must be aligned to
/// [`GRAIN`].
pub struct Bump {
    capacity: usize,
    used: Cell<usize>,
}

/// `size` rounded up to a whole number of grains; `size` is at most a region's capacity.
fn grains(size: usize) -> usize {
    (size + GRAIN - 1) & !(GRAIN - 1)
}

impl Bump {
    /// An empty region of `capacity` bytes, rounded down to whole grains.
    pub const fn new(capacity: usize) -> Bump {
        Bump {
            capacity: capacity & !(GRAIN - 1),
            used: Cell::new(0),
        }
    }

    /// Whether `address` lies in the region at `base` (it was handed out by this arena).
    pub fn owns(&self, base: usize, address: usize) -> bool {
        address.wrapping_sub(base) < self.capacity
    }

    /// The address of a new block for `layout`, or `None` when the region has no room.
    #[inline]
    pub fn alloc(&self, base: usize, layout: Layout) -> Option<usize> {
        if layout.align() > GRAIN {
            return self.alloc_overaligned(base, layout);
        }
        let used = self.used.get();
        // Both are whole grains, so a size that fits still fits once rounded up.
        if layout.size() > self.capacity - used {
            return None;
        }
        self.used.set(used + grains(layout.size()));
        Some(base + used)
    }

    /// `alloc` for an alignment above a grain: the block starts further on.
    #[cold]
    fn alloc_overaligned(&self, base: usize, layout: Layout) -> Option<usize> {
        let free = base.checked_add(self.used.get())?;
        let at = free.checked_add(layout.align() - 1)? & !(layout.align() - 1);
        let start = at - base;
        if start > self.capacity || layout.size() > self.capacity - start {
            return None;
        }
        self.used.set(start + grains(layout.size()));
        Some(at)
    }

    /// Give back the block at `address`: only the most recent block is reused.
    pub fn dealloc(&self, base: usize, address: usize, layout: Layout) {
        let offset = address - base;
        if offset + grains(layout.size()) == self.used.get() {
            self.used.set(offset);
        }
    }

    /// Grow or shrink the block at `address` where it is, when it is the most recent one
    /// and the region has room; `false` means the caller must move it.
    pub fn resize_in_place(
        &self,
        base: usize,
        address: usize,
        layout: Layout,
        new_size: usize,
    ) -> bool {
        let offset = address - base;
        if offset + grains(layout.size()) != self.used.get() {
            return new_size <= layout.size();
        }
        if new_size > self.capacity - offset {
            return false;
        }
        self.used.set(offset + grains(new_size));
        true
    }
}

#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
mod global {
    //! The global allocator of the component: [`super::Bump`] over a static arena, then
    //! `System` (wasi-libc's dlmalloc, which keeps its own heap above the static data).

    use super::{ARENA_BYTES, Bump};
    use core::alloc::{GlobalAlloc, Layout};
    use core::cell::UnsafeCell;
    use std::alloc::System;

    #[repr(C, align(16))]
    struct Region(UnsafeCell<[u8; ARENA_BYTES]>);

    /// The arena's memory: zero-filled static data, so it needs no data segment.
    static REGION: Region = Region(UnsafeCell::new([0; ARENA_BYTES]));

    struct ArenaThenSystem {
        bump: Bump,
    }

    // SAFETY: this build has no threads (no `atomics` target feature), so the allocator and
    // the region are never used from two threads at once.
    unsafe impl Sync for Region {}
    // SAFETY: as above.
    unsafe impl Sync for ArenaThenSystem {}

    /// The arena's first address: a link-time constant.
    fn base() -> usize {
        REGION.0.get() as usize
    }

    #[cold]
    #[inline(never)]
    unsafe fn system_alloc(layout: Layout) -> *mut u8 {
        let block = unsafe { System.alloc(layout) };
        if block.is_null() {
            crate::component::report_out_of_memory(layout.size());
        }
        block
    }

    // SAFETY: blocks from the arena are disjoint, aligned as asked and inside `REGION`, which
    // nothing else uses; every other block comes from `System` and goes back to it, because
    // `owns` tells the two apart by address.
    unsafe impl GlobalAlloc for ArenaThenSystem {
        #[inline]
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            match self.bump.alloc(base(), layout) {
                Some(address) => address as *mut u8,
                // SAFETY: the caller's contract for `layout` is passed on unchanged.
                None => unsafe { system_alloc(layout) },
            }
        }

        #[inline(never)]
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            if self.bump.owns(base(), ptr as usize) {
                self.bump.dealloc(base(), ptr as usize, layout);
            } else {
                // SAFETY: a block outside the arena was allocated by `System` with `layout`.
                unsafe { System.dealloc(ptr, layout) }
            }
        }

        #[inline(never)]
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            if !self.bump.owns(base(), ptr as usize) {
                // SAFETY: a block outside the arena was allocated by `System` with `layout`.
                let moved = unsafe { System.realloc(ptr, layout, new_size) };
                if moved.is_null() {
                    crate::component::report_out_of_memory(new_size);
                }
                return moved;
            }
            if self
                .bump
                .resize_in_place(base(), ptr as usize, layout, new_size)
            {
                return ptr;
            }
            // SAFETY: `realloc`'s contract makes `new_size` with `layout`'s alignment valid.
            let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
            // SAFETY: as for `alloc`.
            let moved = unsafe { self.alloc(new_layout) };
            if !moved.is_null() {
                // SAFETY: both blocks are live, distinct and at least this long.
                unsafe {
                    core::ptr::copy_nonoverlapping(ptr, moved, layout.size().min(new_size));
                    self.dealloc(ptr, layout);
                }
            }
            moved
        }
    }

    #[global_allocator]
    static ALLOCATOR: ArenaThenSystem = ArenaThenSystem {
        bump: Bump::new(ARENA_BYTES),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).expect("a valid layout")
    }

    #[test]
    fn blocks_are_aligned_disjoint_whole_grains_inside_the_region() {
        let bump = Bump::new(100);
        let a = bump.alloc(1000, layout(3, 1)).expect("room");
        let b = bump.alloc(1000, layout(8, 8)).expect("room");
        let c = bump.alloc(1000, layout(16, 16)).expect("room");
        let d = bump.alloc(1000, layout(1, 2)).expect("room");
        // 1000 is not a multiple of 16: the over-aligned block starts at the next one.
        assert_eq!((a, b, c, d), (1000, 1008, 1024, 1040));
        assert!(bump.owns(1000, a) && bump.owns(1000, 1095));
        assert!(
            !bump.owns(1000, 999) && !bump.owns(1000, 1096),
            "capacity 96: whole grains"
        );
    }

    #[test]
    fn a_full_region_refuses_and_leaves_the_rest_to_the_system_allocator() {
        let bump = Bump::new(64);
        assert_eq!(bump.alloc(0, layout(52, 4)), Some(0));
        assert_eq!(bump.alloc(0, layout(9, 4)), None);
        // The refusal took nothing: what still fits is still handed out.
        assert_eq!(bump.alloc(0, layout(8, 4)), Some(56));
        assert_eq!(bump.alloc(0, layout(1, 1)), None);
        assert_eq!(bump.alloc(0, layout(usize::MAX >> 1, 1)), None);
        // An alignment or size past the address space is refused, not wrapped around.
        let high = Bump::new(64);
        let base = usize::MAX - 63;
        assert_eq!(high.alloc(base, layout(1, 1 << 20)), None);
        assert_eq!(high.alloc(base, layout(72, 1)), None);
        assert_eq!(high.alloc(base, layout(64, 1)), Some(base));
        let over = Bump::new(64);
        assert_eq!(
            over.alloc(8, layout(16, 64)),
            None,
            "no room after the aligned start"
        );
        assert_eq!(over.alloc(8, layout(8, 32)), Some(32));
    }

    #[test]
    fn only_the_most_recent_block_is_reused_when_freed() {
        let bump = Bump::new(64);
        let a = bump.alloc(0, layout(16, 8)).expect("room");
        let b = bump.alloc(0, layout(13, 1)).expect("room");
        bump.dealloc(0, a, layout(16, 8));
        assert_eq!(
            bump.alloc(0, layout(8, 8)),
            Some(32),
            "a is not the top: not reused"
        );
        bump.dealloc(0, 32, layout(8, 8));
        bump.dealloc(0, b, layout(13, 1));
        assert_eq!(
            bump.alloc(0, layout(8, 8)),
            Some(b),
            "b was the top once 32 went back"
        );
    }

    #[test]
    fn the_most_recent_block_grows_and_shrinks_in_place_while_there_is_room() {
        let bump = Bump::new(64);
        let a = bump.alloc(0, layout(8, 8)).expect("room");
        assert!(bump.resize_in_place(0, a, layout(8, 8), 40));
        assert!(bump.resize_in_place(0, a, layout(40, 8), 64));
        assert!(
            !bump.resize_in_place(0, a, layout(64, 8), 65),
            "past the end"
        );
        assert!(bump.resize_in_place(0, a, layout(64, 8), 13));
        assert_eq!(
            bump.alloc(0, layout(8, 8)),
            Some(16),
            "shrinking gave the rest back"
        );
        // An older block can shrink where it is, but not grow.
        assert!(bump.resize_in_place(0, a, layout(13, 8), 8));
        assert!(!bump.resize_in_place(0, a, layout(8, 8), 24));
    }
}
