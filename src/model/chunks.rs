//! How many per-K plans a stream keeps: a loop of varying chunk sizes
//! reuses the last few and never grows without bound.

/// Chunk sizes a stream keeps a plan (and a read-back buffer) for: a loop
/// of varying K reuses the last few and never grows without bound.
const KEPT_CHUNK_SIZES: usize = 4;

/// Frees the oldest entry other than one step's once `kept` is full.
pub(super) fn forget_oldest<T>(kept: &mut Vec<T>, steps: impl Fn(&T) -> usize) {
    if kept.len() >= KEPT_CHUNK_SIZES {
        if let Some(at) = kept.iter().position(|k| steps(k) != 1) {
            kept.remove(at);
        }
    }
}
