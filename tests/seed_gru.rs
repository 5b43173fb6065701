//! The seed's GRU, written exactly as the seed states it, against the library
//! through `RnnWeights::from_seed_gru` (reset-before cell, z negated):
//!   z = σ(W_z·[h,x]), r = σ(W_r·[h,x]), cand = tanh(W·[r*h, x]),
//!   h = (1-z)*h + z*cand.

mod common;

use common::{gpu, random_vec};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use wgpu_rnn::reference::check::{compare, Tolerance};
use wgpu_rnn::{reference, Rnn, RnnWeights};

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// `m · [a, b]` for `m` `[H, len(a)+len(b)]`, plus `bias`.
fn matvec_concat(m: &[f32], a: &[f64], b: &[f64], bias: Option<&[f32]>) -> Vec<f64> {
    let width = a.len() + b.len();
    m.chunks_exact(width)
        .enumerate()
        .map(|(row, w)| {
            let v = a
                .iter()
                .chain(b)
                .zip(w)
                .map(|(v, w)| v * f64::from(*w))
                .sum::<f64>();
            v + bias.map_or(0.0, |b| f64::from(b[row]))
        })
        .collect()
}

type SeedBiases<'a> = Option<(&'a [f32], &'a [f32], &'a [f32])>;

/// The seed's parameters: `[H, H+I]` matrices over `[h, x]`, optional biases.
struct SeedGru<'a> {
    w_z: &'a [f32],
    w_r: &'a [f32],
    w: &'a [f32],
    biases: SeedBiases<'a>,
}

/// The seed's equations, one batch row at a time, over `x` `[T, B, I]`.
fn seed_gru(
    p: &SeedGru,
    x: &[f32],
    (seq, batch, input, hidden): (usize, usize, usize, usize),
) -> Vec<f64> {
    let (w_z, w_r, w, biases) = (p.w_z, p.w_r, p.w, p.biases);
    let mut out = vec![0.0; seq * batch * hidden];
    for b in 0..batch {
        let mut h = vec![0.0; hidden];
        for t in 0..seq {
            let xt: Vec<f64> = x[(t * batch + b) * input..][..input]
                .iter()
                .map(|&v| f64::from(v))
                .collect();
            let z: Vec<f64> = matvec_concat(w_z, &h, &xt, biases.map(|b| b.0))
                .into_iter()
                .map(sigmoid)
                .collect();
            let r: Vec<f64> = matvec_concat(w_r, &h, &xt, biases.map(|b| b.1))
                .into_iter()
                .map(sigmoid)
                .collect();
            let rh: Vec<f64> = r.iter().zip(&h).map(|(r, h)| r * h).collect();
            let cand: Vec<f64> = matvec_concat(w, &rh, &xt, biases.map(|b| b.2))
                .into_iter()
                .map(f64::tanh)
                .collect();
            for j in 0..hidden {
                h[j] = (1.0 - z[j]) * h[j] + z[j] * cand[j];
            }
            out[(t * batch + b) * hidden..][..hidden].copy_from_slice(&h);
        }
    }
    out
}

#[test]
fn seed_equations_match_the_library_through_the_conversion() {
    for (input, hidden, seq, batch, with_bias) in [(3, 5, 12, 2, false), (6, 67, 9, 3, true)] {
        let mut rng = SmallRng::seed_from_u64(hidden as u64);
        let s = 1.0 / (hidden as f32).sqrt();
        let n = hidden * (hidden + input);
        let (w_z, w_r, w) = (
            random_vec(&mut rng, n, s),
            random_vec(&mut rng, n, s),
            random_vec(&mut rng, n, s),
        );
        let bs: Vec<Vec<f32>> = (0..3).map(|_| random_vec(&mut rng, hidden, s)).collect();
        let biases = with_bias.then(|| (&bs[0][..], &bs[1][..], &bs[2][..]));
        let x = random_vec(&mut rng, seq * batch * input, 1.0);

        let seed = SeedGru {
            w_z: &w_z,
            w_r: &w_r,
            w: &w,
            biases,
        };
        let truth = seed_gru(&seed, &x, (seq, batch, input, hidden));
        let weights = RnnWeights::from_seed_gru(input, hidden, &w_z, &w_r, &w, biases).unwrap();
        let tol = Tolerance::recurrent(input + hidden, seq, 4.0);

        // The converted weights in the f64 reference reproduce the seed to
        // f64 rounding: the conversion itself is exact.
        let via_reference = reference::forward(&weights, &x, seq, batch, None, None).unwrap();
        let max_diff = truth
            .iter()
            .zip(&via_reference.output)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(
            max_diff < 1e-12,
            "conversion differs from the seed by {max_diff:e}"
        );

        let gpu_out = Rnn::new(gpu(), &weights)
            .unwrap()
            .forward_host(&x, seq, batch, None, None)
            .unwrap();
        compare(
            "seed GRU on the GPU",
            &truth,
            &gpu_out.output,
            &[seq, batch, hidden],
            tol,
        )
        .unwrap_or_else(|m| panic!("{m}"));

        // Negating the z rows twice is the identity.
        let back = weights
            .clone()
            .negate_gru_update_gate()
            .unwrap()
            .negate_gru_update_gate()
            .unwrap();
        assert_eq!(back, weights);
    }
}
