//! Host-side weights of one layer in PyTorch's layout and gate order.
//!
//! `weight_ih` is `[G*H, I]`, `weight_hh` is `[G*H, H]`, biases `[G*H]`, all
//! row-major, gate blocks in PyTorch's order (LSTM i,f,g,o; GRU r,z,n). A
//! peephole LSTM adds `peephole` `[3, H]`, rows (p_i, p_f, p_o). With an LSTM
//! projection (`proj_size = Ho`), `weight_hh` is `[G*H, Ho]` and `weight_hr`
//! `[Ho, H]`.

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::config::{CellKind, GruReset, Precision, RnnConfig, StackConfig};
use crate::error::{check_finite, element_count, Error, Result};

/// The parameters of one recurrent layer.
#[derive(Debug, Clone, PartialEq)]
pub struct RnnWeights {
    config: RnnConfig,
    weight_ih: Vec<f32>,
    weight_hh: Vec<f32>,
    bias_ih: Option<Vec<f32>>,
    bias_hh: Option<Vec<f32>>,
    peephole: Option<Vec<f32>>,
    weight_hr: Option<Vec<f32>>,
}

fn expect_len(what: &str, data: &[f32], shape: &[usize]) -> Result<()> {
    let n = element_count(what, shape)?;
    if data.len() != n {
        // Report the flat length we got against the shape we wanted.
        return Err(Error::shape(what, shape, &[data.len()]));
    }
    check_finite(what, data)
}

/// An optional tensor: present with `shape` when `shape` is `Some` (what
/// `needed_by` requires), absent otherwise.
fn expect_optional(
    what: &str,
    data: Option<&[f32]>,
    shape: Option<&[usize]>,
    needed_by: &str,
) -> Result<()> {
    match (shape, data) {
        (Some(shape), Some(data)) => expect_len(what, data, shape),
        (Some(shape), None) => Err(Error::config(
            what,
            format!("missing: {needed_by} needs shape {shape:?}"),
        )),
        (None, Some(_)) => Err(Error::config(
            what,
            format!("given, but not expected without {needed_by}"),
        )),
        (None, None) => Ok(()),
    }
}

impl RnnWeights {
    /// Checks every tensor against `config` (shape, presence, finiteness).
    ///
    /// Biases must be given exactly when `config.bias` is set; `peephole`
    /// exactly when the cell is [`CellKind::PeepholeLstm`]. For a projected
    /// LSTM use [`RnnWeights::with_projection_weights`].
    pub fn new(
        config: RnnConfig,
        weight_ih: Vec<f32>,
        weight_hh: Vec<f32>,
        bias_ih: Option<Vec<f32>>,
        bias_hh: Option<Vec<f32>>,
        peephole: Option<Vec<f32>>,
    ) -> Result<Self> {
        Self {
            config,
            weight_ih,
            weight_hh,
            bias_ih,
            bias_hh,
            peephole,
            weight_hr: None,
        }
        .validated()
    }

    /// Like [`RnnWeights::new`] for a config with `proj_size = Some(Ho)`,
    /// plus the projection `weight_hr` `[Ho, H]`.
    pub fn with_projection_weights(
        config: RnnConfig,
        weight_ih: Vec<f32>,
        weight_hh: Vec<f32>,
        bias_ih: Option<Vec<f32>>,
        bias_hh: Option<Vec<f32>>,
        peephole: Option<Vec<f32>>,
        weight_hr: Vec<f32>,
    ) -> Result<Self> {
        Self {
            config,
            weight_ih,
            weight_hh,
            bias_ih,
            bias_hh,
            peephole,
            weight_hr: Some(weight_hr),
        }
        .validated()
    }

    fn validated(self) -> Result<Self> {
        let config = self.config.validated()?;
        let (rows, i, h) = (config.gate_rows(), config.input_size, config.hidden_size);
        expect_len("weight_ih", &self.weight_ih, &[rows, i])?;
        expect_len("weight_hh", &self.weight_hh, &[rows, config.output_size()])?;
        let bias_shape = config.bias.then_some([rows]);
        expect_optional(
            "bias_ih",
            self.bias_ih.as_deref(),
            bias_shape.as_ref().map(|s| &s[..]),
            "bias = true",
        )?;
        expect_optional(
            "bias_hh",
            self.bias_hh.as_deref(),
            bias_shape.as_ref().map(|s| &s[..]),
            "bias = true",
        )?;
        let peephole = (config.cell == CellKind::PeepholeLstm).then_some([3, h]);
        expect_optional(
            "peephole",
            self.peephole.as_deref(),
            peephole.as_ref().map(|s| &s[..]),
            "a peephole LSTM",
        )?;
        let projection = config.proj_size.map(|ho| [ho, h]);
        expect_optional(
            "weight_hr",
            self.weight_hr.as_deref(),
            projection.as_ref().map(|s| &s[..]),
            "proj_size",
        )?;
        Ok(Self { config, ..self })
    }

