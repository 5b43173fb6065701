//! The kernels for CPU adapters with 8-lane subgroups (`gemm_texels`,
//! `step_subgroup`, `rnn_step_subgroup` and `backward_subgroup`, which read
//! their weights as texels): on where they should be, and the steps
//! bit-identical to the kernels they replace (the GEMM is checked against
//! its twin in `gemm_reduce.rs`, the texel packing in `texels.rs`).

mod common;

use common::{
    check_against_reference_on, per_step_gpu, plain_gpu, random_vec, row_texels_gpu, tiled_gpu,
    Case,
};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use wgpu_rnn::train::{HostSeeds, TrainOptions};
use wgpu_rnn::{
    CellKind, Gpu, GruReset, Nonlinearity, Rnn, RnnConfig, RnnStack, RnnWeights, StackConfig,
    StackWeights,
};

/// The cells with subgroup step kernels (every cell).
const CELLS: [CellKind; 6] = [
    CellKind::Lstm,
    CellKind::PeepholeLstm,
    CellKind::Gru(GruReset::After),
    CellKind::Gru(GruReset::Before),
    CellKind::Rnn(Nonlinearity::Tanh),
    CellKind::Rnn(Nonlinearity::Relu),
];

/// lavapipe on a 256-bit (AVX2) host has 8-lane subgroups: the kernels must
/// be on there, or the other tests here compare a kernel with itself.
#[test]
fn lavapipe_with_8_lanes_runs_the_subgroup_kernels() {
    let gpu = per_step_gpu();
    let info = gpu.info();
    let eight_lanes = info.subgroup_min_size == 8 && info.subgroup_max_size == 8;
    eprintln!(
        "{}: subgroups {}..{}, subgroup kernels {}",
        info.name,
        info.subgroup_min_size,
        info.subgroup_max_size,
        gpu.tuning().subgroup_kernels()
    );
    if info.name.contains("llvmpipe") && eight_lanes {
        assert!(gpu.tuning().subgroup_kernels());
    }
    assert!(!plain_gpu().tuning().subgroup_kernels());
    // Forced workgroup tiles test the GPU kernels (gemm_nt, tiled steps).
    assert!(!tiled_gpu().tuning().subgroup_kernels());
    // The cases below alternate between rows read from their buffers (the
    // default at these lengths) and rows read as texels (forced).
    assert!(!per_step_gpu().tuning().row_texels(70, 70));
    assert!(row_texels_gpu().tuning().row_texels(1, 1));
    // By default: rows of 128 or more into as many outputs (the LSTM
    // backward at H = 64 multiplies 256-long rows into 64 outputs: no).
    assert!(!per_step_gpu().tuning().row_texels(256, 64));
    assert!(per_step_gpu().tuning().row_texels(512, 128));
}

/// The subgroup device of case `n`: rows from their buffers for even
/// cases, as texels for odd ones (each cell has both).
fn subgroup_gpu(n: usize) -> &'static Gpu {
    if n.is_multiple_of(2) {
        per_step_gpu()
    } else {
        row_texels_gpu()
    }
}

#[test]
fn subgroup_steps_are_bit_identical_to_the_per_step_kernels() {
    // The same fused multiply-adds in the same order, the same activations.
    // Batches below, at and past the 8 rows of a lane group, and past the
    // 64 rows of a workgroup; units below, at and past 8 (and 32); a
    // projection (the state read is narrower than H).
    let mut rng = SmallRng::seed_from_u64(17);
    for cell in CELLS {
        // Every shape for the LSTM; the kernels' shape logic is shared, so
        // the other cells (whose variants each take seconds to compile on
        // lavapipe) get a batch of 1 and one of three row groups.
        let cases: &[(usize, usize, usize, usize, usize, f32)] = if cell == CellKind::Lstm {
            &[
                (1, 1, 0, 3, 1, 1.0),
                (8, 33, 0, 3, 1, 1.0),
                (3, 67, 0, 5, 3, 1.0),
                (5, 3, 0, 4, 8, 1.0),
                (2, 9, 0, 3, 9, 1.0),
                (4, 33, 0, 3, 17, 1e4),
                (4, 19, 7, 4, 5, 1.0),
                // A projection again, at an odd index: its rows as texels
                // (the batch of the one above: fewer pipelines to compile).
                (3, 21, 9, 3, 5, 1.0),
                // Eight row groups of 8 and a second workgroup of one row.
                (2, 9, 0, 2, 65, 1.0),
            ]
        } else {
            &[(8, 33, 0, 3, 1, 1.0), (4, 35, 0, 3, 17, 1e4)]
        };
        for (n, &(i, h, proj, t, b, scale)) in cases.iter().enumerate() {
            let mut config = RnnConfig::new(cell, i, h).unwrap();
            if proj > 0 {
                if !cell.has_cell_state() {
                    continue;
                }
                config = config.with_projection(proj).unwrap();
            }
            let weights = RnnWeights::random(config, 6, 1.0).unwrap();
            let out = config.output_size();
            let x = random_vec(&mut rng, t * b * i, scale);
            let h0 = random_vec(&mut rng, b * out, 1.0);
            let c0 = random_vec(&mut rng, b * h, 1.0);
            let run = |g: &Gpu| {
                Rnn::new(g, &weights)
                    .unwrap()
                    .forward_host(
                        &x,
                        t,
                        b,
                        Some(&h0),
                        cell.has_cell_state().then_some(&c0[..]),
                    )
                    .unwrap()
            };
            assert_eq!(
                run(subgroup_gpu(n)),
                run(plain_gpu()),
                "{} I={i} H={h} proj={proj} T={t} B={b} row texels {}",
                cell.name(),
                n % 2
            );
        }
    }
}

