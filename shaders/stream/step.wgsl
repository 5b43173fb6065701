// A stream's steps through the whole stack in one dispatch: for each of
// `p.steps` frames, every layer in turn stages its input and h_{t-1} in
// workgroup memory, computes its input and recurrent products for the
// frame, applies its cell and writes its new state, the layers ordered by
// barriers inside the workgroup. Rows are independent:
// workgroup b owns batch row b, so no workgroup waits for another. The
// weights are repacked (only when a parameter changed) into one buffer of
// gate vectors and one of biases, one layer after another;
// the states live in the stream's own buffers between calls. Sums start
// from the bias and add the products in k order, as the f64 reference
// does, the input's and the recurrent state's apart. (common/common.wgsl, common/activations.wgsl and lstm/cell.wgsl
// come first: the cell functions, options and the LSTM cell.)

struct StreamParams {
    batch: u32,
    layers: u32,
    // Frames of `x` this dispatch runs.
    steps: u32,
    // I: the width of a frame.
    input: u32,
    // H, and Ho (the state width: H, or an LSTM's projection size).
    hidden: u32,
    out_size: u32,
    // 1: x and out are [B, K, .] (a batch-first stack); 0: [K, B, .].
    batch_first: u32,
    // Width of one row's halves in `scratch`: max(H, Ho).
    scratch_width: u32,
}

@group(0) @binding(0) var<uniform> p: StreamParams;
// The frames, [K, B, I] (batch-first [B, K, I]).
@group(0) @binding(1) var<storage, read> x: array<f32>;
// Every layer's W_ih as [I_l, H] and W_hh as [Ho, H] gate vectors (the
// gate rows of unit j for input element k, zero past the cell's gates:
// repack/repack.wgsl's interleave_gates), so neighbouring invocations read
// neighbouring vectors and one pass gives every gate.
@group(0) @binding(2) var<storage, read> wv: array<vec4<f32>>;
// Every layer's b_ih [G*H], b_hh [G*H], peepholes [3, H] and W_hr
// transposed [H, Ho], where the layer has them.
@group(0) @binding(3) var<storage, read> w: array<f32>;
// [L, 8]: the offsets of W_ih and W_hh in `wv` (in vectors), of b_ih,
// b_hh, the peepholes and W_hr transposed in `w`, then the layer's input
// width I_l, then 0.
@group(0) @binding(4) var<storage, read> offsets: array<u32>;
// [L, B, Ho]: the hidden states, read and written in place.
@group(0) @binding(5) var<storage, read_write> h: array<f32>;
// [L, B, H]: the LSTM's cell states; unused by the other cells.
@group(0) @binding(6) var<storage, read_write> c: array<f32>;
// [B, 2, max(H, Ho)]: per row, the layer's new state (or the LSTM's
// o * h(c) before its projection) until every unit has read the old one,
// and the reset-before GRU's r * h_{t-1} (or the projected h).
@group(0) @binding(7) var<storage, read_write> scratch: array<f32>;
// The top layer's output of every frame, [K, B, Ho] ([B, K, Ho]).
@group(0) @binding(8) var<storage, read_write> out: array<f32>;

// 0: LSTM (PEEPHOLE from lstm/cell.wgsl), 1: GRU with the reset gate after
// the recurrent product, 2: RNN (its function is F_FN), 3: GRU with the
// reset gate before it.
override CELL: u32 = 0u;
// An LSTM with a projection h = W_hr (o * h(c)).
override PROJ: bool = false;
// Whether the layers have b_ih and b_hh.
override BIAS: bool = true;
override STREAM_WG: u32 = 64u;
// Gates per unit: 4 (LSTM), 3 (GRU), 1 (RNN).
override GATES: u32 = 4u;

// Element offset of frame s of row b in a [K, B, width] (or [B, K, width])
// sequence.
fn frame_at(s: u32, b: u32, width: u32) -> u32 {
    if (p.batch_first != 0u) {
        return (b * p.steps + s) * width;
    }
    return (s * p.batch + b) * width;
}

// The biases of unit j's gates (G of them, zero past) from `at` (b_ih's
// or b_hh's offset).
fn biases(at: u32, j: u32) -> vec4<f32> {
    var v = vec4<f32>(0.0);
    if (BIAS) {
        let H = p.hidden;
        for (var g = 0u; g < GATES; g++) {
            v[g] = w[at + g * H + j];
        }
    }
    return v;
}

// The layer's input (I_l values) then h_{t-1} (Ho values) of the row,
// staged once per layer: every unit reads all of them.
const STAGED: u32 = 2048u;
var<workgroup> rows: array<f32, STAGED>;

// Stages layer l's input for row b at frame s (the frame itself for layer
// 0, the new state of the layer below for the others) and its h_{t-1}.
fn stage_rows(l: u32, s: u32, b: u32, t: u32) {
    let len = offsets[l * 8u + 6u];
    if (l == 0u) {
        let frame = frame_at(s, b, p.input);
        for (var k = t; k < len; k += STREAM_WG) {
            rows[k] = x[frame + k];
        }
    } else {
        let below = ((l - 1u) * p.batch + b) * p.out_size;
        for (var k = t; k < len; k += STREAM_WG) {
            rows[k] = h[below + k];
        }
    }
    let own = (l * p.batch + b) * p.out_size;
    for (var k = t; k < p.out_size; k += STREAM_WG) {
        rows[len + k] = h[own + k];
    }
}

// W_ih x + b_ih of layer l for unit j, every gate, from the staged input.
fn input_part(l: u32, j: u32) -> vec4<f32> {
    let len = offsets[l * 8u + 6u];
    let at = offsets[l * 8u];
    var acc = biases(offsets[l * 8u + 2u], j);
    for (var k = 0u; k < len; k++) {
        acc = fma(vec4<f32>(rows[k]), gate_weights(at, k, j), acc);
    }
    return acc;
}