    /// Random weights, uniform in `[-scale/sqrt(H), scale/sqrt(H)]` as PyTorch
    /// initialises them when `scale = 1`; reproducible from `seed`.
    pub fn random(config: RnnConfig, seed: u64, scale: f32) -> Result<Self> {
        let config = config.validated()?;
        check_finite("random weights' scale", &[scale])?;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let k = scale / (config.hidden_size as f32).sqrt();
        let mut fill =
            |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random_range(-k..=k)).collect() };
        let (rows, i, h) = (config.gate_rows(), config.input_size, config.hidden_size);
        let weight_ih = fill(rows * i);
        let weight_hh = fill(rows * config.output_size());
        let (bias_ih, bias_hh) = if config.bias {
            (Some(fill(rows)), Some(fill(rows)))
        } else {
            (None, None)
        };
        let peephole = (config.cell == CellKind::PeepholeLstm).then(|| fill(3 * h));
        match config.proj_size {
            None => Self::new(config, weight_ih, weight_hh, bias_ih, bias_hh, peephole),
            Some(ho) => {
                let weight_hr = fill(ho * h);
                Self::with_projection_weights(
                    config, weight_ih, weight_hh, bias_ih, bias_hh, peephole, weight_hr,
                )
            }
        }
    }

    /// Converts a GRU written in the seed's (Cho 2014) form into this crate's
    /// reset-before GRU.
    ///
    /// The seed writes, with `[h, x]` the concatenation of the previous hidden
    /// state and the input, each matrix `[H, H+I]`:
    /// `z = σ(W_z·[h,x] + b_z)`, `r = σ(W_r·[h,x] + b_r)`,
    /// `cand = tanh(W·[r*h, x] + b)`, `h' = (1-z)*h + z*cand`.
    /// PyTorch's convention is `h' = (1-z')*n + z'*h`, so `z' = 1-z = σ(-(...))`:
    /// the z rows and z bias are negated. The recurrent bias of each gate is
    /// zero; the seed's bias (if any) becomes `bias_ih`.
    pub fn from_seed_gru(
        input_size: usize,
        hidden_size: usize,
        w_z: &[f32],
        w_r: &[f32],
        w_cand: &[f32],
        biases: Option<(&[f32], &[f32], &[f32])>,
    ) -> Result<Self> {
        let config = RnnConfig::new(CellKind::Gru(GruReset::Before), input_size, hidden_size)?
            .with_bias(biases.is_some());
        let (h, i) = (hidden_size, input_size);
        for (what, m) in [("seed W_z", w_z), ("seed W_r", w_r), ("seed W", w_cand)] {
            expect_len(what, m, &[h, h + i])?;
        }
        // PyTorch rows are r, z, n; each seed row is [h-part | x-part].
        let mut weight_ih = Vec::with_capacity(3 * h * i);
        let mut weight_hh = Vec::with_capacity(3 * h * h);
        for (m, sign) in [(w_r, 1.0f32), (w_z, -1.0), (w_cand, 1.0)] {
            for row in m.chunks_exact(h + i) {
                weight_hh.extend(row[..h].iter().map(|v| sign * v));
                weight_ih.extend(row[h..].iter().map(|v| sign * v));
            }
        }
        let (bias_ih, bias_hh) = match biases {
            None => (None, None),
            Some((b_z, b_r, b_cand)) => {
                for (what, b) in [("seed b_z", b_z), ("seed b_r", b_r), ("seed b", b_cand)] {
                    expect_len(what, b, &[h])?;
                }
                let mut b = Vec::with_capacity(3 * h);
                b.extend_from_slice(b_r);
                b.extend(b_z.iter().map(|v| -v));
                b.extend_from_slice(b_cand);
                (Some(b), Some(vec![0.0; 3 * h]))
            }
        };
        Self::new(config, weight_ih, weight_hh, bias_ih, bias_hh, None)
    }

    /// Flips a GRU between PyTorch's z convention and the seed's
    /// (`h' = (1-z)*h + z*n`) by negating the z rows and z biases. The map is
    /// its own inverse.
    pub fn negate_gru_update_gate(mut self) -> Result<Self> {
        if !matches!(self.config.cell, CellKind::Gru(_)) {
            return Err(Error::config(
                "negate_gru_update_gate",
                format!("needs a GRU, the cell is {}", self.config.cell.name()),
            ));
        }
        let h = self.config.hidden_size;
        let (i, hh) = (self.config.input_size, self.config.output_size());
        self.weight_ih[h * i..2 * h * i]
            .iter_mut()
            .for_each(|v| *v = -*v);
        self.weight_hh[h * hh..2 * h * hh]
            .iter_mut()
            .for_each(|v| *v = -*v);
        for b in [&mut self.bias_ih, &mut self.bias_hh].into_iter().flatten() {
            b[h..2 * h].iter_mut().for_each(|v| *v = -*v);
        }
        Ok(self)
    }

    /// The layer's shape and options.
    pub fn config(&self) -> &RnnConfig {
        &self.config
    }
    /// `[G*H, I]`, row-major.
    pub fn weight_ih(&self) -> &[f32] {
        &self.weight_ih
    }
    /// `[G*H, H]`, row-major.
    pub fn weight_hh(&self) -> &[f32] {
        &self.weight_hh
    }
    /// `[G*H]`, when the layer has biases.
    pub fn bias_ih(&self) -> Option<&[f32]> {
        self.bias_ih.as_deref()
    }
    /// `[G*H]`, when the layer has biases.
    pub fn bias_hh(&self) -> Option<&[f32]> {
        self.bias_hh.as_deref()
    }
    /// `[3, H]` rows (p_i, p_f, p_o), for a peephole LSTM.
    pub fn peephole(&self) -> Option<&[f32]> {
        self.peephole.as_deref()
    }
    /// `[Ho, H]`, for an LSTM with a projection.
    pub fn weight_hr(&self) -> Option<&[f32]> {
        self.weight_hr.as_deref()
    }

    /// The weights a layer of `precision` computes with: for
    /// [`Precision::F16`], `weight_hh` and `weight_hr` rounded to the nearest
    /// f16 (ties to even); the rest unchanged. A weight outside f16's range
    /// (|w| > 65504) is an error, not an infinity.
    pub fn rounded_for(mut self, precision: Precision) -> Result<Self> {
        if precision == Precision::F32 {
            return Ok(self);
        }
        for (what, t) in [
            ("weight_hh", Some(&mut self.weight_hh)),
            ("weight_hr", self.weight_hr.as_mut()),
        ] {
            let Some(t) = t else { continue };
            for (i, v) in t.iter_mut().enumerate() {
                let half = half::f16::from_f32(*v);
                if !half.is_finite() {
                    return Err(Error::config(
                        what,
                        format!(
                            "element {i} is {v}, outside the range of f16 (|w| <= 65504): \
                             the layer cannot store it at precision f16"
                        ),
                    ));
                }
                *v = half.to_f32();
            }
        }
        Ok(self)
    }

    /// Scales every parameter by `factor` (used to drive cells into
    /// saturation), the projection too; a product past f32's range is an
    /// error.
    pub fn scaled(mut self, factor: f32) -> Result<Self> {
        let all = [
            Some(&mut self.weight_ih),
            Some(&mut self.weight_hh),
            self.bias_ih.as_mut(),
            self.bias_hh.as_mut(),
            self.peephole.as_mut(),
            self.weight_hr.as_mut(),
        ];
        for t in all.into_iter().flatten() {
            t.iter_mut().for_each(|v| *v *= factor);
        }
        self.validated()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_seed_gives_one_model_on_every_target() {
        // Xoshiro256++ everywhere; web/tests/browser.rs pins the same bits
        // in wasm32, where rand's SmallRng was another generator.
        let config = RnnConfig::new(CellKind::Lstm, 4, 8).unwrap();
        let w = RnnWeights::random(config, 1, 1.0).unwrap();
        let bits: Vec<u32> = w.weight_ih()[..4].iter().map(|v| v.to_bits()).collect();
        // [0.2203, 0.1747, -0.2827, 0.1741]
        assert_eq!(bits, [0x3e61a19a, 0x3e32ec42, 0xbe90c2c8, 0x3e3247ae]);
    }

    fn projected() -> RnnWeights {
        let config = RnnConfig::new(CellKind::PeepholeLstm, 3, 5)
            .unwrap()
            .with_projection(2)
            .unwrap();
        RnnWeights::random(config, 1, 1.0).unwrap()
    }

    #[test]
    fn scaling_keeps_and_scales_the_projection() {
        let w = projected();
        let scaled = w.clone().scaled(3.0).unwrap();
        let want: Vec<f32> = w.weight_hr().unwrap().iter().map(|v| v * 3.0).collect();
        assert_eq!(scaled.weight_hr().unwrap(), &want[..]);
        assert_eq!(
            scaled.peephole().unwrap()[0],
            w.peephole().unwrap()[0] * 3.0
        );
        assert!(matches!(
            w.scaled(f32::INFINITY),
            Err(Error::NonFinite { .. })
        ));
    }

    #[test]
    fn rounding_for_f16_touches_only_the_recurrent_weights() {
        let w = projected();
        let rounded = w.clone().rounded_for(Precision::F16).unwrap();
        assert_eq!(rounded.weight_ih(), w.weight_ih());
        assert_eq!(rounded.bias_hh(), w.bias_hh());
        for (got, was) in [
            (rounded.weight_hh(), w.weight_hh()),
            (rounded.weight_hr().unwrap(), w.weight_hr().unwrap()),
        ] {
            for (&g, &v) in got.iter().zip(was) {
                assert_eq!(g, half::f16::from_f32(v).to_f32());
                assert!((g - v).abs() <= v.abs() * 2f32.powi(-11));
            }
        }
        assert_eq!(w.clone().rounded_for(Precision::F32).unwrap(), w);
    }
}

