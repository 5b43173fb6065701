// Moving whole sequences between time order and step order, per batch row.
// A layer always runs "step s of row b"; for the reverse direction step s of
// row b is time lengths[b]-1-s, so each row starts at its own last valid
// step. Batch-first tensors ([B, T, ...]) are transposed on the way. The
// time-ordered side may be a column block of a wider tensor.
//   gather_steps:   dst[dst_offset + (s, b, :)] = src[time(s, b), b, col..col+W]
//                   (0 past the row's length)
//   scatter_output: dst[t, b, col..col+W] (+)= src[src_slot + step(t, b), b, :]
//                   (0 past the length)

struct SeqParams {
    seq: u32,
    batch: u32,
    // Values per (step, row) copied: I for gather, Ho for scatter.
    width: u32,
    // Row stride and column offset of the time-ordered tensor (src for
    // gather, dst for scatter): D*Ho and d*Ho for one direction's slice.
    stride: u32,
    col: u32,
    // 1 when the time-ordered tensor is batch-first [B, T, ...].
    batch_first: u32,
    // 1 for the reverse direction.
    reverse: u32,
    // Invocations per row of the dispatch grid (x groups * 256).
    grid_width: u32,
    // Scatter: the src slot of step 0 (1 for hs [T+1, B, W], whose slot 0 is
    // h0; 0 for a [T, B, W] tensor).
    src_slot: u32,
    // Gather: element offset of step 0 in dst.
    dst_offset: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: SeqParams;
@group(0) @binding(1) var<storage, read> lengths: array<u32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

// Scatter adds to what dst holds (input gradients of both directions).
override ACCUMULATE: bool = false;

// The time index that row b reaches at step s (both < lengths[b]).
fn time_of(s: u32, len: u32) -> u32 {
    return select(s, len - 1u - s, p.reverse == 1u);
}

// Element offset of (t, b) in a tensor of `width` columns.
fn offset(t: u32, b: u32, width: u32, batch_first: bool) -> u32 {
    return select((t * p.batch + b) * width, (b * p.seq + t) * width, batch_first);
}

@compute @workgroup_size(256)
fn gather_steps(@builtin(global_invocation_id) gid: vec3<u32>) {
    let n = gid.y * p.grid_width + gid.x;
    if (n >= p.seq * p.batch * p.width) {
        return;
    }
    let i = n % p.width;
    let b = (n / p.width) % p.batch;
    let s = n / (p.width * p.batch);
    let len = lengths[b];
    var v = 0.0;
    if (s < len) {
        v = src[offset(time_of(s, len), b, p.stride, p.batch_first == 1u) + p.col + i];
    }
    dst[p.dst_offset + n] = v;
}

@compute @workgroup_size(256)
fn scatter_output(@builtin(global_invocation_id) gid: vec3<u32>) {
    let n = gid.y * p.grid_width + gid.x;
    if (n >= p.seq * p.batch * p.width) {
        return;
    }
    let j = n % p.width;
    let b = (n / p.width) % p.batch;
    let t = n / (p.width * p.batch);
    let len = lengths[b];
    var v = 0.0;
    if (t < len) {
        // Step s of row b produced time t.
        let s = time_of(t, len);
        v = src[((s + p.src_slot) * p.batch + b) * p.width + j];
    }
    let at = offset(t, b, p.stride, p.batch_first == 1u) + p.col + j;
    if (ACCUMULATE) {
        v += dst[at];
    }
    dst[at] = v;
}
