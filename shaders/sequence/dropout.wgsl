// Inverted dropout between layers, in place: x[n] *= keep(n) ? 1/(1-p) : 0.
// keep(n) comes from a counter-based hash of (seed, n), so the backward pass
// regenerates the forward's mask from the seed (nothing is stored) and the
// host twin (src/kernels/dropout.rs) computes the same bits.

struct DropoutParams {
    len: u32,
    seed: u32,
    // Drop when hash < threshold = p * 2^32.
    threshold: u32,
    scale: f32,
    // Invocations per row of the dispatch grid.
    grid_width: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: DropoutParams;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;

// PCG's output permutation of one LCG step (O'Neill 2014): a well-mixed u32.
fn pcg_hash(v: u32) -> u32 {
    let state = v * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

@compute @workgroup_size(256)
fn dropout(@builtin(global_invocation_id) gid: vec3<u32>) {
    let n = gid.y * p.grid_width + gid.x;
    if (n >= p.len) {
        return;
    }
    let keep = pcg_hash(n ^ pcg_hash(p.seed)) >= p.threshold;
    x[n] = select(0.0, x[n] * p.scale, keep);
}
