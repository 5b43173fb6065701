//! A GRU run frame by frame over four synthetic streams, as a real-time
//! loop would (one frame in, the new state out, every step), with stream
//! 2 restarted halfway (a new utterance in that slot). Prints the per-frame
//! latency percentiles and checks every output against whole-sequence
//! forwards of the same frames.
//!
//!     cargo run --release --example streaming

use std::time::Instant;

use wgpu_rnn::{CellKind, Gpu, GruReset, RnnConfig, RnnStack, StackConfig, StackWeights};

const FRAMES: usize = 400;
const RESET_AT: usize = 200;
const RESET_ROW: usize = 2;
const B: usize = 4;
const I: usize = 24;
const H: usize = 48;

/// Frame `t` of stream `b`: a chirp per stream, `I` features.
fn frame(t: usize, b: usize) -> Vec<f32> {
    (0..I)
        .map(|i| {
            let phase = 0.01 * (t * t) as f32 / FRAMES as f32 + 0.3 * i as f32 + b as f32;
            phase.sin() * (1.0 + 0.1 * b as f32)
        })
        .collect()
}

fn main() -> Result<(), wgpu_rnn::Error> {
    let gpu = Gpu::new()?;
    println!("adapter: {}", gpu.describe());
    let config =
        StackConfig::new(RnnConfig::new(CellKind::Gru(GruReset::After), I, H)?).with_layers(2);
    let gru = RnnStack::new(&gpu, &StackWeights::random(config, 3, 1.0)?)?;

    let mut stream = gru.stream(B)?;
    let mut outputs = Vec::with_capacity(FRAMES);
    let mut latencies = Vec::with_capacity(FRAMES);
    for t in 0..FRAMES {
        let x: Vec<f32> = (0..B).flat_map(|b| frame(t, b)).collect();
        if t == RESET_AT {
            let mut rows = [false; B];
            rows[RESET_ROW] = true;
            stream.reset_rows(&rows)?;
        }
        let start = Instant::now();
        outputs.push(stream.step_host(&x)?); // [B, H]: the top layer's new h
        latencies.push(start.elapsed().as_secs_f64() * 1e6);
    }
    latencies.sort_by(f64::total_cmp);
    let pct = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    println!(
        "{FRAMES} frames of {B} streams, 2-layer GRU I={I} H={H}: per-frame latency p50 {:.0} us, p90 {:.0} us, p99 {:.0} us, max {:.0} us",
        pct(0.5),
        pct(0.9),
        pct(0.99),
        pct(1.0)
    );

    // The whole sequence at once: every stream from frame 0, and the
    // restarted stream's second part from a zero state.
    let sequence = |from: usize, rows: &[usize]| -> Vec<f32> {
        (from..FRAMES)
            .flat_map(|t| rows.iter().flat_map(move |&b| frame(t, b)))
            .collect()
    };
    let all: Vec<usize> = (0..B).collect();
    let whole = gru.forward_host(&sequence(0, &all), FRAMES, B, None, None, None)?;
    let restarted = gru.forward_host(
        &sequence(RESET_AT, &[RESET_ROW]),
        FRAMES - RESET_AT,
        1,
        None,
        None,
        None,
    )?;
    let mut worst: f32 = 0.0;
    for (t, out) in outputs.iter().enumerate() {
        for b in 0..B {
            let want = if b == RESET_ROW && t >= RESET_AT {
                &restarted.output[(t - RESET_AT) * H..][..H]
            } else {
                &whole.output[(t * B + b) * H..][..H]
            };
            let got = &out[b * H..][..H];
            worst = want
                .iter()
                .zip(got)
                .map(|(w, g)| (w - g).abs())
                .fold(worst, f32::max);
        }
    }
    println!("max |frame by frame - whole sequence| = {worst:.2e} (stream {RESET_ROW} restarted at frame {RESET_AT})");
    if worst > 1e-4 {
        return Err(wgpu_rnn::Error::Config {
            what: "streaming example".into(),
            reason: format!("frame-by-frame outputs differ from the whole sequence by {worst:e}"),
        });
    }
    Ok(())
}