// W_hh h_{t-1} + b_hh of layer l for unit j, every gate, from the staged
// state.
fn hidden_part(l: u32, j: u32) -> vec4<f32> {
    let len = offsets[l * 8u + 6u];
    let at = offsets[l * 8u + 1u];
    var acc = biases(offsets[l * 8u + 3u], j);
    for (var k = 0u; k < p.out_size; k++) {
        acc = fma(vec4<f32>(rows[len + k]), gate_weights(at, k, j), acc);
    }
    return acc;
}

// The reset-before GRU's W_hn (r * h_{t-1}) + b_hn for unit j of row b,
// r * h from the second half of the row's scratch.
fn reset_hidden_part(l: u32, b: u32, j: u32) -> f32 {
    let at = offsets[l * 8u + 1u];
    let src = (2u * b + 1u) * p.scratch_width;
    var acc = biases(offsets[l * 8u + 3u], j).z;
    for (var k = 0u; k < p.out_size; k++) {
        acc = fma(scratch[src + k], gate_weights(at, k, j).z, acc);
    }
    return acc;
}

// LSTM: the cell of every unit; c in place, o * h(c) to the scratch.
fn lstm_units(l: u32, b: u32, t: u32) {
    let H = p.hidden;
    let c_at = (l * p.batch + b) * H;
    let new_at = 2u * b * p.scratch_width;
    let pe = offsets[l * 8u + 4u];
    for (var j = t; j < H; j += STREAM_WG) {
        let pre = input_part(l, j) + hidden_part(l, j);
        var peep = vec3<f32>(0.0);
        if (PEEPHOLE) {
            peep = vec3<f32>(w[pe + j], w[pe + H + j], w[pe + 2u * H + j]);
        }
        let gates = lstm_cell(pre, c[c_at + j], peep);
        c[c_at + j] = gates.c;
        scratch[new_at + j] = gates.o * act_h(gates.c);
    }
}

// The projection h = W_hr m of every output unit, m from the scratch's
// first half into its second.
fn project_units(l: u32, b: u32, t: u32) {
    let H = p.hidden;
    let Ho = p.out_size;
    let m_at = 2u * b * p.scratch_width;
    let wr = offsets[l * 8u + 5u];
    for (var q = t; q < Ho; q += STREAM_WG) {
        var acc = 0.0;
        for (var k = 0u; k < H; k++) {
            acc = fma(w[wr + k * Ho + q], scratch[m_at + k], acc);
        }
        scratch[m_at + p.scratch_width + q] = acc;
    }
}

// GRU (reset after), RNN, and the reset-before GRU's first half: the new
// state of every unit to the scratch (for the reset-before GRU: z there,
// r * h_{t-1} in the second half).
fn gate_units(l: u32, b: u32, t: u32) {
    let H = p.hidden;
    let h_at = (l * p.batch + b) * H;
    let new_at = 2u * b * p.scratch_width;
    for (var j = t; j < H; j += STREAM_WG) {
        let xin = input_part(l, j);
        let hid = hidden_part(l, j);
        if (CELL == 2u) {
            scratch[new_at + j] = act_f(xin.x + hid.x);
            continue;
        }
        let r = act_f(xin.x + hid.x);
        let z = act_f(xin.y + hid.y);
        if (CELL == 3u) {
            scratch[new_at + j] = z;
            scratch[new_at + p.scratch_width + j] = r * h[h_at + j];
            continue;
        }
        let n = act_g(xin.z + r * hid.z);
        scratch[new_at + j] = (1.0 - z) * n + z * h[h_at + j];
    }
}

// The reset-before GRU's second half: n from r * h_{t-1}, then the state.
fn reset_before_units(l: u32, b: u32, t: u32) {
    let H = p.hidden;
    let h_at = (l * p.batch + b) * H;
    let new_at = 2u * b * p.scratch_width;
    for (var j = t; j < H; j += STREAM_WG) {
        let z = scratch[new_at + j];
        let n = act_g(input_part(l, j).z + reset_hidden_part(l, b, j));
        scratch[new_at + j] = (1.0 - z) * n + z * h[h_at + j];
    }
}

@compute @workgroup_size(STREAM_WG)
fn stream_step(
    @builtin(local_invocation_index) t: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
) {
    let b = wg.x;
    // The new state is in the scratch's second half after a projection.
    let new_at = 2u * b * p.scratch_width + select(0u, p.scratch_width, PROJ);
    for (var s = 0u; s < p.steps; s++) {
        for (var l = 0u; l < p.layers; l++) {
            stage_rows(l, s, b, t);
            workgroupBarrier();
            if (CELL == 0u) {
                lstm_units(l, b, t);
                if (PROJ) {
                    storageBarrier();
                    project_units(l, b, t);
                }
            } else {
                gate_units(l, b, t);
                if (CELL == 3u) {
                    storageBarrier();
                    reset_before_units(l, b, t);
                }
            }
            // Every unit has read h_{t-1}: the new state replaces it.
            storageBarrier();
            let h_at = (l * p.batch + b) * p.out_size;
            let top = l + 1u == p.layers;
            let out_at = frame_at(s, b, p.out_size);
            for (var q = t; q < p.out_size; q += STREAM_WG) {
                let v = scratch[new_at + q];
                h[h_at + q] = v;
                if (top) {
                    out[out_at + q] = v;
                }
            }
            // The layer above (or the next frame) reads it.
            storageBarrier();
        }
    }
}
