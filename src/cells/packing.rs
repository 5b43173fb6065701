//! Rearranges canonical (PyTorch-layout) weights into what the kernels read:
//! the host twins of `repack/repack.wgsl`, which does it on the device when a layer
//! is uploaded and after every optimizer step. Kernels never reorder gates.

// The host twins document the layouts; `recurrent_layout` is read by the
// layer, the rest by no test yet.
#![allow(dead_code)]

use super::cell_family;
use crate::config::{CellKind, GruReset};
use crate::weights::RnnWeights;

/// `b_ih + b_hh` per gate row, folded into the input projection, except the
/// n rows of a reset-after GRU: there `b_hn` sits inside `r * (...)`.
pub fn folded_bias(w: &RnnWeights) -> Vec<f32> {
    let cfg = w.config();
    let rows = cfg.gate_rows();
    let h = cfg.hidden_size;
    let (Some(b_ih), Some(b_hh)) = (w.bias_ih(), w.bias_hh()) else {
        return vec![0.0; rows];
    };
    let keep_hh_apart = cfg.cell == CellKind::Gru(GruReset::After);
    (0..rows)
        .map(|r| {
            let hh = if keep_hh_apart && r >= 2 * h {
                0.0
            } else {
                b_hh[r]
            };
            b_ih[r] + hh
        })
        .collect()
}

/// `b_hn` `[H]` of a reset-after GRU (zeros without biases).
pub fn gru_b_hn(w: &RnnWeights) -> Vec<f32> {
    let h = w.config().hidden_size;
    w.bias_hh()
        .map_or_else(|| vec![0.0; h], |b| b[2 * h..].to_vec())
}

/// Interleaves gate rows of `weight_hh` `[G*H, K]` (K = Ho) into
/// `[K (k), H (j), width]`: element `(k, j, s)` is `weight_hh[gates[s]*H + j][k]`,
/// zero where `s >= gates.len()`. A unit's gates become adjacent (one vector
/// load) and neighbouring units neighbouring addresses.
pub fn interleave_recurrent(w: &RnnWeights, gates: &[usize], width: usize) -> Vec<f32> {
    let h = w.config().hidden_size;
    let k_len = w.config().output_size();
    let w_hh = w.weight_hh();
    let mut out = vec![0.0; k_len * h * width];
    for k in 0..k_len {
        for j in 0..h {
            for (s, &g) in gates.iter().enumerate() {
                out[(k * h + j) * width + s] = w_hh[(g * h + j) * k_len + k];
            }
        }
    }
    out
}

/// `weight_hr` `[Ho, H]` transposed to `[H (k), Ho (j)]` for the projection
/// kernel, if the layer has one.
pub fn projection_weights(w: &RnnWeights) -> Option<Vec<f32>> {
    let (h, ho) = (w.config().hidden_size, w.config().output_size());
    w.weight_hr()
        .map(|w_hr| (0..h * ho).map(|n| w_hr[(n % ho) * h + n / ho]).collect())
}

/// The recurrent weight buffers each cell's step kernel binds, in binding order.
pub fn recurrent_weights(w: &RnnWeights) -> Vec<Vec<f32>> {
    cell_family(w.config().cell)
        .recurrent_layout()
        .iter()
        .map(|(gates, width)| interleave_recurrent(w, gates, *width))
        .collect()
}
