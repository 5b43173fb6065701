// The persistent LSTM backward (no projection, H <= 256; after
// lstm/backward_common.wgsl and a file defining back_sequence_weights):
// one workgroup of SEQ_WG >= H invocations owns BT batch rows and runs the
// per-step scheme's dispatches (common/backward.wgsl) for slots p.step,
// p.step-1, ..., p.step-p.steps+1 in one dispatch. Each step stages its
// rows' gate gradients da_i in workgroup memory as (i, f, g, o) per unit;
// invocation k forms (weight_hhᵀ da_i)[b, k] = Σ_j w(k, j)·da_i(j) from the
// forward's interleaved weights (w(k, j): the four gate weights of unit j
// for state element k), then finishes dS_i and runs the cell backward of
// step i-1 for unit k, which writes da_{i-1} for the next iteration. Rows
// are independent, so workgroups never wait for each other. The sums run
// over units, then gates (the per-step kernels: gates, then units), so
// results agree with them to rounding, not to the bit.
override SEQ_WG: u32 = 256u;
const SEQ_MAX_UNITS: u32 = 256u;
var<workgroup> da_seq: array<vec4<f32>, 1024>; // [BT][SEQ_MAX_UNITS]

@compute @workgroup_size(SEQ_WG)
fn lstm_backward_sequence(
    @builtin(local_invocation_index) k: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
) {
    let H = p.hidden;
    let b0 = wg.y * BT;
    for (var s = 0u; s < p.steps; s++) {
        let i = p.step - s;
        // Slot T has no step T: nothing to multiply.
        let multiply = i < p.seq;
        if (multiply) {
            // Rows past the batch repeat the last row and are never written.
            for (var e = k; e < BT * H; e += SEQ_WG) {
                let bb = e / H;
                let j = e % H;
                let at = at_step(i, read_row(b0, bb), 4u * H) + j;
                da_seq[bb * SEQ_MAX_UNITS + j] =
                    vec4<f32>(da[at], da[at + H], da[at + 2u * H], da[at + 3u * H]);
            }
        }
        workgroupBarrier();
        if (k < H) {
            var acc = array<f32, 4>();
            if (multiply) {
                for (var j = 0u; j < H; j++) {
                    let w4 = back_sequence_weights(k, j, H);
                    acc[0] += dot(w4, da_seq[j]);
                    if (ROWS > 1u) { acc[1] += dot(w4, da_seq[SEQ_MAX_UNITS + j]); }
                    if (ROWS > 2u) { acc[2] += dot(w4, da_seq[2u * SEQ_MAX_UNITS + j]); }
                    if (ROWS > 3u) { acc[3] += dot(w4, da_seq[3u * SEQ_MAX_UNITS + j]); }
                }
            }
            for (var bb = 0u; bb < BT; bb++) {
                let b = b0 + bb;
                if (b < p.batch) {
                    finish_state_gradient_at(i, b, k, acc[bb]);
                }
            }
        }
        // The next step stages the da_{i-1} other invocations just wrote,
        // over the da_seq this one read.
        storageBarrier();
        workgroupBarrier();
    }
}
