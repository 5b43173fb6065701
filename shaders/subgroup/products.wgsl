// The recurrent products of the subgroup step kernels (subgroup/subgroup.wgsl comes
// first; subgroup/step.wgsl, rnn/step_subgroup.wgsl, subgroup/backward.wgsl
// include this file). A workgroup owns ROW_GROUPS groups of 8 rows; lane l
// loads row l of each group and the broadcasts hand it to every lane, whose
// four columns are its own. The including file defines:
// - `row_k4(row, r)`: elements r..r+3 of row `row` of the row operand
//   (h_{t-1}, or da_i; `row` is what group_rows gave this lane), and
//   `row_value(row, r)` element r alone;
// - `column_weights(r, cols)`: this lane's four columns at position r of
//   the sum (a unit's gates, or four units); `cols` names them and may run
//   past the last column, which column_weights clamps;
// - `finish_row(b, cols, v)`: the end of the step for row b (v holds the
//   sums of this lane's four columns).

// Row groups of 8 per workgroup (1..8): more groups reuse each loaded
// weight for more rows; fewer keep more workgroups for small batches.
override ROW_GROUPS: u32 = 1u;

fn weights_k4(r: u32, cols: vec4<u32>) -> mat4x4<f32> {
    return mat4x4<f32>(
        column_weights(r, cols),
        column_weights(r + 1u, cols),
        column_weights(r + 2u, cols),
        column_weights(r + 3u, cols),
    );
}

// acc_g[i][u] = sum over r < count, in order, of row_value(rows[g], r) of
// lane i times column_weights(r, cols)[u]; rows[g] is this lane's row of
// group g. The weights are loaded once for all groups. Pointers to eight
// separate arrays (not one array of them): constant indices keep every
// accumulator in registers.
fn grouped_products(
    rows: array<u32, 8>,
    count: u32,
    cols: vec4<u32>,
    a0: ptr<function, array<vec4<f32>, 8>>,
    a1: ptr<function, array<vec4<f32>, 8>>,
    a2: ptr<function, array<vec4<f32>, 8>>,
    a3: ptr<function, array<vec4<f32>, 8>>,
    a4: ptr<function, array<vec4<f32>, 8>>,
    a5: ptr<function, array<vec4<f32>, 8>>,
    a6: ptr<function, array<vec4<f32>, 8>>,
    a7: ptr<function, array<vec4<f32>, 8>>,
) {
    let r4_end = count & ~3u;
    var r = 0u;
    for (; r < r4_end; r += 4u) {
        let w = weights_k4(r, cols);
        fma_rows_k4(a0, row_k4(rows[0], r), w);
        if (ROW_GROUPS > 1u) { fma_rows_k4(a1, row_k4(rows[1], r), w); }
        if (ROW_GROUPS > 2u) { fma_rows_k4(a2, row_k4(rows[2], r), w); }
        if (ROW_GROUPS > 3u) { fma_rows_k4(a3, row_k4(rows[3], r), w); }
        if (ROW_GROUPS > 4u) { fma_rows_k4(a4, row_k4(rows[4], r), w); }
        if (ROW_GROUPS > 5u) { fma_rows_k4(a5, row_k4(rows[5], r), w); }
        if (ROW_GROUPS > 6u) { fma_rows_k4(a6, row_k4(rows[6], r), w); }
        if (ROW_GROUPS > 7u) { fma_rows_k4(a7, row_k4(rows[7], r), w); }
    }
    for (; r < count; r++) {
        let w = column_weights(r, cols);
        fma_rows(a0, row_value(rows[0], r), w);
        if (ROW_GROUPS > 1u) { fma_rows(a1, row_value(rows[1], r), w); }
        if (ROW_GROUPS > 2u) { fma_rows(a2, row_value(rows[2], r), w); }
        if (ROW_GROUPS > 3u) { fma_rows(a3, row_value(rows[3], r), w); }
        if (ROW_GROUPS > 4u) { fma_rows(a4, row_value(rows[4], r), w); }
        if (ROW_GROUPS > 5u) { fma_rows(a5, row_value(rows[5], r), w); }
        if (ROW_GROUPS > 6u) { fma_rows(a6, row_value(rows[6], r), w); }
        if (ROW_GROUPS > 7u) { fma_rows(a7, row_value(rows[7], r), w); }
    }
}

