// Shared by every step kernel (prepended to each by the host, see
// src/kernels/mod.rs). Activations that stay finite for every finite input.

// Hidden units per workgroup (one invocation per unit).
const WG: u32 = 64u;
// Batch rows each invocation carries: every weight load is reused BT times.
const BT: u32 = 4u;
// Rows of BT that can hold data, min(B, BT): with a batch of 1 the
// matrix-vector loops skip the three rows that would only repeat row 0.
override ROWS: u32 = 4u;
// Length of the h_{t-1} tile staged in workgroup memory per round.
const KT: u32 = 64u;
// Stage h_{t-1} in workgroup memory (GPUs) or read it straight from the
// buffer (CPU drivers such as lavapipe, where barriers are expensive: see
// BENCHMARKS.md). Chosen by the host from the adapter's device type.
override TILED: bool = true;
// Training forward: keep what the backward pass reads (gate activations
// written over their pre-activations in xg, and per-step histories of the
// cell state, o*tanh(c), r*h or W_hn h + b_hn) instead of overwriting one
// [B, H] scratch each step.
override TRAIN: bool = false;

// Parameters of one time step; one copy per step at a dynamic offset.
struct StepParams {
    batch: u32,
    // Hidden units computed by this kernel (H, or Ho for the projection).
    units: u32,
    // Length of the state vector read from `hs` (Ho: H, or the projection size).
    rec: u32,
    // Step index s: row b is active while s < lengths[b]; a finished row
    // keeps its state, so slot T of `hs` ends as each row's last valid state.
    step: u32,
    // Element offset of this step's gate pre-activations in `xg`.
    xg_offset: u32,
    // Element offsets of h_{s-1} (read) and h_s (written) in `hs`.
    h_prev_offset: u32,
    h_out_offset: u32,
    // Steps this dispatch runs from `step` (the persistent kernel); 1.
    steps: u32,
}

// Element offset of step `step`'s [B, width] block in a per-step history
// buffer; 0 (one reused block) in inference.
fn history(step: u32, width: u32) -> u32 {
    return select(0u, step * p.batch * width, TRAIN);
}

// exp of a non-positive number never overflows, so no branch makes inf/inf.
fn sigmoid(x: f32) -> f32 {
    let e = exp(-abs(x));
    let s = 1.0 / (1.0 + e);
    return select(e * s, s, x >= 0.0);
}

// tanh accurate to a few ulp everywhere and exactly +-1 for |x| > 10. Drivers'
// built-in tanh may go through exp(2x) (inf/inf = NaN for large x) or lose
// relative precision near 0 to cancellation in exp(2x) - 1.
fn tanh_safe(x: f32) -> f32 {
    let a = abs(x);
    if (a < 0.3) {
        // Taylor series; the first omitted term is below 1e-9 relative.
        let x2 = x * x;
        let poly = 1.0 + x2 * (-1.0 / 3.0 + x2 * (2.0 / 15.0 + x2 * (-17.0 / 315.0
            + x2 * (62.0 / 2835.0 + x2 * (-1382.0 / 155925.0)))));
        return x * poly;
    }
    // 1 - 2/(e^{2a}+1): no cancellation worse than a few ulp for a >= 0.3.
    let t = 1.0 - 2.0 / (exp(2.0 * min(a, 10.0)) + 1.0);
    return select(sign(x) * t, sign(x), a > 10.0);
}
