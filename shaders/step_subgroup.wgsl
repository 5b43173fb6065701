// The forward step for CPU adapters with 8-lane subgroups, for the cells
// whose recurrent weights are vec4s of a unit's gates (LSTM: i, f, g, o;
// GRU: r, z, n, 0). common.wgsl, the cell's file (lstm_common.wgsl or
// gru_common.wgsl: the bindings `w_hh` and `hs` and `finish_unit`) and
// subgroup.wgsl come first. A workgroup is one subgroup owning 8 hidden
// units (one per lane) x 8 batch rows: lane l loads row b0 + l of h_{t-1},
// four values at a time, and the broadcasts give every lane all 8 rows, so
// each loaded h value feeds 8 units x 4 gates and each loaded weight vec4 8
// rows. The same sums in the same order as the cell's step kernel without
// tiles, so the same results to the bit.

// Sums of 8 rows -> the end of the step for each row this group owns.
// acc is passed by value: indexing it with a loop counter here keeps the
// caller's accumulators in registers.
fn finish_rows(acc: array<vec4<f32>, 8>, b0: u32, j: u32) {
    for (var i = 0u; i < LANE_ROWS; i++) {
        let b = b0 + i;
        if (b >= p.batch) {
            break;
        }
        finish_unit(b, j, acc[i]);
    }
}

@compute @workgroup_size(8)
fn step_subgroup(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(subgroup_invocation_id) lane: u32,
) {
    let H = p.units;
    let K = p.rec;
    let j = wg.x * LANES + lane;
    // Units past H and rows past the batch re-read the last one and are not
    // written.
    let unit = min(j, H - 1u);
    let b0 = wg.y * LANES;
    let h_row = p.h_prev_offset + min(b0 + lane, p.batch - 1u) * K;
    var acc: array<vec4<f32>, 8>;
    let k4_end = K & ~3u;
    var k = 0u;
    for (; k < k4_end; k += 4u) {
        let hv = vec4<f32>(hs[h_row + k], hs[h_row + k + 1u], hs[h_row + k + 2u], hs[h_row + k + 3u]);
        fma_rows(&acc, hv.x, w_hh[k * H + unit]);
        fma_rows(&acc, hv.y, w_hh[(k + 1u) * H + unit]);
        fma_rows(&acc, hv.z, w_hh[(k + 2u) * H + unit]);
        fma_rows(&acc, hv.w, w_hh[(k + 3u) * H + unit]);
    }
    for (; k < K; k++) {
        fma_rows(&acc, hs[h_row + k], w_hh[k * H + unit]);
    }
    if (j < H) {
        finish_rows(acc, b0, j);
    }
}