/// The parameters of every layer and direction, index `l*D + d`.
#[derive(Debug, Clone, PartialEq)]
pub struct StackWeights {
    config: StackConfig,
    layers: Vec<RnnWeights>,
}

impl StackWeights {
    /// Checks that there is one `RnnWeights` per layer and direction, each
    /// with the config that position needs.
    pub fn new(config: StackConfig, layers: Vec<RnnWeights>) -> Result<Self> {
        let config = config.validated()?;
        if layers.len() != config.state_slots() {
            return Err(Error::shape(
                "layer weights (L*D)",
                &[config.state_slots()],
                &[layers.len()],
            ));
        }
        for (i, w) in layers.iter().enumerate() {
            let want = config.slot_config(i / config.directions(), i % config.directions());
            if *w.config() != want {
                return Err(Error::config(
                    format!(
                        "layer {} direction {}",
                        i / config.directions(),
                        i % config.directions()
                    ),
                    format!(
                        "weights are for {:?}, the module needs {want:?}",
                        w.config()
                    ),
                ));
            }
        }
        Ok(Self { config, layers })
    }

    /// Random weights for every layer (see [`RnnWeights::random`]).
    pub fn random(config: StackConfig, seed: u64, scale: f32) -> Result<Self> {
        let config = config.validated()?;
        check_finite("random weights' scale", &[scale])?;
        let layers = (0..config.state_slots())
            .map(|i| {
                RnnWeights::random(
                    config.slot_config(i / config.directions(), i % config.directions()),
                    seed.wrapping_add(i as u64 * 7919),
                    scale,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        Self::new(config, layers)
    }

    /// Every layer's [`RnnWeights::rounded_for`] `precision`.
    pub fn rounded_for(self, precision: Precision) -> Result<Self> {
        let layers = self
            .layers
            .into_iter()
            .map(|w| w.rounded_for(precision))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { layers, ..self })
    }

    /// The module's shape and options.
    pub fn config(&self) -> &StackConfig {
        &self.config
    }
    /// Weights of layer `l`, direction `d`.
    pub fn layer(&self, l: usize, d: usize) -> &RnnWeights {
        &self.layers[l * self.config.directions() + d]
    }
    /// Every layer's weights, index `l*D + d`.
    pub fn layers(&self) -> &[RnnWeights] {
        &self.layers
    }
}