#[test]
fn subgroup_steps_match_the_reference() {
    for (n, (cell, (i, h, t, b, scale))) in CELLS
        .into_iter()
        .zip([
            (3, 67, 6, 11, 1.0),
            (67, 3, 4, 2, 1e4),
            (8, 40, 5, 16, 1.0),
            (5, 9, 7, 9, 1.0),
            (6, 33, 4, 9, 1.0),
            (2, 70, 3, 3, 1e4),
        ])
        .enumerate()
    {
        let weights = RnnWeights::random(RnnConfig::new(cell, i, h).unwrap(), 8, 1.0).unwrap();
        let case = Case {
            input_scale: scale,
            with_h0: true,
            with_c0: true,
            ..Case::new(t, b)
        };
        check_against_reference_on(subgroup_gpu(n), &weights, case);
    }
}

/// (I, H, projection, T, B, lengths).
type BackwardCase = (usize, usize, usize, usize, usize, Option<Vec<usize>>);

#[test]
fn subgroup_backward_steps_are_bit_identical_to_the_per_step_kernels() {
    // Every gradient of a training step: the backward step kernels sum in
    // the same order, and these products are too small for split-K, so the
    // GEMMs agree to the bit as well. Lengths exercise finished rows; the
    // projection has its own cell kernel after lstm_backward_subgroup.
    let mut rng = SmallRng::seed_from_u64(23);
    for cell in CELLS {
        // Every shape for the LSTM, two for the other cells (see above).
        let cases: Vec<BackwardCase> = if cell == CellKind::Lstm {
            vec![
                (1, 1, 0, 2, 1, None),
                (3, 67, 0, 4, 3, Some(vec![4, 1, 3])),
                (2, 9, 0, 3, 9, None),
                (4, 40, 0, 3, 17, None),
                (4, 19, 7, 4, 5, Some(vec![2, 4, 4, 1, 3])),
                (3, 21, 9, 3, 5, Some(vec![3, 1, 2, 3, 2])),
                (2, 9, 0, 2, 65, None),
            ]
        } else {
            vec![
                (3, 67, 0, 4, 3, Some(vec![4, 1, 3])),
                (4, 40, 0, 3, 17, None),
            ]
        };
        for (n, (i, h, proj, t, b, lengths)) in cases.into_iter().enumerate() {
            let mut layer = RnnConfig::new(cell, i, h).unwrap();
            if proj > 0 {
                if !cell.has_cell_state() {
                    continue;
                }
                layer = layer.with_projection(proj).unwrap();
            }
            let config = StackConfig::new(layer);
            let weights = StackWeights::random(config, 7, 1.0).unwrap();
            let out = layer.output_size();
            let x = random_vec(&mut rng, t * b * i, 1.0);
            let h0 = random_vec(&mut rng, b * out, 1.0);
            let c0 = random_vec(&mut rng, b * h, 1.0);
            let g_out = random_vec(&mut rng, t * b * out, 1.0);
            let g_c = random_vec(&mut rng, b * h, 1.0);
            let lstm = cell.has_cell_state();
            let run = |g: &Gpu| {
                let seeds = HostSeeds {
                    output: Some(&g_out),
                    h_n: None,
                    c_n: lstm.then_some(&g_c[..]),
                };
                RnnStack::new(g, &weights)
                    .unwrap()
                    .train_step_host(
                        &x,
                        t,
                        b,
                        Some(&h0),
                        lstm.then_some(&c0[..]),
                        lengths.as_deref(),
                        seeds,
                        TrainOptions::default(),
                    )
                    .unwrap()
            };
            assert_eq!(
                run(subgroup_gpu(n)),
                run(plain_gpu()),
                "{} I={i} H={h} proj={proj} T={t} B={b} row texels {}",
                cell.name(),
                n % 2
            );
        }
    }
}
