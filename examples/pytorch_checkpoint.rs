//! Load a PyTorch `nn.LSTM` / `nn.GRU` / `nn.RNN` checkpoint and run it on
//! the GPU. The checkpoint is a `state_dict` saved with safetensors:
//!
//!     from safetensors.torch import save_file
//!     save_file(lstm.state_dict(), "lstm.safetensors")
//!
//!     cargo run --release --example pytorch_checkpoint [-- model.safetensors input.safetensors]
//!
//! Without arguments it runs a checked-in golden case (made by
//! scripts/make_golden.py) and compares with what PyTorch computed.

use std::path::PathBuf;

use wgpu_rnn::io::pytorch::load_state_dict;
use wgpu_rnn::io::tensors::TensorFile;
use wgpu_rnn::{Gpu, GpuTensor, RnnStack};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let golden = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/golden");
    let args: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    let (model_path, input_path) = match args.as_slice() {
        [m, i] => (m.clone(), i.clone()),
        [] => (
            golden.join("torch_lstm_basic.model.safetensors"),
            golden.join("torch_lstm_basic.input.safetensors"),
        ),
        _ => return Err("usage: pytorch_checkpoint [MODEL INPUT]".into()),
    };

    // The module's shape (cell, sizes, layers, direction) comes from the
    // parameter names and shapes; the weights load as PyTorch saved them.
    let model = load_state_dict(&TensorFile::read(&model_path)?)?;
    let config = *model.weights.config();
    println!("{}: {config:?}", model_path.display());

    let gpu = Gpu::new()?;
    let rnn = RnnStack::new(&gpu, &model.weights)?;

    // `input` is [T, B, I] ([B, T, I] for a batch-first module); `h0` and
    // `c0` are optional.
    let inputs = TensorFile::read(&input_path)?;
    let upload = |name: &str| -> Result<Option<GpuTensor>, Box<dyn std::error::Error>> {
        match inputs.get(name) {
            Some(t) => Ok(Some(GpuTensor::from_slice(
                &gpu,
                name,
                &t.to_f32(name)?,
                &t.shape,
            )?)),
            None => Ok(None),
        }
    };
    let input = upload("input")?.ok_or("the input file has no `input` tensor")?;
    let (h0, c0) = (upload("h0")?, upload("c0")?);
    let out = rnn
        .forward(&input, h0.as_ref(), c0.as_ref(), None)?
        .to_host()?;
    println!(
        "input {:?}: output starts {:?}",
        input.shape(),
        &out.output[..4]
    );

    // With the golden case, PyTorch's own output is beside the input.
    let expected = input_path
        .to_string_lossy()
        .replace(".input.", ".expected.");
    if let Ok(file) = TensorFile::read(std::path::Path::new(&expected)) {
        if let (Some(want), None) = (file.get("output"), inputs.get("lengths")) {
            let worst = want
                .values
                .iter()
                .zip(&out.output)
                .map(|(w, &g)| (w - f64::from(g)).abs())
                .fold(0.0, f64::max);
            println!("max |ours - PyTorch| = {worst:.2e}");
        }
    }
    Ok(())
}
