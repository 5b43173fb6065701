//! Comparing GPU results with the f64 reference: one helper used by the tests
//! and by `bench` (which refuses to time a kernel that fails it).

use std::fmt;

/// Pass when `|ref - got| <= atol + rtol * |ref|`; NaN never passes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    /// Absolute part of the allowed error.
    pub atol: f64,
    /// Part of the allowed error relative to `|ref|`.
    pub rtol: f64,
}

/// Unit roundoff of f32 (half an ulp of 1).
pub const F32_UNIT_ROUNDOFF: f64 = f32::EPSILON as f64 / 2.0;

impl Tolerance {
    /// The tolerance for a recurrent layer run in f32 against the f64 truth.
    ///
    /// Each pre-activation is a dot product of `k = I + H` terms plus two
    /// biases. In f32 each term carries a rounding error of at most `u|term|`
    /// (`u = 2^-24`); with signs that do not conspire, the sum's error is a
    /// random walk of about `u·sqrt(k)·S`, where `S` is the largest `Σ|w·v|`
    /// of any pre-activation (`scale`, reported by the reference). We allow 4
    /// such deviations plus 16 ulp for exp, tanh and the state update (gate
    /// nonlinearities have slope <= 1, so they do not amplify). Errors of
    /// `h_{t-1}` re-enter step t; for a non-expanding recurrence they add up
    /// at most like a random walk too, hence the factor `sqrt(T)`.
    ///
    /// Measured errors are ~10x below this (1e-7 to 5e-7 at S of 1 to 5);
    /// Higham's worst-case `k·u·S·T` would be 10-100x looser again and
    /// pass wrong kernels.
    pub fn recurrent(k: usize, seq: usize, scale: f64) -> Self {
        let u = F32_UNIT_ROUNDOFF;
        let per_step = u * (4.0 * ((k + 2) as f64).sqrt() * scale.max(1.0) + 16.0);
        Tolerance {
            atol: per_step * (seq as f64).sqrt(),
            rtol: 8.0 * u,
        }
    }
}

impl Tolerance {
    /// [`Tolerance::recurrent`] for a whole module: the widest dot product is
    /// a layer input (`I`, or `D*Ho` for deeper layers) plus the state (`Ho`),
    /// and errors of one layer feed the next, so the sequence counts once per
    /// layer.
    pub fn stack(config: &crate::config::StackConfig, seq: usize, scale: f64) -> Self {
        let k = config.layer.input_size.max(config.output_size()) + config.layer.output_size();
        Self::recurrent(k, seq * config.num_layers, scale)
    }
}

/// The bound on a GPU gradient's error relative to its tensor's scale (see
/// [`relative_gradient_error`]). Each gradient is a sum over steps and
/// layers of products whose f32 rounding behaves like the forward's
/// ([`Tolerance::recurrent`]'s random walk, `u·sqrt(k)·sqrt(T·L)` with `k`
/// the widest dot product), times 8 for the chain of products per step.
/// Measured errors at unit scale are 10-250x below it.
pub fn gradient_bound(config: &crate::config::StackConfig, seq: usize) -> f64 {
    let k = config.layer.input_size.max(config.output_size()) + config.layer.output_size() + 2;
    8.0 * F32_UNIT_ROUNDOFF * (k as f64).sqrt() * ((seq * config.num_layers) as f64).sqrt()
}

/// `max |want - got|` over `max(1, max |want|)`: a gradient tensor's error
/// relative to its scale. Infinite when `got` holds a NaN or infinity.
pub fn relative_gradient_error(want: &[f64], got: impl IntoIterator<Item = f64>) -> f64 {
    let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    let err = want.iter().zip(got).fold(0.0f64, |m, (w, g)| {
        if g.is_finite() {
            m.max((w - g).abs())
        } else {
            f64::INFINITY
        }
    });
    err / scale
}

/// Largest errors seen by a passing comparison.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Agreement {
    /// Largest `|ref - got|`.
    pub max_abs_err: f64,
    /// Largest `|ref - got| / (atol + rtol*|ref|)`: below 1 passes.
    pub worst_ratio: f64,
    /// Number of values compared.
    pub count: usize,
}

