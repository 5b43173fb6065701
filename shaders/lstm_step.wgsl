// One LSTM (or peephole LSTM) time step, fused: the four recurrent dot
// products of a hidden unit, the gate activations and the state update.
// A workgroup owns WG hidden units x BT batch rows; h_{t-1} is staged in
// workgroup memory KT values at a time. Gate order i, f, g, o.

@group(0) @binding(0) var<uniform> p: StepParams;
// [steps, B, 4H]: x W_ih^T + b_ih + b_hh, gate blocks i, f, g, o. TRAIN
// replaces them with the activations i, f, g, o.
@group(0) @binding(1) var<storage, read_write> xg: array<f32>;
// [Ho (k), H (j)]: (i, f, g, o) weights of unit j for state element k, so
// one vec4 load brings all four gates and neighbouring invocations read
// neighbouring addresses.
@group(0) @binding(2) var<storage, read> w_hh: array<vec4<f32>>;
// [3, H] rows p_i, p_f, p_o (unused unless PEEPHOLE).
@group(0) @binding(3) var<storage, read> peephole: array<f32>;
// [B]: valid steps of each row.
@group(0) @binding(4) var<storage, read> lengths: array<u32>;
// [T+1, B, Ho]: slot 0 is h0, slot s+1 is h after step s.
@group(0) @binding(5) var<storage, read_write> hs: array<f32>;
// [B, H], updated in place: only unit (b, j) ever touches c[b, j]. TRAIN:
// [T+1, B, H], slot 0 is c0 and slot s+1 the cell state after step s.
@group(0) @binding(6) var<storage, read_write> c: array<f32>;
// [B, H]: o*tanh(c) for the projection kernel (written only if PROJ).
// TRAIN: [T, B, H], zero at a row's finished steps (see lstm_backward.wgsl).
@group(0) @binding(7) var<storage, read_write> m: array<f32>;

override PEEPHOLE: bool = false;
// With a projection, h = W_hr m is computed by projection_step.wgsl.
override PROJ: bool = false;

var<workgroup> h_tile: array<f32, 256>; // [BT][KT]

// The gate activations and the new cell state of unit j from its gate
// pre-activations (i, f, g, o) and c_{t-1}; the peepholes (PEEPHOLE) let i
// and f see c_{t-1} and o see c_t. Shared by both kernels of this file.
struct LstmGates {
    i: f32,
    f: f32,
    g: f32,
    o: f32,
    c: f32,
}

fn lstm_cell(pre: vec4<f32>, c_prev: f32, j: u32, H: u32) -> LstmGates {
    var i_pre = pre.x;
    var f_pre = pre.y;
    if (PEEPHOLE) {
        i_pre += peephole[j] * c_prev;
        f_pre += peephole[H + j] * c_prev;
    }
    let i = sigmoid(i_pre);
    let f = sigmoid(f_pre);
    let g = tanh_safe(pre.z);
    let c_new = f * c_prev + i * g;
    var o_pre = pre.w;
    if (PEEPHOLE) {
        o_pre += peephole[2u * H + j] * c_new;
    }
    return LstmGates(i, f, g, sigmoid(o_pre), c_new);
}

@compute @workgroup_size(64)
fn lstm_step(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
) {
    let H = p.units;
    let K = p.rec;
    let j = wg.x * WG + li;
    let b0 = wg.y * BT;
    var acc = array<vec4<f32>, 4>();
    if (TILED) {
        for (var k0 = 0u; k0 < K; k0 += KT) {
            for (var e = li; e < BT * KT; e += WG) {
                let b = b0 + e / KT;
                let k = k0 + e % KT;
                var v = 0.0;
                if (b < p.batch && k < K) {
                    v = hs[p.h_prev_offset + b * K + k];
                }
                h_tile[e] = v;
            }
            workgroupBarrier();
            if (j < H) {
                let kn = min(KT, K - k0);
                for (var kk = 0u; kk < kn; kk++) {
                    let w = w_hh[(k0 + kk) * H + j];
                    for (var bb = 0u; bb < BT; bb++) {
                        acc[bb] = fma(vec4<f32>(h_tile[bb * KT + kk]), w, acc[bb]);
                    }
                }
            }
            workgroupBarrier();
        }
    } else if (j < H) {
        // Every invocation reads the same h values straight from the buffer
        // (a cache broadcast): no workgroup tile, no barriers. Rows past the
        // batch repeat the last row and are never written.
        let r0 = p.h_prev_offset + min(b0, p.batch - 1u) * K;
        let r1 = p.h_prev_offset + min(b0 + 1u, p.batch - 1u) * K;
        let r2 = p.h_prev_offset + min(b0 + 2u, p.batch - 1u) * K;
        let r3 = p.h_prev_offset + min(b0 + 3u, p.batch - 1u) * K;
        for (var k = 0u; k < K; k++) {
            let w = w_hh[k * H + j];
            acc[0] = fma(vec4<f32>(hs[r0 + k]), w, acc[0]);
            if (ROWS > 1u) { acc[1] = fma(vec4<f32>(hs[r1 + k]), w, acc[1]); }
            if (ROWS > 2u) { acc[2] = fma(vec4<f32>(hs[r2 + k]), w, acc[2]); }
            if (ROWS > 3u) { acc[3] = fma(vec4<f32>(hs[r3 + k]), w, acc[3]); }
        }
    }
    if (j >= H) {
        return;
    }
    for (var bb = 0u; bb < BT; bb++) {
        let b = b0 + bb;
        if (b >= p.batch) {
            break;
        }
        let c_at = history(p.step, H) + b * H + j;
        let c_out_at = select(c_at, history(p.step + 1u, H) + b * H + j, TRAIN);
        let m_at = history(p.step, H) + b * H + j;
        if (p.step >= lengths[b]) {
            // Finished row: keep the state (the projection kernel copies h).
            if (!PROJ) {
                hs[p.h_out_offset + b * K + j] = hs[p.h_prev_offset + b * K + j];
            }
            if (TRAIN) {
                c[c_out_at] = c[c_at];
                if (PROJ) {
                    m[m_at] = 0.0;
                }
            }
            continue;
        }
        let row = p.xg_offset + b * 4u * H + j;
        let pre = acc[bb] + vec4<f32>(xg[row], xg[row + H], xg[row + 2u * H], xg[row + 3u * H]);
        let gates = lstm_cell(pre, c[c_at], j, H);
        let o = gates.o;
        let c_new = gates.c;
        c[c_out_at] = c_new;
        if (TRAIN) {
            xg[row] = gates.i;
            xg[row + H] = gates.f;
            xg[row + 2u * H] = gates.g;
            xg[row + 3u * H] = o;
        }
        let h = o * tanh_safe(c_new);
        if (PROJ) {
            m[m_at] = h;
        } else {
            hs[p.h_out_offset + b * K + j] = h;
        }
    }
}

