// The layer wavefront (inference; one direction; no projection): dispatch w
// runs step w - z of every layer z at once, so an L-layer stack takes
// T + L - 1 dependent dispatches instead of L*T, and each dispatch has L
// layers' work in flight. Layer z > 0 computes its input projection
// W_ih h^{z-1}_t inside the step: layer z-1 wrote h^{z-1}_t in the dispatch
// before. Only layer 0's input projection is a GEMM (its result `xg`).
// The grid's third axis is the layer. Sums run in the order lstm/step.wgsl
// uses. (common/common.wgsl, common/activations.wgsl and lstm/cell.wgsl
// come first.)

struct WaveParams {
    batch: u32,
    // H: units of every layer, and the input size of layers 1.. .
    units: u32,
    layers: u32,
    // This dispatch's index w: layer z runs step w - z (if in 0..seq).
    wave: u32,
    seq: u32,
    // Element offset of layer 0's step w in `xg` (when w < seq).
    xg_offset: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: WaveParams;
// [chunk, B, G*H]: layer 0's x W_ih^T + folded biases, gate blocks as the
// step kernels read them.
@group(0) @binding(1) var<storage, read> xg: array<f32>;
// Every layer's W_hh as [H (k), H (j)] gate vectors (see repack/repack.wgsl's
// interleave_gates): the recurrent weights, f16 in an f16 stack.
@group(0) @binding(2) var<storage, read> w_hh: array<vec4<Weight>>;
// W_ih of layers 1.. the same way (f32: input projections stay f32).
@group(0) @binding(3) var<storage, read> w_ih: array<vec4<f32>>;
// [L-1, G*H]: the folded biases of layers 1.. (layer 0's are in xg).
@group(0) @binding(4) var<storage, read> bias: array<f32>;
// LSTM: [L, 3, H] peepholes; GRU: [L, H] b_hn; RNN: unused.
@group(0) @binding(5) var<storage, read> extra: array<f32>;
// [B]: valid steps of each row.
@group(0) @binding(6) var<storage, read> lengths: array<u32>;
// [L, T+1, B, H]: slot 0 of a layer is its h0, slot s+1 its h after step s.
@group(0) @binding(7) var<storage, read_write> hs: array<f32>;
// LSTM: [L, B, H], updated in place; else unused.
@group(0) @binding(8) var<storage, read_write> c: array<f32>;

// 0: LSTM (PEEPHOLE from lstm/cell.wgsl), 1: GRU with the reset gate after
// the product, 2: RNN (its function is F_FN).
override CELL: u32 = 0u;

var<workgroup> rows_tile: array<f32, 256>; // [BT][KT]

// The gate weights of unit j for element k of layer z's state (input: of
// the layer below's output).
fn weights(input: bool, z: u32, k: u32, j: u32) -> vec4<f32> {
    let H = p.units;
    if (input) {
        return w_ih[((z - 1u) * H + k) * H + j];
    }
    return vec4<f32>(w_hh[(z * H + k) * H + j]);
}

// acc[bb] += sum over k < H of hs[rows_at + (b0+bb)*H + k] * weights(input, z, k, j)
// for the workgroup's BT rows (rows past the batch repeat the last one).
// Workgroup-uniform control flow only: the TILED path has barriers.
fn add_products(
    acc: ptr<function, array<vec4<f32>, 4>>,
    li: u32,
    j: u32,
    b0: u32,
    input: bool,
    z: u32,
    rows_at: u32,
) {
    let H = p.units;
    if (TILED) {
        for (var k0 = 0u; k0 < H; k0 += KT) {
            for (var e = li; e < BT * KT; e += WG) {
                let b = b0 + e / KT;
                let k = k0 + e % KT;
                var v = 0.0;
                if (b < p.batch && k < H) {
                    v = hs[rows_at + b * H + k];
                }
                rows_tile[e] = v;
            }
            workgroupBarrier();
            if (j < H) {
                let kn = min(KT, H - k0);
                for (var kk = 0u; kk < kn; kk++) {
                    let wv = weights(input, z, k0 + kk, j);
                    for (var bb = 0u; bb < BT; bb++) {
                        (*acc)[bb] = fma(vec4<f32>(rows_tile[bb * KT + kk]), wv, (*acc)[bb]);
                    }
                }
            }
            workgroupBarrier();
        }
    } else if (j < H) {
        let r0 = rows_at + min(b0, p.batch - 1u) * H;
        let r1 = rows_at + min(b0 + 1u, p.batch - 1u) * H;
        let r2 = rows_at + min(b0 + 2u, p.batch - 1u) * H;
        let r3 = rows_at + min(b0 + 3u, p.batch - 1u) * H;
        for (var k = 0u; k < H; k++) {
            let wv = weights(input, z, k, j);
            (*acc)[0] = fma(vec4<f32>(hs[r0 + k]), wv, (*acc)[0]);
            if (ROWS > 1u) { (*acc)[1] = fma(vec4<f32>(hs[r1 + k]), wv, (*acc)[1]); }
            if (ROWS > 2u) { (*acc)[2] = fma(vec4<f32>(hs[r2 + k]), wv, (*acc)[2]); }
            if (ROWS > 3u) { (*acc)[3] = fma(vec4<f32>(hs[r3 + k]), wv, (*acc)[3]); }
        }
    }
}

// Gates of the cell: 4, 3 or 1.
fn gates() -> u32 {
    return select(select(1u, 3u, CELL == 1u), 4u, CELL == 0u);
}

// Gate values (unused slots zero) of unit j in the [G, H] block at `at` of
// xg (from_xg) or bias.
fn gate_values(from_xg: bool, at: u32, H: u32) -> vec4<f32> {
    var v = vec4<f32>(0.0);
    for (var g = 0u; g < gates(); g++) {
        if (from_xg) {
            v[g] = xg[at + g * H];
        } else {
            v[g] = bias[at + g * H];
        }
    }
    return v;
}

// Ends step s of layer z for row b and unit j from the input part `x`
// (x W_ih^T + biases) and the recurrent products `rec`.
fn finish_unit(z: u32, s: u32, b: u32, j: u32, x: vec4<f32>, rec: vec4<f32>) {
    let H = p.units;
    let block = p.batch * H;
    let prev_at = (z * (p.seq + 1u) + s) * block + b * H + j;
    let h_prev = hs[prev_at];
    var h = h_prev;
    if (s < lengths[b]) {
        if (CELL == 0u) {
            let c_at = z * block + b * H + j;
            let pe = z * 3u * H + j;
            var peep = vec3<f32>(0.0);
            if (PEEPHOLE) {
                peep = vec3<f32>(extra[pe], extra[pe + H], extra[pe + 2u * H]);
            }
            let cell = lstm_cell(rec + x, c[c_at], peep);
            c[c_at] = cell.c;
            h = cell.o * act_h(cell.c);
        } else if (CELL == 1u) {
            let r = act_f(x.x + rec.x);
            let u = act_f(x.y + rec.y);
            let n = act_g(x.z + r * (rec.z + extra[z * H + j]));
            h = (1.0 - u) * n + u * h_prev;
        } else {
            h = act_f(x.x + rec.x);
        }
    }
    hs[prev_at + block] = h;
}

@compute @workgroup_size(64)
fn wavefront_step(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
) {
    let z = wg.z;
    // Layer z waits for the wave to reach it, and stops after its last step.
    if (p.wave < z || p.wave - z >= p.seq) {
        return;
    }
    let s = p.wave - z;
    let H = p.units;
    let j = wg.x * WG + li;
    let b0 = wg.y * BT;
    let block = p.batch * H;
    let layer_hs = z * (p.seq + 1u) * block;
    var rec = array<vec4<f32>, 4>();
    add_products(&rec, li, j, b0, false, z, layer_hs + s * block);
    var inp = array<vec4<f32>, 4>();
    if (z > 0u) {
        // h^{z-1} after step s: slot s+1 of the layer below.
        let below = layer_hs - (p.seq + 1u) * block + (s + 1u) * block;
        add_products(&inp, li, j, b0, true, z, below);
    }
    if (j >= H) {
        return;
    }
    let G = gates();
    for (var bb = 0u; bb < BT; bb++) {
        let b = b0 + bb;
        if (b >= p.batch) {
            break;
        }
        var x: vec4<f32>;
        if (z == 0u) {
            x = gate_values(true, p.xg_offset + b * G * H + j, H);
        } else {
            x = inp[bb] + gate_values(false, (z - 1u) * G * H + j, H);
        }
        finish_unit(z, s, b, j, x, rec[bb]);
    }
}
