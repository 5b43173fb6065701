// Transposes `blocks` row-major [rows, cols] matrices laid end to end:
// Burn keeps a gate's weight as [in, out], PyTorch's layout (ours) as
// [out, in], one gate block after the other.
struct Dims {
    rows: u32,
    cols: u32,
    blocks: u32,
    pad: u32,
}

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> dims: Dims;

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let c = id.x;
    let r = id.y;
    let b = id.z;
    if (r >= dims.rows || c >= dims.cols || b >= dims.blocks) {
        return;
    }
    let base = b * dims.rows * dims.cols;
    dst[base + c * dims.rows + r] = src[base + r * dims.cols + c];
}
