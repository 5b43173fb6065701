// Shared by the backward step kernels (<cell>/backward.wgsl), prepended after
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

// The products of a backward step with the weights transposed, for the BT
// rows of a workgroup from b0 and its unit k < units: acc[bb] = sum over
// r < count of g[col + r] * w[(col + r) * units + k], g the step's gate
// gradients of that row (`width` per row, read through the cell's
// `backward_gate`), w the cell's `weight_hh`. Every weight load serves BT
// rows; rows past the batch repeat the last.
fn transposed_products(b0: u32, k: u32, units: u32, width: u32, col: u32, count: u32) -> array<f32, 4> {
    let i = p.step;
    let r0 = at_step(i, read_row(b0, 0u), width) + col;
    let r1 = at_step(i, read_row(b0, 1u), width) + col;
    let r2 = at_step(i, read_row(b0, 2u), width) + col;
    let r3 = at_step(i, read_row(b0, 3u), width) + col;
    var acc = array<f32, 4>();
    for (var r = 0u; r < count; r++) {
        let wv = w[(col + r) * units + k];
        acc[0] = fma(backward_gate(r0 + r), wv, acc[0]);
        if (ROWS > 1u) { acc[1] = fma(backward_gate(r1 + r), wv, acc[1]); }
        if (ROWS > 2u) { acc[2] = fma(backward_gate(r2 + r), wv, acc[2]); }
        if (ROWS > 3u) { acc[3] = fma(backward_gate(r3 + r), wv, acc[3]); }
    }
    return acc;
}