// The start of this lane's row in each group: `start + min(row, last) *
// stride` for row b0 + 8g + lane (rows past the last re-read it and are not
// written).
fn group_rows(start: u32, b0: u32, lane: u32, last: u32, stride: u32) -> array<u32, 8> {
    let b = b0 + lane;
    return array<u32, 8>(
        start + min(b, last) * stride,
        start + min(b + 8u, last) * stride,
        start + min(b + 16u, last) * stride,
        start + min(b + 24u, last) * stride,
        start + min(b + 32u, last) * stride,
        start + min(b + 40u, last) * stride,
        start + min(b + 48u, last) * stride,
        start + min(b + 56u, last) * stride,
    );
}

// finish_row for every row of the workgroup that exists, rows from b0.
// One call site in a loop: the end of a step is long (an LSTM cell, or a
// whole cell backward), and a copy per row and column took minutes to
// compile on lavapipe. The loop needs the sums in an indexable array, which
// lives in memory; the accumulators stay in registers until the copy.
fn finish_groups(
    b0: u32,
    cols: vec4<u32>,
    a0: ptr<function, array<vec4<f32>, 8>>,
    a1: ptr<function, array<vec4<f32>, 8>>,
    a2: ptr<function, array<vec4<f32>, 8>>,
    a3: ptr<function, array<vec4<f32>, 8>>,
    a4: ptr<function, array<vec4<f32>, 8>>,
    a5: ptr<function, array<vec4<f32>, 8>>,
    a6: ptr<function, array<vec4<f32>, 8>>,
    a7: ptr<function, array<vec4<f32>, 8>>,
) {
    var sums: array<array<vec4<f32>, 8>, 8>;
    sums[0] = *a0;
    if (ROW_GROUPS > 1u) { sums[1] = *a1; }
    if (ROW_GROUPS > 2u) { sums[2] = *a2; }
    if (ROW_GROUPS > 3u) { sums[3] = *a3; }
    if (ROW_GROUPS > 4u) { sums[4] = *a4; }
    if (ROW_GROUPS > 5u) { sums[5] = *a5; }
    if (ROW_GROUPS > 6u) { sums[6] = *a6; }
    if (ROW_GROUPS > 7u) { sums[7] = *a7; }
    for (var i = 0u; i < LANES * ROW_GROUPS; i++) {
        let b = b0 + i;
        if (b >= p.batch) {
            break;
        }
        finish_row(b, cols, sums[i / LANES][i % LANES]);
    }
}

// What every subgroup step kernel runs once it knows this lane's rows
// (group_rows) and columns: the products over `count` and the end of the
// step for every row of the workgroup from b0. The accumulators live here,
// eight separate arrays passed by pointer (see grouped_products).
fn step_products(rows: array<u32, 8>, count: u32, cols: vec4<u32>, b0: u32) {
    var a0: array<vec4<f32>, 8>;
    var a1: array<vec4<f32>, 8>;
    var a2: array<vec4<f32>, 8>;
    var a3: array<vec4<f32>, 8>;
    var a4: array<vec4<f32>, 8>;
    var a5: array<vec4<f32>, 8>;
    var a6: array<vec4<f32>, 8>;
    var a7: array<vec4<f32>, 8>;
    grouped_products(rows, count, cols, &a0, &a1, &a2, &a3, &a4, &a5, &a6, &a7);
    finish_groups(b0, cols, &a0, &a1, &a2, &a3, &a4, &a5, &a6, &a7);
}
