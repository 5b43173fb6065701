// out[n] = sum over m of x[m, n]  (x row-major [M, N]), or added to out with
// ACCUMULATE. The bias gradients: column sums of dgates [T*B, G*H]. One
// invocation per column walks the rows in order (neighbouring invocations
// read neighbouring addresses); WGSL has no portable float atomics.

struct ReduceParams {
    rows: u32,
    cols: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: ReduceParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

override ACCUMULATE: bool = false;

@compute @workgroup_size(256)
fn column_sums(@builtin(global_invocation_id) gid: vec3<u32>) {
    let n = gid.x;
    if (n >= p.cols) {
        return;
    }
    var sum = 0.0;
    for (var m = 0u; m < p.rows; m++) {
        sum += x[m * p.cols + n];
    }
    if (ACCUMULATE) {
        sum += out[n];
    }
    out[n] = sum;
}
