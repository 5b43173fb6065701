// out[n] = sum over m of x[m, n], or of x[m, n] * y[m, n] with PRODUCT, each
// operand a column block of a row-major matrix; with ACCUMULATE added to what
// out holds. The bias gradients (column sums of the gate gradients
// [T*B, G*H]) and the peephole gradients (sums of a gate gradient times a
// cell state). One invocation per column walks the rows in order
// (neighbouring invocations read neighbouring addresses); WGSL has no
// portable float atomics.

struct ReduceParams {
    rows: u32,
    cols: u32,
    // Element offset of (0, 0) and the row stride of x and y.
    x_offset: u32,
    x_stride: u32,
    y_offset: u32,
    y_stride: u32,
    out_offset: u32,
    _pad0: u32,
}

@group(0) @binding(0) var<uniform> p: ReduceParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

override PRODUCT: bool = false;
override ACCUMULATE: bool = false;

@compute @workgroup_size(256)
fn column_sums(@builtin(global_invocation_id) gid: vec3<u32>) {
    let n = gid.x;
    if (n >= p.cols) {
        return;
    }
    var sum = 0.0;
    for (var m = 0u; m < p.rows; m++) {
        var v = x[p.x_offset + m * p.x_stride + n];
        if (PRODUCT) {
            v *= y[p.y_offset + m * p.y_stride + n];
        }
        sum += v;
    }
    if (ACCUMULATE) {
        sum += out[p.out_offset + n];
    }
    out[p.out_offset + n] = sum;
}
