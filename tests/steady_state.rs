//! Steady-state calls allocate nothing: a stream's steps (device and host
//! frames, chunks, row resets) and `forward_into` on a kept plan make no
//! buffer or bind group, and resident memory stays flat over 10,000
//! real-time steps. One test in its own binary, so that no other test
//! allocates in the process while it measures.

use wgpu_rnn::{CellKind, GpuTensor, RnnConfig, RnnStack, StackConfig, StackWeights};

/// Resident memory of this process, in bytes.
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

#[test]
fn steady_state_steps_allocate_nothing() {
    let gpu = &wgpu_rnn::Gpu::new().expect("GPU tests need a wgpu adapter");
    let config = StackConfig::new(RnnConfig::new(CellKind::Lstm, 8, 16).unwrap()).with_layers(2);
    let stack = RnnStack::new(gpu, &StackWeights::random(config, 1, 1.0).unwrap()).unwrap();
    let batch = 2;
    let mut stream = stack.stream(batch).unwrap();
    let frame = vec![0.25f32; batch * 8];
    let x_t = GpuTensor::from_slice(gpu, "x_t", &frame, &[batch, 8]).unwrap();
    let chunk =
        GpuTensor::from_slice(gpu, "x", &vec![0.5f32; 8 * batch * 8], &[8, batch, 8]).unwrap();
    let out = stack.outputs(8, batch).unwrap();
    // First calls plan.
    stream.step(&x_t).unwrap();
    stream.steps(&chunk).unwrap();
    stream.step_host(&frame).unwrap();
    stream.reset_rows(&[true, false]).unwrap();
    stack.forward_into(&chunk, None, None, None, &out).unwrap();
    let before = gpu.resources_created();
    for n in 0..1000 {
        stream.step(&x_t).unwrap();
        if n % 10 == 0 {
            stream.steps(&chunk).unwrap();
            stream.step_host(&frame).unwrap();
            stream.reset_rows(&[n % 20 == 0, true]).unwrap();
            stack
                .forward_into(&chunk, Some(&out.h_n), out.c_n.as_ref(), None, &out)
                .unwrap();
        }
    }
    assert_eq!(
        gpu.resources_created(),
        before,
        "steady-state calls made buffers or bind groups"
    );

    // Resident memory over 10,000 real-time steps: flat after warm-up.
    for _ in 0..500 {
        stream.step_host(&frame).unwrap();
    }
    let warm = resident_bytes();
    for _ in 0..10_000 {
        stream.step_host(&frame).unwrap();
    }
    let grown = resident_bytes().saturating_sub(warm);
    eprintln!("resident memory grew {grown} bytes over 10,000 steps");
    assert!(grown < 4 << 20, "resident memory grew {grown} bytes");
}
