//! Every cell variant on the GPU against the f64 reference: awkward sizes
//! (1, primes, non-multiples of the 64-unit / 4-row / 64-wide tiles), with
//! and without h0/c0 and bias, at saturating magnitudes, and one long run.
//! Tolerance: `wgpu_rnn::reference::check::Tolerance::recurrent` (its doc derives it).

mod common;

use common::{check_against_reference, check_against_reference_on, gpu, tiled_gpu, Case};
use wgpu_rnn::reference::check::{compare, Tolerance};
use wgpu_rnn::{reference, CellKind, GruReset, Nonlinearity, Rnn, RnnConfig, RnnWeights};

/// (B, I, H, T): every value of B {1,3,8}, I {1,5,64,129}, H {1,3,67,256},
/// T {1,2,50} appears, and the pairs that stress tiling meet (H=67 and 256
/// with B=3 and 8, I=129 with H=67).
const SHAPES: [(usize, usize, usize, usize); 8] = [
    (1, 1, 1, 1),
    (3, 5, 3, 2),
    (8, 64, 67, 50),
    (3, 129, 256, 2),
    (1, 129, 67, 50),
    (8, 1, 256, 2),
    (3, 64, 1, 50),
    (8, 5, 3, 1),
];

fn sweep(cell: CellKind) {
    sweep_on(gpu(), cell);
}

fn sweep_on(device: &wgpu_rnn::Gpu, cell: CellKind) {
    for (n, &(batch, input, hidden, seq)) in SHAPES.iter().enumerate() {
        // Alternate bias and initial states so every combination is covered.
        let bias = n % 2 == 0;
        let config = RnnConfig::new(cell, input, hidden).unwrap().with_bias(bias);
        let weights = RnnWeights::random(config, 100 + n as u64, 1.0).unwrap();
        let mut case = Case::new(seq, batch);
        case.seed = n as u64;
        case.with_h0 = n % 4 < 2;
        case.with_c0 = n % 3 == 0;
        check_against_reference_on(device, &weights, case);
    }
}

/// The workgroup-tiled step kernels (the default on GPUs) on the same sweep.
#[test]
fn tiled_step_kernels_match_reference() {
    assert!(tiled_gpu().tuning().step_tiles());
    for cell in CellKind::ALL {
        sweep_on(tiled_gpu(), cell);
    }
}

#[test]
fn lstm_matches_reference() {
    sweep(CellKind::Lstm);
}

#[test]
fn peephole_lstm_matches_reference() {
    sweep(CellKind::PeepholeLstm);
}

#[test]
fn gru_reset_after_matches_reference() {
    sweep(CellKind::Gru(GruReset::After));
}

#[test]
fn gru_reset_before_matches_reference() {
    sweep(CellKind::Gru(GruReset::Before));
}

#[test]
fn rnn_tanh_matches_reference() {
    sweep(CellKind::Rnn(Nonlinearity::Tanh));
}

#[test]
fn rnn_relu_matches_reference() {
    sweep(CellKind::Rnn(Nonlinearity::Relu));
}

/// Random weights and inputs scaled so pre-activations reach ~1e4: outputs
/// stay finite and within the (scale-aware) tolerance.
fn saturating(cell: CellKind) {
    let config = RnnConfig::new(cell, 7, 13).unwrap();
    let weights = RnnWeights::random(config, 7, 1.0)
        .unwrap()
        .scaled(30.0)
        .unwrap();
    let mut case = Case::new(20, 3);
    case.input_scale = 1e3;
    case.with_h0 = true;
    case.with_c0 = true;
    check_against_reference(&weights, case);
}

/// Single-unit layers driven with x = ±1e4 through unit input weights and
/// no recurrence: every gate is exactly 0 or 1, every tanh exactly ±1.
fn exact_saturation(cell: CellKind) -> Vec<f32> {
    let config = RnnConfig::new(cell, 1, 1).unwrap().with_bias(false);
    let g = cell.gates();
    let peephole = (cell == CellKind::PeepholeLstm).then(|| vec![0.0; 3]);
    let weights =
        RnnWeights::new(config, vec![1.0; g], vec![0.0; g], None, None, peephole).unwrap();
    let layer = Rnn::new(gpu(), &weights).unwrap();
    let input = [1e4f32, 1e4, -1e4, -1e4, 1e4];
    let out = layer
        .forward_host(&input, input.len(), 1, None, None)
        .unwrap();
    assert!(
        out.output.iter().all(|v| v.is_finite()),
        "{}: {:?}",
        cell.name(),
        out.output
    );
    out.output
}

