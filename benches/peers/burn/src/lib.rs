//! What the peer binaries (`burn-peer`, `burn-matmul`) share.

/// Deterministic values in [-1, 1) from a 64-bit LCG (Knuth's MMIX constants).
pub fn uniform_values(n: usize, mut state: u64) -> Vec<f32> {
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            // Top 24 bits -> [0, 1) exactly representable in f32, then map to [-1, 1).
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}
