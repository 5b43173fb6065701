//! The smallest useful program: build an LSTM on the GPU, run a batch of
//! sequences through it, read the result back and check it against the f64
//! reference.
//!
//!     cargo run --release --example forward

use wgpu_rnn::reference::check::{compare, Tolerance};
use wgpu_rnn::{reference, CellKind, Gpu, Rnn, RnnConfig, RnnWeights};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let gpu = Gpu::new()?;
    println!("adapter: {}", gpu.describe());

    let (seq, batch, input_size, hidden) = (20, 3, 8, 32);
    let config = RnnConfig::new(CellKind::Lstm, input_size, hidden)?;
    let weights = RnnWeights::random(config, 0, 1.0)?;
    let layer = Rnn::new(&gpu, &weights)?;

    // A sine wave per batch row, [T, B, I].
    let input: Vec<f32> = (0..seq * batch * input_size)
        .map(|n| {
            ((n % (batch * input_size)) as f32 * 0.1 + (n / (batch * input_size)) as f32 * 0.3)
                .sin()
        })
        .collect();
    let out = layer.forward_host(&input, seq, batch, None, None)?;
    println!("h_n of row 0: {:?}", &out.h_n[..4]);

    let truth = reference::forward(&weights, &input, seq, batch, None, None)?;
    let tol = Tolerance::recurrent(input_size + hidden, seq, truth.preactivation_scale);
    let agreement = compare(
        "output",
        &truth.output,
        &out.output,
        &[seq, batch, hidden],
        tol,
    )?;
    println!(
        "matches the f64 reference: max |err| {:.2e}",
        agreement.max_abs_err
    );
    Ok(())
}
