//! One device per test binary. A missing adapter fails the test loudly:
//! these tests never skip.

use std::sync::OnceLock;

use wgpu_rnn::Gpu;

pub fn gpu() -> &'static Gpu {
    static GPU: OnceLock<Gpu> = OnceLock::new();
    GPU.get_or_init(|| {
        Gpu::new().unwrap_or_else(|e| {
            panic!("GPU tests need a wgpu adapter and must not be skipped: {e}")
        })
    })
}
