// Rebuilds the layouts the forward kernels read from a layer's parameters in
// PyTorch's layout, on the device: after an optimizer step nothing has to go
// through the host. The host twins are in src/packing.rs.

struct RepackParams {
    // Elements written.
    len: u32,
    // Invocations per row of the dispatch grid.
    grid_width: u32,
    // interleave_gates: units H and the source's columns K.
    hidden: u32,
    k_len: u32,
    // interleave_gates: slots per unit.
    width: u32,
    // add_rows: the first element of a, and how many leading rows add b.
    a_offset: u32,
    b_rows: u32,
    // interleave_gates: the element of dst that element 0 goes to.
    dst_offset: u32,
    // interleave_gates: the gate block of slots 0..3; NONE writes zero.
    gate0: u32,
    gate1: u32,
    gate2: u32,
    gate3: u32,
}

const NONE: u32 = 0xffffffffu;

@group(0) @binding(0) var<uniform> p: RepackParams;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
// f32, or f16 for the weights of an f16 layer (already rounded to f16
// values on the host, so the conversion is exact).
@group(0) @binding(3) var<storage, read_write> dst: array<Weight>;

// dst[dst_offset + (k*H + j)*width + s] = a[(gates[s]*H + j)*K + k]: the
// gate rows of a unit adjacent, neighbouring units at neighbouring
// addresses. With width 1 and gates (0) it is the transpose of a [H, K].
@compute @workgroup_size(256)
fn interleave_gates(@builtin(global_invocation_id) gid: vec3<u32>) {
    let n = gid.y * p.grid_width + gid.x;
    if (n >= p.len) {
        return;
    }
    let s = n % p.width;
    let unit = n / p.width;
    let j = unit % p.hidden;
    let k = unit / p.hidden;
    let gate = select(select(p.gate3, p.gate2, s == 2u), select(p.gate1, p.gate0, s == 0u), s < 2u);
    var v = 0.0;
    if (gate != NONE) {
        v = a[(gate * p.hidden + j) * p.k_len + k];
    }
    dst[p.dst_offset + n] = Weight(v);
}

// dst[r] = a[a_offset + r] + b[r] for r < b_rows, a[a_offset + r] after:
// the folded bias b_ih + b_hh (the reset-after GRU keeps b_hn apart), or a
// plain copy of a block with b_rows = 0.
@compute @workgroup_size(256)
fn add_rows(@builtin(global_invocation_id) gid: vec3<u32>) {
    let r = gid.y * p.grid_width + gid.x;
    if (r >= p.len) {
        return;
    }
    var v = a[p.a_offset + r];
    if (r < p.b_rows) {
        v += b[r];
    }
    dst[r] = Weight(v);
}
