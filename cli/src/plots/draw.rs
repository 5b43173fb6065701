//! The speed pictures as SVG (no font files needed): how throughput grows
//! with each axis, the stream's step latencies and paths, ours beside the
//! peers.
//! Every picture's caption names the adapter, the machine and the command.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{Axis, PeerTiming, ScalingPoint, StreamPath};
use wgpu_rnn::{CellKind, Error, Result};

fn colour(cell: CellKind) -> RGBColor {
    match cell {
        CellKind::Lstm | CellKind::PeepholeLstm => RGBColor(31, 119, 180),
        CellKind::Gru(_) => RGBColor(148, 103, 189),
        CellKind::Rnn(_) => RGBColor(214, 39, 40),
    }
}

fn draw_error(path: &Path) -> impl Fn(&dyn std::fmt::Display) -> Error + '_ {
    move |e| Error::File {
        file: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// A white SVG canvas of `size` at `path` with `title` on top: the canvas
/// (to present when drawn) and the area under the title.
pub fn canvas<'a>(
    path: &'a Path,
    size: (u32, u32),
    title: &str,
    font: u32,
) -> Result<(
    DrawingArea<SVGBackend<'a>, Shift>,
    DrawingArea<SVGBackend<'a>, Shift>,
)> {
    let err = draw_error(path);
    let root = SVGBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let body = root
        .titled(title, ("sans-serif", font))
        .map_err(|e| err(&e))?;
    Ok((root, body))
}

/// A legend in a white box at `at`, as every picture draws it.
pub fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    at: SeriesLabelPosition,
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(at)
        .draw()
}

/// The smallest and largest positive finite value, padded for a log axis.
fn log_range(values: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (low, high) = values
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold((f64::INFINITY, 0.0f64), |(l, h), v| (l.min(v), h.max(v)));
    if low.is_finite() {
        low / 1.5..high * 1.5
    } else {
        1.0..10.0
    }
}

/// Tokens per second against batch, length and hidden size: one panel per
/// axis, one colour per cell, the floor of each cell dashed.
pub fn scaling(points: &[ScalingPoint], caption: &str, path: &Path) -> Result<()> {
    let err = draw_error(path);
    let title = format!("tokens per second, one-layer inference (input = hidden); {caption}");
    let (root, body) = canvas(path, (1500, 470), &title, 16)?;
    for (area, axis) in body.split_evenly((1, 3)).iter().zip(Axis::ALL) {
        let mine: Vec<&ScalingPoint> = points.iter().filter(|p| p.axis == axis).collect();
        let x_of = |p: &ScalingPoint| match axis {
            Axis::Batch => p.batch,
            Axis::Seq => p.seq,
            Axis::Hidden => p.hidden,
        } as f64;
        let xs = log_range(mine.iter().map(|p| x_of(p)));
        let ys = log_range(
            mine.iter()
                .flat_map(|p| [p.tokens_per_s, p.floor_tokens_per_s]),
        );
        let Some(first) = mine.first() else { continue };
        let fixed = match axis {
            Axis::Batch => format!("T={} H={}", first.seq, first.hidden),
            Axis::Seq => format!("B={} H={}", first.batch, first.hidden),
            Axis::Hidden => format!("B={} T={}", first.batch, first.seq),
        };
        let mut chart = ChartBuilder::on(area)
            .caption(
                format!("against {} ({fixed})", axis.name()),
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(xs.log_scale(), ys.log_scale())
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc(axis.name())
            .x_labels(5)
            .y_desc("tokens / s")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:.0e}"))
            .draw()
            .map_err(|e| err(&e))?;
        let mut cells: Vec<CellKind> = vec![];
        for p in &mine {
            if !cells.contains(&p.cell) {
                cells.push(p.cell);
            }
        }
        for cell in cells {
            let line: Vec<&&ScalingPoint> = mine.iter().filter(|p| p.cell == cell).collect();
            let ours = colour(cell).stroke_width(2);
            chart
                .draw_series(LineSeries::new(
                    line.iter().map(|p| (x_of(p), p.tokens_per_s)),
                    ours,
                ))
                .map_err(|e| err(&e))?
                .label(cell.name())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], ours));
            let floor = colour(cell).stroke_width(1);
            chart
                .draw_series(DashedLineSeries::new(
                    line.iter().map(|p| (x_of(p), p.floor_tokens_per_s)),
                    4,
                    4,
                    floor,
                ))
                .map_err(|e| err(&e))?
                .label(format!("{} floor", cell.name()))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], floor));
        }
        // One legend: the colours mean the same in every panel.
        if axis == Axis::Batch {
            legend(&mut chart, SeriesLabelPosition::LowerRight).map_err(|e| err(&e))?;
        }
    }
    root.present().map_err(|e| err(&e))
}

