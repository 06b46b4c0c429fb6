//! Where secrets get their randomness. Production uses the OS CSPRNG; tests may pass a
//! deterministic source to pin outputs.

/// The OS random source failed (it does not on a running Linux system, but we never
/// fall back to a weaker generator).
#[derive(Debug, thiserror::Error)]
#[error("the operating system's random generator failed: {0}")]
pub struct RandomError(pub String);

/// Fills buffers with random bytes.
pub trait RandomSource: Send + Sync + std::fmt::Debug {
    /// Fills `buf` completely with unpredictable bytes.
    fn fill(&self, buf: &mut [u8]) -> Result<(), RandomError>;
}

/// The operating system's CSPRNG (`getrandom(2)` on Linux).
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRandom;

impl RandomSource for OsRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), RandomError> {
        getrandom::fill(buf).map_err(|e| RandomError(e.to_string()))
    }
}
