//! Buffers as `Debug` shows them: their length, never their content, which may hold a
//! password or its base64 (an AUTH line in flight; ARCHITECTURE.md security invariant 10).

use core::fmt;

/// Shows as `N octets`.
pub(crate) struct Octets(pub(crate) usize);

impl fmt::Debug for Octets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} octets", self.0)
    }
}