/// The distribution of a stream's step latencies: per cell, the fraction
/// of steps at or under each latency (an empirical CDF, log time axis).
pub fn latencies(latencies: &[(CellKind, Vec<f64>)], caption: &str, path: &Path) -> Result<()> {
    let err = draw_error(path);
    let title = format!("stream steps (B=1, I=H=64, written, run, read back); {caption}");
    let (root, body) = canvas(path, (760, 460), &title, 14)?;
    // A linear axis up to 1.5x the slowest p99: the rare slower steps
    // (named in the legend) would squeeze the body of the distribution.
    let p99 = |samples: &[f64]| {
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        sorted
            .get(((sorted.len().max(1) - 1) as f64 * 0.99).round() as usize)
            .copied()
    };
    let right = latencies
        .iter()
        .filter_map(|(_, s)| p99(s))
        .fold(0.0f64, f64::max)
        * 1.5e6;
    let mut chart = ChartBuilder::on(&body)
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..right.max(1.0), 0.0..1.0)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("latency of one step (us)")
        .y_desc("fraction of steps at or under it")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .draw()
        .map_err(|e| err(&e))?;
    for (cell, samples) in latencies {
        let mut sorted: Vec<f64> = samples.iter().map(|s| s * 1e6).collect();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len() as f64;
        let median = sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN);
        let p99 = sorted
            .get(((n - 1.0) * 0.99).round() as usize)
            .copied()
            .unwrap_or(f64::NAN);
        let style = colour(*cell).stroke_width(2);
        chart
            .draw_series(LineSeries::new(
                sorted
                    .iter()
                    .enumerate()
                    .map(|(k, &v)| (v, (k + 1) as f64 / n)),
                style,
            ))
            .map_err(|e| err(&e))?
            .label(format!(
                "{}: median {median:.0} us, p99 {p99:.0} us, max {:.0} us",
                cell.name(),
                sorted.last().copied().unwrap_or(f64::NAN)
            ))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
    }
    legend(&mut chart, SeriesLabelPosition::LowerRight).map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))
}

/// Ours beside each peer measured in the same run: per configuration and
/// mode, one bar per peer, milliseconds on a log scale.
pub fn peers(timings: &[PeerTiming], caption: &str, path: &Path) -> Result<()> {
    let mut groups: Vec<(String, String)> = vec![];
    let mut shapes: Vec<String> = vec![];
    let mut peers: Vec<String> = vec![];
    for t in timings {
        let group = (t.config.clone(), t.mode.clone());
        if !groups.contains(&group) {
            groups.push(group);
        }
        let shape = format!("{} = {}", t.config, t.shape);
        if !shapes.contains(&shape) {
            shapes.push(shape);
        }
        if !peers.contains(&t.peer) {
            peers.push(t.peer.clone());
        }
    }
    let names: Vec<String> = groups.iter().map(|(c, m)| format!("{c} {m}")).collect();
    let value = |g: usize, k: usize| {
        let (config, mode) = &groups[g];
        timings
            .iter()
            .find(|t| t.peer == peers[k] && &t.config == config && &t.mode == mode)
            .map(|t| t.ms)
    };
    Bars {
        title: format!("median time of a whole sequence, same run; {caption}"),
        subtitle: format!("cell B T I H L: {}", shapes.join(", ")),
        unit: "ms",
        groups: &names,
        series: &peers,
    }
    .draw(value, path)
}

