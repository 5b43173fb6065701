// Moving whole sequences between time order and step order, per batch row.
// A layer always runs "step s of row b"; for the reverse direction step s of
// row b is time lengths[b]-1-s, so each row starts at its own last valid
// step. Batch-first tensors ([B, T, W]) are transposed on the way.
//   gather_steps:   dst[s, b, :] = src[time(s, b), b, :]   (0 past the row's length)
//   scatter_output: dst[t, b, col..col+W] = hs[1 + step(t, b), b, :]  (0 past the length)

struct SeqParams {
    seq: u32,
    batch: u32,
    // Values per (step, row) copied: I for gather, Ho for scatter.
    width: u32,
    // Row stride of the destination (scatter: D*Ho), and the column offset.
    dst_width: u32,
    dst_col: u32,
    // 1 when src (gather) or dst (scatter) is batch-first [B, T, ...].
    batch_first: u32,
    // 1 for the reverse direction.
    reverse: u32,
    // Invocations per row of the dispatch grid (x groups * 256).
    grid_width: u32,
}

@group(0) @binding(0) var<uniform> p: SeqParams;
@group(0) @binding(1) var<storage, read> lengths: array<u32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

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
        v = src[offset(time_of(s, len), b, p.width, p.batch_first == 1u) + i];
    }
    dst[n] = v;
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
        // Step s of row b produced time t; its h is slot s+1 of hs [T+1, B, W].
        let s = time_of(t, len);
        v = src[((s + 1u) * p.batch + b) * p.width + j];
    }
    dst[offset(t, b, p.dst_width, p.batch_first == 1u) + p.dst_col + j] = v;
}