#[test]
fn lstm_saturates_exactly() {
    saturating(CellKind::Lstm);
    // i=f=o=1, g=1 at +1e4: c counts up; at -1e4 every gate is 0 and g=-1.
    let t1 = 1f64.tanh() as f32;
    let t2 = 2f64.tanh() as f32;
    let want = [t1, t2, 0.0, 0.0, t1];
    let got = exact_saturation(CellKind::Lstm);
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() <= 2.0 * f32::EPSILON,
            "lstm: got {got:?}, want {want:?}"
        );
    }
}

#[test]
fn peephole_lstm_saturates_exactly() {
    saturating(CellKind::PeepholeLstm);
    let t1 = 1f64.tanh() as f32;
    let t2 = 2f64.tanh() as f32;
    let want = [t1, t2, 0.0, 0.0, t1];
    let got = exact_saturation(CellKind::PeepholeLstm);
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() <= 2.0 * f32::EPSILON,
            "peephole: got {got:?}, want {want:?}"
        );
    }
}

#[test]
fn gru_reset_after_saturates_exactly() {
    saturating(CellKind::Gru(GruReset::After));
    // +1e4: z = 1 keeps h (0 at first); -1e4: z = 0, n = -1 exactly.
    assert_eq!(
        exact_saturation(CellKind::Gru(GruReset::After)),
        [0.0, 0.0, -1.0, -1.0, -1.0]
    );
}

#[test]
fn gru_reset_before_saturates_exactly() {
    saturating(CellKind::Gru(GruReset::Before));
    assert_eq!(
        exact_saturation(CellKind::Gru(GruReset::Before)),
        [0.0, 0.0, -1.0, -1.0, -1.0]
    );
}

#[test]
fn rnn_tanh_saturates_exactly() {
    saturating(CellKind::Rnn(Nonlinearity::Tanh));
    assert_eq!(
        exact_saturation(CellKind::Rnn(Nonlinearity::Tanh)),
        [1.0, 1.0, -1.0, -1.0, 1.0]
    );
}

#[test]
fn rnn_relu_saturates_exactly() {
    saturating(CellKind::Rnn(Nonlinearity::Relu));
    assert_eq!(
        exact_saturation(CellKind::Rnn(Nonlinearity::Relu)),
        [1e4, 1e4, 0.0, 0.0, 1e4]
    );
}

/// T = 1500: the error must not grow along the sequence. The worst error
/// in the last 100 steps stays within 10x of the worst in the first 100
/// (plus 64 ulp), and everything stays inside the sqrt(T) tolerance.
#[test]
fn long_sequence_error_stays_bounded() {
    for cell in [CellKind::Lstm, CellKind::Gru(GruReset::After)] {
        let (seq, batch, input, hidden) = (1500, 2, 5, 16);
        let config = RnnConfig::new(cell, input, hidden).unwrap();
        let weights = RnnWeights::random(config, 11, 1.0).unwrap();
        let mut case = Case::new(seq, batch);
        case.with_h0 = true;
        let overall = check_against_reference(&weights, case);

        let x = common::random_vec(
            &mut rand::SeedableRng::seed_from_u64(99),
            seq * batch * input,
            1.0,
        );
        let got = Rnn::new(gpu(), &weights)
            .unwrap()
            .forward_host(&x, seq, batch, None, None)
            .unwrap();
        let want = reference::forward(&weights, &x, seq, batch, None, None).unwrap();
        let window = 100 * batch * hidden;
        let err = |r: &[f64], g: &[f32]| {
            r.iter()
                .zip(g)
                .map(|(r, g)| (r - f64::from(*g)).abs())
                .fold(0.0, f64::max)
        };
        let n = want.output.len();
        let first = err(&want.output[..window], &got.output[..window]);
        let last = err(&want.output[n - window..], &got.output[n - window..]);
        eprintln!(
            "{} T={seq}: first-100 max err {first:.3e}, last-100 {last:.3e}, overall {:.3e}",
            cell.name(),
            overall.max_abs_err
        );
        assert!(
            last <= 10.0 * first + 64.0 * wgpu_rnn::reference::check::F32_UNIT_ROUNDOFF,
            "{}: error grew from {first:.3e} to {last:.3e} over {seq} steps",
            cell.name()
        );
        let tol = Tolerance::recurrent(input + hidden, seq, want.preactivation_scale);
        compare(
            "long output",
            &want.output,
            &got.output,
            &[seq, batch, hidden],
            tol,
        )
        .unwrap();
    }
}