// The persistent variant (inference, no projection, H <= 256): one workgroup
// of SEQ_WG >= H invocations owns BT batch rows and runs `p.steps` steps
// from `p.step`, h_{t-1} of its rows double-buffered in workgroup memory and
// c in registers: one dispatch per chunk of steps instead of one per step,
// one barrier per step. Rows are independent, so workgroups never wait for
// each other. Same sums in the same order as lstm_step without tiles. Loops
// over rows have the constant bound BT (rows past the batch compute on
// zeros and are not written) so that the compiler keeps acc and c_reg in
// registers.
override SEQ_WG: u32 = 256u;
const SEQ_MAX_UNITS: u32 = 256u;
var<workgroup> h_seq: array<f32, 2048>; // [2][BT][SEQ_MAX_UNITS]

@compute @workgroup_size(SEQ_WG)
fn lstm_sequence(
    @builtin(local_invocation_index) j: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
) {
    let H = p.units;
    let b0 = wg.y * BT;
    var c_reg = array<f32, 4>();
    if (j < H) {
        for (var bb = 0u; bb < BT; bb++) {
            var h0 = 0.0;
            if (b0 + bb < p.batch) {
                h0 = hs[p.h_prev_offset + (b0 + bb) * H + j];
                c_reg[bb] = c[(b0 + bb) * H + j];
            }
            h_seq[bb * SEQ_MAX_UNITS + j] = h0;
        }
    }
    workgroupBarrier();
    for (var s = 0u; s < p.steps; s++) {
        let cur = (s % 2u) * BT * SEQ_MAX_UNITS;
        let nxt = ((s + 1u) % 2u) * BT * SEQ_MAX_UNITS;
        let step = p.step + s;
        if (j < H) {
            var acc = array<vec4<f32>, 4>();
            for (var k = 0u; k < H; k++) {
                let w = w_hh[k * H + j];
                acc[0] = fma(vec4<f32>(h_seq[cur + k]), w, acc[0]);
                if (ROWS > 1u) { acc[1] = fma(vec4<f32>(h_seq[cur + SEQ_MAX_UNITS + k]), w, acc[1]); }
                if (ROWS > 2u) { acc[2] = fma(vec4<f32>(h_seq[cur + 2u * SEQ_MAX_UNITS + k]), w, acc[2]); }
                if (ROWS > 3u) { acc[3] = fma(vec4<f32>(h_seq[cur + 3u * SEQ_MAX_UNITS + k]), w, acc[3]); }
            }
            for (var bb = 0u; bb < BT; bb++) {
                let b = b0 + bb;
                var h = h_seq[cur + bb * SEQ_MAX_UNITS + j];
                let running = b < p.batch && step < lengths[min(b, p.batch - 1u)];
                if (running) {
                    let row = p.xg_offset + s * p.batch * 4u * H + b * 4u * H + j;
                    let pre = acc[bb] + vec4<f32>(xg[row], xg[row + H], xg[row + 2u * H], xg[row + 3u * H]);
                    let gates = lstm_cell(pre, c_reg[bb], j, H);
                    c_reg[bb] = gates.c;
                    h = gates.o * tanh_safe(gates.c);
                }
                if (b < p.batch) {
                    hs[p.h_out_offset + s * p.batch * H + b * H + j] = h;
                }
                h_seq[nxt + bb * SEQ_MAX_UNITS + j] = h;
            }
        }
        workgroupBarrier();
    }
    if (j < H) {
        for (var bb = 0u; bb < BT; bb++) {
            if (b0 + bb < p.batch) {
                c[(b0 + bb) * H + j] = c_reg[bb];
            }
        }
    }
}
