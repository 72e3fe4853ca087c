//! Where parsed values keep their bytes: a shared [`Bytes`] buffer (a reference count per
//! value, the value may outlive the read buffer) or a borrowed `&[u8]` (no reference count at
//! all, the value lives as long as the buffer it was parsed from).
//!
//! The wire types ([`crate::Command`], [`crate::Reply`], [`crate::Mailbox`], ...) are generic
//! over it with `Bytes` as the default, and the parsers are written once for both.

use core::fmt;
use core::hash::Hash;

use bytes::Bytes;

/// The storage of a parsed value's bytes: [`Bytes`] (the default) or `&[u8]`. Sealed: no
/// other type can implement it.
pub trait Storage:
    sealed::Sealed + AsRef<[u8]> + Clone + Default + PartialEq + Eq + Hash + fmt::Debug
{
}

impl Storage for Bytes {}
impl Storage for &[u8] {}

pub(crate) mod sealed {
    use bytes::Bytes;

    /// The operations the parsers need from a storage; private, so the trait stays sealed.
    pub trait Sealed: Sized {
        /// `self[start..end]`, in the same storage (empty when the range is out of bounds,
        /// which the callers never ask for).
        fn slice_range(&self, start: usize, end: usize) -> Self;

        /// The sub-slice `part` of `self` in the same storage; `part` must lie inside `self`
        /// (the parsers only pass slices of the input they were given).
        fn slice_of(&self, part: &[u8]) -> Self;

        /// Nothing.
        fn empty() -> Self;
    }

    impl Sealed for Bytes {
        #[inline(always)]
        fn slice_range(&self, start: usize, end: usize) -> Bytes {
            self.slice(start..end)
        }

        #[inline(always)]
        fn slice_of(&self, part: &[u8]) -> Bytes {
            // Not `Bytes::slice_ref`: an out-of-line call that checks the bounds twice and
            // then calls `slice`. The parsers' slices lie inside, so one check and one
            // `slice` (one reference count); an empty part takes none.
            let start = (part.as_ptr() as usize).wrapping_sub(self.as_ptr() as usize);
            match start.checked_add(part.len()) {
                Some(end) if end <= self.len() && !part.is_empty() => self.slice(start..end),
                _ => Bytes::new(),
            }
        }

        #[inline(always)]
        fn empty() -> Bytes {
            Bytes::new()
        }
    }

    impl<'a> Sealed for &'a [u8] {
        #[inline(always)]
        fn slice_range(&self, start: usize, end: usize) -> &'a [u8] {
            self.get(start..end).unwrap_or_default()
        }

        #[inline(always)]
        fn slice_of(&self, part: &[u8]) -> &'a [u8] {
            let start = (part.as_ptr() as usize).wrapping_sub(self.as_ptr() as usize);
            self.get(start..start.wrapping_add(part.len()))
                .unwrap_or_default()
        }

        #[inline(always)]
        fn empty() -> &'a [u8] {
            &[]
        }
    }
}

/// `part` as a slice of `source` when it lies inside it (a reference count), else a copy:
/// converting a borrowed value to a shared one never panics, whatever buffer is given.
pub(crate) use mail_wire::parse::share;