/// The measurements of a stream step (`bench --mode stream`'s (a) to (d))
/// per configuration, one run: microseconds on a log scale.
pub fn stream_paths(paths: &[StreamPath], caption: &str, path: &Path) -> Result<()> {
    let groups: Vec<String> = paths.iter().map(|p| p.label.clone()).collect();
    let series: Vec<String> = [
        "(a) one step, written, run, read back",
        "(a) the same, layer by layer (fused step off)",
        "(b) per step of 8-step calls",
        "(c) forward of T=1 with h_n fed back",
        "(d) floor: write, 1 dispatch, wait, read",
    ]
    .map(String::from)
    .to_vec();
    let value = |g: usize, k: usize| {
        let (r, layered) = (&paths[g].result, paths[g].layered_step);
        let l = [r.step, layered, r.chunk, r.workaround, r.floor][k];
        Some(l.median_s * 1e6)
    };
    Bars {
        title: format!("stream step latency, medians, one run; {caption}"),
        subtitle: "B=1, I=H=64; fused: one dispatch per call for the whole stack".into(),
        unit: "us",
        groups: &groups,
        series: &series,
    }
    .draw(value, path)
}

/// A grouped bar chart: per group one bar per series, a log value axis.
struct Bars<'a> {
    title: String,
    subtitle: String,
    unit: &'static str,
    groups: &'a [String],
    series: &'a [String],
}

impl Bars<'_> {
    fn draw(&self, value: impl Fn(usize, usize) -> Option<f64>, path: &Path) -> Result<()> {
        let err = draw_error(path);
        let wide = (110 * self.groups.len() as u32 + 160).max(900);
        let (root, body) = canvas(path, (wide, 500), &self.title, 14)?;
        let body = body
            .titled(&self.subtitle, ("sans-serif", 12))
            .map_err(|e| err(&e))?;
        let value = &value;
        let cells = |g: usize| (0..self.series.len()).filter_map(move |k| value(g, k));
        let range = log_range((0..self.groups.len()).flat_map(cells));
        // One slot per bar, and an empty one between groups.
        let width = self.series.len() + 1;
        let slots = self.groups.len() * width;
        let mut chart = ChartBuilder::on(&body)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d((0..slots).into_segmented(), range.clone().log_scale())
            .map_err(|e| err(&e))?;
        let names = self.groups;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(slots)
            .x_label_formatter(&|x| match x {
                SegmentValue::CenterOf(slot) if slot % width == 0 => {
                    names.get(slot / width).cloned().unwrap_or_default()
                }
                _ => String::new(),
            })
            .y_desc(format!("{} (log)", self.unit))
            .y_label_formatter(&|v| format!("{v:.1}"))
            .draw()
            .map_err(|e| err(&e))?;
        let palette = [
            RGBColor(31, 119, 180),
            RGBColor(174, 199, 232),
            RGBColor(255, 127, 14),
            RGBColor(44, 160, 44),
            RGBColor(140, 86, 75),
        ];
        for (k, name) in self.series.iter().enumerate() {
            let fill = palette[k % palette.len()].filled();
            let bars = (0..self.groups.len()).filter_map(|g| {
                value(g, k).map(|v| {
                    let x = g * width + k;
                    let mut bar = Rectangle::new(
                        [
                            (SegmentValue::Exact(x), range.start),
                            (SegmentValue::Exact(x + 1), v),
                        ],
                        fill,
                    );
                    bar.set_margin(0, 0, 3, 3);
                    bar
                })
            });
            chart
                .draw_series(bars)
                .map_err(|e| err(&e))?
                .label(name.clone())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], fill));
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft).map_err(|e| err(&e))?;
        root.present().map_err(|e| err(&e))
    }
}
