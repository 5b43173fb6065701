// Where the fused stream step (stream/step.wgsl) reads its weights: gate
// vector k of unit j of the block at `at` (in vectors), from the buffer.
fn gate_weights(at: u32, k: u32, j: u32) -> vec4<f32> {
    return wv[at + k * p.hidden + j];
}
