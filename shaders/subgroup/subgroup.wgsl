// Shared by the kernels for CPU adapters with 8-lane subgroups
// (gemm/texels.wgsl, subgroup/step.wgsl, subgroup/backward.wgsl); the
// host prepends it.
//
// llvmpipe runs 8 invocations as the lanes of one SIMD vector and turns
// every storage-buffer load into a loop over the lanes with a branch per
// lane: a load costs tens of instructions where an FMA costs one. So these
// kernels let each lane load a different row and hand the value to every
// lane with subgroupBroadcast, instead of each lane loading it again.

const LANES: u32 = 8u;
// Rows of a lane group that hold data: 1 for a batch of 1 (the step
// kernels then skip the products of rows that do not exist), else 8.
override LANE_ROWS: u32 = 8u;

// acc[i] += (v of lane i) * w for the 8 rows of a group: lane i loaded row
// i, and w is this lane's own operand at the same k. Constant indices only:
// the accumulators stay in registers (a loop here would not be unrolled and
// would put them in memory).
fn fma_rows(acc: ptr<function, array<vec4<f32>, 8>>, v: f32, w: vec4<f32>) {
    (*acc)[0] = fma(vec4<f32>(subgroupBroadcast(v, 0u)), w, (*acc)[0]);
    if (LANE_ROWS > 1u) { (*acc)[1] = fma(vec4<f32>(subgroupBroadcast(v, 1u)), w, (*acc)[1]); }
    if (LANE_ROWS > 2u) { (*acc)[2] = fma(vec4<f32>(subgroupBroadcast(v, 2u)), w, (*acc)[2]); }
    if (LANE_ROWS > 3u) { (*acc)[3] = fma(vec4<f32>(subgroupBroadcast(v, 3u)), w, (*acc)[3]); }
    if (LANE_ROWS > 4u) { (*acc)[4] = fma(vec4<f32>(subgroupBroadcast(v, 4u)), w, (*acc)[4]); }
    if (LANE_ROWS > 5u) { (*acc)[5] = fma(vec4<f32>(subgroupBroadcast(v, 5u)), w, (*acc)[5]); }
    if (LANE_ROWS > 6u) { (*acc)[6] = fma(vec4<f32>(subgroupBroadcast(v, 6u)), w, (*acc)[6]); }
    if (LANE_ROWS > 7u) { (*acc)[7] = fma(vec4<f32>(subgroupBroadcast(v, 7u)), w, (*acc)[7]); }
}

// Four consecutive k: av holds this lane's row at k..k+3, w's column kk
// this lane's operand at k+kk.
fn fma_rows_k4(acc: ptr<function, array<vec4<f32>, 8>>, av: vec4<f32>, w: mat4x4<f32>) {
    fma_rows(acc, av.x, w[0]);
    fma_rows(acc, av.y, w[1]);
    fma_rows(acc, av.z, w[2]);
    fma_rows(acc, av.w, w[3]);
}
