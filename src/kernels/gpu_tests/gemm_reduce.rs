//! The GEMM (every operand layout, with and without accumulation) and the
//! column-sum kernel against f64 CPU twins, on sizes that are 1, primes and
//! non-multiples of the 64x64 tile and 16-wide K slice.

use super::{gpu, plain_gpu, random_vec, tiled_gpu};
use crate::kernels::gemm::{gemm_host, GemmLayout};
use crate::kernels::reduce::column_sums_host;
use crate::reference::check::{compare, Tolerance, F32_UNIT_ROUNDOFF};
use rand::rngs::SmallRng;
use rand::SeedableRng;

/// C (+)= op(A) · op(B)ᵀ + bias in f64, with op(A) `[M, K]`, op(B) `[N, K]`.
fn gemm_twin(
    (m, n, k): (usize, usize, usize),
    layout: GemmLayout,
    a: &[f32],
    b: &[f32],
    bias: &[f32],
    c: &[f32],
) -> (Vec<f64>, f64) {
    let mut out = vec![0.0; m * n];
    let mut scale: f64 = 1.0;
    for r in 0..m {
        for col in 0..n {
            let mut sum = f64::from(bias[col]);
            let mut magnitude = sum.abs();
            for kk in 0..k {
                let av = f64::from(if layout.trans_a {
                    a[kk * m + r]
                } else {
                    a[r * k + kk]
                });
                let bv = f64::from(if layout.trans_b {
                    b[kk * n + col]
                } else {
                    b[col * k + kk]
                });
                sum += av * bv;
                magnitude += (av * bv).abs();
            }
            if layout.accumulate {
                sum += f64::from(c[r * n + col]);
                magnitude += f64::from(c[r * n + col]).abs();
            }
            scale = scale.max(magnitude);
            out[r * n + col] = sum;
        }
    }
    (out, scale)
}

#[test]
fn gemm_matches_twin_for_every_layout() {
    let mut rng = SmallRng::seed_from_u64(3);
    let shapes = [
        (1, 1, 1),
        (3, 67, 5),
        (67, 3, 129),
        (130, 65, 17),
        (64, 64, 16),
        (2, 200, 33),
        // Few tiles and a long K: split-K (dW_hh over T*B rows); thin
        // outputs split and accumulated (dW_ih with a few features).
        (100, 40, 3001),
        (67, 5, 1500),
        (3, 130, 2100),
        // K past lavapipe's loop limit (gemm_dot), and past the loop budget
        // on the tiled path: split-K in both kernels.
        (5, 3, 70_000),
        (256, 256, 16_400),
        // gemm_texels' edges: K of 1 and not a multiple of 4 (a part
        // texel), rows past a 64-row block, columns past a 32-column block;
        // split-K past the loop limit (splits of whole texels).
        (16, 16, 1),
        (65, 33, 7),
        (129, 31, 6),
        (70, 40, 70_000),
        (70, 40, 1027),
    ];
    let mut n_cases = 0;
    for (i, &(m, n, k)) in shapes.iter().enumerate() {
        for trans_a in [false, true] {
            for trans_b in [false, true] {
                // The 1G multiply-add case only in the weight-gradient layout.
                if m * n * k > 100_000_000 && !(trans_a && trans_b) {
                    continue;
                }
                let layout = GemmLayout {
                    trans_a,
                    trans_b,
                    accumulate: i % 2 == 1,
                };
                let a = random_vec(&mut rng, m * k, 1.0);
                let b = random_vec(&mut rng, n * k, 1.0);
                let bias = random_vec(&mut rng, n, 1.0);
                let c0 = random_vec(&mut rng, m * n, 1.0);
                let (want, scale) = gemm_twin((m, n, k), layout, &a, &b, &bias, &c0);
                // CPU adapters run big products as subgroup blocks (8-lane
                // subgroups) or 8x8 register blocks (plain); the tiled
                // device runs the GPUs' workgroup tiles.
                for device in [gpu(), plain_gpu(), tiled_gpu()] {
                    let got = gemm_host(device, (m, n, k), layout, &a, &b, &bias, &c0).unwrap();
                    // One dot product of k+2 terms: the recurrent tolerance for one step.
                    let tol = Tolerance::recurrent(k, 1, scale);
                    compare(
                        &format!("gemm {m}x{n}x{k} {layout:?}"),
                        &want,
                        &got,
                        &[m, n],
                        tol,
                    )
                    .unwrap_or_else(|e| panic!("{e}"));
                }
                n_cases += 1;
            }
        }
    }
    // Two shapes over 100M multiply-adds run one layout each.
    assert_eq!(n_cases, 4 * shapes.len() - 6);
}

#[test]
fn column_sums_match_twin() {
    let mut rng = SmallRng::seed_from_u64(4);
    for (rows, cols, accumulate, product) in [
        (1, 1, false, false),
        (3, 67, true, true),
        (257, 3, false, true),
        (1000, 300, true, false),
        // Past lavapipe's 65535 loop iterations per invocation: summed in
        // row blocks (wrong before that split).
        (70_000, 3, true, true),
    ] {
        let x = random_vec(&mut rng, rows * cols, 1.0);
        let y = random_vec(&mut rng, rows * cols, 1.0);
        let init = random_vec(&mut rng, cols, 1.0);
        let y_used = product.then_some(&y[..]);
        let got = column_sums_host(gpu(), rows, cols, accumulate, &x, y_used, &init).unwrap();
        let want: Vec<f64> = (0..cols)
            .map(|c| {
                let s: f64 = (0..rows)
                    .map(|r| {
                        let v = f64::from(x[r * cols + c]);
                        if product {
                            v * f64::from(y[r * cols + c])
                        } else {
                            v
                        }
                    })
                    .sum();
                s + if accumulate { f64::from(init[c]) } else { 0.0 }
            })
            .collect();
        // A sequential sum: each addition rounds by at most u times the
        // partial sum, and partial sums of uniform(-1, 1) terms stay within a
        // few sqrt(rows); so rows * 2*sqrt(rows) * u bounds the error (the
        // products add one rounding each, bounded by the same terms).
        let tol = Tolerance {
            atol: rows as f64 * 2.0 * (rows as f64).sqrt() * F32_UNIT_ROUNDOFF
                + 4.0 * F32_UNIT_ROUNDOFF,
            rtol: 0.0,
        };
        compare(
            &format!("column sums {rows}x{cols} product={product}"),
            &want,
            &got,
            &[cols],
            tol,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }
}
