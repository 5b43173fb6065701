// Shared by the backward step kernels (*_backward.wgsl), prepended after
// common/common.wgsl. Dispatch i (i = T, T-1, ..., 0) finishes dS_i, the gradient
// of hs slot i (slot 0 is h0, slot s+1 the state after step s), and then
// runs the cell's backward of step i-1, which maps slot i-1 to slot i:
//   dS_i = W_hhᵀ da_i + pass_i * dS_{i+1} + (output gradient of step i-1)
// where da_i is step i's gate gradient (zero for a finished row) and pass_i
// is 1 for a finished row (its state was copied), z for an active GRU row
// and 0 otherwise. Dispatch T has no step T: dS_T = grad_h_n + output
// gradient. The per-step gradients and activations are histories indexed by
// step, so no dispatch reads what it writes.

struct BackParams {
    batch: u32,
    // i: this dispatch's state slot.
    step: u32,
    seq: u32,
    // H.
    hidden: u32,
    // Ho: the state's width (H, or the LSTM projection size).
    out_size: u32,
    // The persistent LSTM backward: slots step, step-1, ..., step-steps+1.
    steps: u32,
    _pad1: u32,
    _pad2: u32,
}

// Element offset of row b of a [.., B, width] history at step s.
fn at_step(s: u32, b: u32, width: u32) -> u32 {
    return (s * p.batch + b) * width;
}

// The batch row that lane bb of a workgroup starting at row b0 reads: rows
// past the batch repeat the last row and are never written.
fn read_row(b0: u32, bb: u32) -> u32 {
    return min(b0 + bb, p.batch - 1u);
}
