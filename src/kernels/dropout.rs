//! `sequence/dropout.wgsl`: inverted dropout between layers from a counter-based hash,
//! and its host twin (the reference and the tests use the same mask).

use std::mem::offset_of;

use bytemuck::{Pod, Zeroable};

use super::dispatch::{elementwise_grid, Dispatch};
use super::{Kernel, WgslTwin};
use crate::error::Result;
use crate::gpu::Gpu;

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, Pod, Zeroable)]
pub struct DropoutParams {
    pub len: u32,
    pub seed: u32,
    pub threshold: u32,
    pub scale: f32,
    pub grid_width: u32,
    pub _pad0: u32,
    pub _pad1: u32,
    pub _pad2: u32,
}

impl WgslTwin for DropoutParams {
    const WGSL_NAME: &'static str = "DropoutParams";
    fn fields() -> Vec<(&'static str, usize)> {
        vec![
            ("len", offset_of!(Self, len)),
            ("seed", offset_of!(Self, seed)),
            ("threshold", offset_of!(Self, threshold)),
            ("scale", offset_of!(Self, scale)),
            ("grid_width", offset_of!(Self, grid_width)),
            ("_pad0", offset_of!(Self, _pad0)),
            ("_pad1", offset_of!(Self, _pad1)),
            ("_pad2", offset_of!(Self, _pad2)),
        ]
    }
}

/// The twin of `pcg_hash` in the shader.
fn pcg_hash(v: u32) -> u32 {
    let state = v.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
    let word = ((state >> ((state >> 28) + 4)) ^ state).wrapping_mul(277_803_737);
    (word >> 22) ^ word
}

/// One dropout mask: drop probability `p` in `[0, 1)` and a 32-bit seed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DropoutMask {
    pub p: f32,
    pub seed: u32,
}

impl DropoutMask {
    fn threshold(self) -> u32 {
        (f64::from(self.p) * 4_294_967_296.0)
            .round()
            .min(f64::from(u32::MAX)) as u32
    }

    fn scale(self) -> f32 {
        1.0 / (1.0 - self.p)
    }

    /// Whether element `n` is kept.
    pub fn keeps(self, n: usize) -> bool {
        pcg_hash(n as u32 ^ pcg_hash(self.seed)) >= self.threshold()
    }

    /// The factor element `n` is multiplied by: `1/(1-p)` or 0.
    pub fn factor(self, n: usize) -> f32 {
        if self.keeps(n) {
            self.scale()
        } else {
            0.0
        }
    }

    /// Multiplies `len` elements of `x` in place by [`DropoutMask::factor`].
    pub fn dispatch(self, gpu: &Gpu, x: &wgpu::Buffer, len: usize) -> Result<Dispatch> {
        let (groups, grid_width) = elementwise_grid(gpu, len as u64);
        let params = DropoutParams {
            len: len as u32,
            seed: self.seed,
            threshold: self.threshold(),
            scale: self.scale(),
            grid_width,
            ..Default::default()
        };
        Dispatch::new(gpu, Kernel::Dropout, &[], &params, &[("x", x)], groups)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_about_p_of_the_elements() {
        for p in [0.0f32, 0.1, 0.5, 0.9] {
            let mask = DropoutMask { p, seed: 7 };
            let n = 100_000;
            let dropped = (0..n).filter(|&i| !mask.keeps(i)).count();
            let rate = dropped as f64 / n as f64;
            assert!((rate - f64::from(p)).abs() < 0.01, "p={p}: dropped {rate}");
        }
        let a = DropoutMask { p: 0.5, seed: 1 };
        let b = DropoutMask { p: 0.5, seed: 2 };
        let same = (0..1000).filter(|&i| a.keeps(i) == b.keeps(i)).count();
        assert!(
            same < 600,
            "different seeds give different masks ({same}/1000 agree)"
        );
    }
}