/// A failed comparison, naming the first mismatching indices.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    /// What was compared.
    pub what: String,
    /// The tolerance that was applied.
    pub tolerance: Tolerance,
    /// Number of values outside the tolerance.
    pub failures: usize,
    /// Number of values compared.
    pub count: usize,
    /// `(multi-index, reference, got)` of the first few failures.
    pub first: Vec<(Vec<usize>, f64, f32)>,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: {} of {} values outside atol {:.3e} + rtol {:.3e}*|ref|",
            self.what, self.failures, self.count, self.tolerance.atol, self.tolerance.rtol
        )?;
        for (idx, r, g) in &self.first {
            writeln!(
                f,
                "  at {idx:?}: reference {r:.9e}, got {g:.9e}, diff {:.3e}",
                (r - f64::from(*g)).abs()
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for Mismatch {}

fn unravel(mut flat: usize, dims: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; dims.len()];
    for (i, &d) in dims.iter().enumerate().rev() {
        if d > 0 {
            idx[i] = flat % d;
            flat /= d;
        }
    }
    idx
}

/// Compares `got` with `reference`, both shaped `dims` (used only to name
/// indices, e.g. `[T, B, H]`).
pub fn compare(
    what: &str,
    reference: &[f64],
    got: &[f32],
    dims: &[usize],
    tol: Tolerance,
) -> Result<Agreement, Mismatch> {
    let mut first = Vec::new();
    let mut failures = 0;
    let mut max_abs_err: f64 = 0.0;
    let mut worst_ratio: f64 = 0.0;
    if reference.len() != got.len() {
        return Err(Mismatch {
            what: format!(
                "{what}: length {} vs reference {}",
                got.len(),
                reference.len()
            ),
            tolerance: tol,
            failures: reference.len().max(got.len()),
            count: reference.len(),
            first,
        });
    }
    for (i, (&r, &g)) in reference.iter().zip(got).enumerate() {
        let err = (r - f64::from(g)).abs();
        let allowed = tol.atol + tol.rtol * r.abs();
        // Written so that NaN in either side fails: NaN <= x is false.
        let ok = err <= allowed;
        if ok {
            max_abs_err = max_abs_err.max(err);
            worst_ratio = worst_ratio.max(err / allowed);
        } else {
            failures += 1;
            if first.len() < 8 {
                first.push((unravel(i, dims), r, g));
            }
        }
    }
    if failures > 0 {
        return Err(Mismatch {
            what: what.to_string(),
            tolerance: tol,
            failures,
            count: reference.len(),
            first,
        });
    }
    Ok(Agreement {
        max_abs_err,
        worst_ratio,
        count: reference.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOL: Tolerance = Tolerance {
        atol: 1e-6,
        rtol: 1e-6,
    };

    #[test]
    fn nan_never_passes() {
        let e = compare("x", &[1.0, f64::NAN], &[1.0, f32::NAN], &[2], TOL).unwrap_err();
        assert_eq!(e.failures, 1);
        let e = compare(
            "x",
            &[1.0],
            &[f32::NAN],
            &[1],
            Tolerance {
                atol: f64::INFINITY,
                rtol: 0.0,
            },
        )
        .unwrap_err();
        assert_eq!(e.failures, 1);
    }

    #[test]
    fn names_the_first_mismatch_by_index() {
        let reference = [0.0, 0.0, 0.0, 0.0, 0.0, 1.0];
        let got = [0.0, 0.0, 0.0, 0.0, 0.0, 2.0];
        let e = compare("out", &reference, &got, &[1, 2, 3], TOL).unwrap_err();
        assert_eq!(e.first[0].0, vec![0, 1, 2]);
        assert!(e.to_string().contains("[0, 1, 2]"));
    }

    #[test]
    fn within_tolerance_passes_and_reports() {
        let a = compare(
            "x",
            &[1.0, 2.0],
            &[1.0, 2.000001],
            &[2],
            Tolerance {
                atol: 1e-5,
                rtol: 0.0,
            },
        )
        .unwrap();
        assert!(a.max_abs_err > 0.0 && a.worst_ratio < 1.0);
    }

    #[test]
    fn tolerance_grows_with_length_and_scale() {
        let a = Tolerance::recurrent(10, 1, 1.0);
        assert!(Tolerance::recurrent(10, 100, 1.0).atol > a.atol);
        assert!(Tolerance::recurrent(10, 1, 1e4).atol > a.atol);
        assert!(Tolerance::recurrent(1000, 1, 1.0).atol > a.atol);
    }
}
