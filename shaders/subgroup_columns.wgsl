// The product of kernels where each lane owns four output columns and a
// workgroup's 8 rows are shared by broadcast (subgroup.wgsl comes first):
// backward_subgroup.wgsl (dS = weight_hhᵀ da) and rnn_step_subgroup.wgsl
// (W_hh h). The including file defines `row_value(at)`, element `at` of the
// row operand, and `column_weights(r, cols)`, the weights of this lane's
// four columns at position r of the sum.

// acc[i][u] = sum over r < count of row_value(row + r) of row i (lane i's
// `row`) times column_weights(r, cols)[u], in order of r.
fn column_products(row: u32, count: u32, cols: vec4<u32>) -> array<vec4<f32>, 8> {
    var acc: array<vec4<f32>, 8>;
    let r4_end = count & ~3u;
    var r = 0u;
    for (; r < r4_end; r += 4u) {
        let v = vec4<f32>(
            row_value(row + r),
            row_value(row + r + 1u),
            row_value(row + r + 2u),
            row_value(row + r + 3u),
        );
        fma_rows(&acc, v.x, column_weights(r, cols));
        fma_rows(&acc, v.y, column_weights(r + 1u, cols));
        fma_rows(&acc, v.z, column_weights(r + 2u, cols));
        fma_rows(&acc, v.w, column_weights(r + 3u, cols));
    }
    for (; r < count; r++) {
        fma_rows(&acc, row_value(row + r), column_weights(r, cols));
    }
    return acc;
}
