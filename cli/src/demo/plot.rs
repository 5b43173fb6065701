//! The demo's picture: one panel per (task, length), one line per cell,
//! log-scale loss, chance level dashed and the "solved" threshold dotted.
//! SVG, so it needs no font files.

use std::path::Path;

use plotters::prelude::*;

use super::{cell_name, Curve};
use crate::plots::draw::{canvas, legend};
use wgpu_rnn::CellKind;
use wgpu_rnn::{Error, Result};

fn colour(cell: CellKind) -> RGBColor {
    match cell_name(cell) {
        "rnn" | "rnn-relu" => RGBColor(214, 39, 40),
        "lstm" => RGBColor(31, 119, 180),
        "lstm-peephole" => RGBColor(44, 160, 44),
        _ => RGBColor(148, 103, 189),
    }
}

/// Writes the loss curves of `curves` to `path` as SVG, under `caption`
/// (the adapter, the machine and the command).
pub fn write_svg(curves: &[Curve], caption: &str, path: &Path) -> Result<()> {
    let file_error = |e: &dyn std::fmt::Display| Error::File {
        file: path.display().to_string(),
        reason: e.to_string(),
    };
    let mut panels: Vec<(super::tasks::Task, usize)> = Vec::new();
    for c in curves {
        let key = (c.setup.task, c.setup.t);
        if !panels.contains(&key) {
            panels.push(key);
        }
    }
    let cols = panels.len().clamp(1, 2);
    let rows = panels.len().div_ceil(cols);
    let size = (560 * cols as u32, 400 * rows as u32 + 30);
    let (root, body) = canvas(path, size, caption, 14)?;
    for (area, &(task, t)) in body.split_evenly((rows, cols)).iter().zip(&panels) {
        let mine: Vec<&Curve> = curves
            .iter()
            .filter(|c| (c.setup.task, c.setup.t) == (task, t))
            .collect();
        let steps = mine
            .iter()
            .flat_map(|c| c.points.last())
            .map(|p| p.0)
            .max()
            .unwrap_or(1);
        let chance = task.chance_loss();
        let losses = mine
            .iter()
            .flat_map(|c| c.points.iter().map(|p| f64::from(p.1)));
        let low = losses.clone().fold(chance, f64::min).max(1e-6) * 0.7;
        let high = losses.fold(chance, f64::max) * 1.5;
        let mut chart = ChartBuilder::on(area)
            .caption(
                format!("{} problem, T = {t}", task.name()),
                ("sans-serif", 20),
            )
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(0..steps, (low..high).log_scale())
            .map_err(|e| file_error(&e))?;
        chart
            .configure_mesh()
            .x_desc("step")
            .y_desc(if task == super::tasks::Task::Adding {
                "MSE"
            } else {
                "cross-entropy"
            })
            .draw()
            .map_err(|e| file_error(&e))?;
        for c in &mine {
            let style = colour(c.setup.cell).stroke_width(2);
            chart
                .draw_series(LineSeries::new(
                    c.points.iter().map(|&(s, l)| (s, f64::from(l))),
                    style,
                ))
                .map_err(|e| file_error(&e))?
                .label(cell_name(c.setup.cell))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
        }
        let mut level = |y: f64, dash: i32, label: String| -> Result<()> {
            chart
                .draw_series(DashedLineSeries::new(
                    [(0, y), (steps, y)],
                    dash,
                    dash,
                    BLACK.stroke_width(1),
                ))
                .map_err(|e| file_error(&e))?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK));
            Ok(())
        };
        level(chance, 8, format!("chance {chance:.3}"))?;
        level(
            task.solved_below(),
            2,
            format!("solved < {:.3}", task.solved_below()),
        )?;
        legend(&mut chart, SeriesLabelPosition::LowerLeft).map_err(|e| file_error(&e))?;
    }
    root.present().map_err(|e| file_error(&e))
}

/// Writes the gradient flow of the adding runs in `curves` to `path` as
/// SVG: one panel per length, |d(loss)/d(x_t)| against t on a log scale,
/// one colour per cell, dashed at initialisation and solid after training.
pub fn write_gradient_svg(curves: &[Curve], caption: &str, path: &Path) -> Result<()> {
    let file_error = |e: &dyn std::fmt::Display| Error::File {
        file: path.display().to_string(),
        reason: e.to_string(),
    };
    let flows: Vec<(&Curve, &super::GradientFlow)> = curves
        .iter()
        .filter_map(|c| c.gradient_flow.as_ref().map(|f| (c, f)))
        .collect();
    let mut lengths: Vec<usize> = flows.iter().map(|(c, _)| c.setup.t).collect();
    lengths.sort_unstable();
    lengths.dedup();
    let cols = lengths.len().clamp(1, 2);
    let rows = lengths.len().div_ceil(cols).max(1);
    let size = (560 * cols as u32, 400 * rows as u32 + 30);
    let (root, body) = canvas(path, size, caption, 14)?;
    for (area, &t) in body.split_evenly((rows, cols)).iter().zip(&lengths) {
        let mine: Vec<_> = flows.iter().filter(|(c, _)| c.setup.t == t).collect();
        // Zeros (an input that cannot move the loss) have no place on a
        // log scale: they are left out of the lines.
        let norms = mine
            .iter()
            .flat_map(|(_, f)| f.init.iter().chain(&f.trained))
            .copied()
            .filter(|&n| n > 0.0 && n.is_finite());
        let low = norms.clone().fold(f64::INFINITY, f64::min);
        let high = norms.fold(0.0, f64::max);
        if !(low.is_finite() && high > 0.0) {
            continue;
        }
        let mut chart = ChartBuilder::on(area)
            .caption(
                format!("adding problem, T = {t}: gradient reaching x_t"),
                ("sans-serif", 20),
            )
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(
                0..t.saturating_sub(1).max(1),
                (low * 0.5..high * 2.0).log_scale(),
            )
            .map_err(|e| file_error(&e))?;
        chart
            .configure_mesh()
            .x_desc("input step t")
            .y_desc("mean |d loss / d x_t|")
            .y_label_formatter(&|v| format!("{v:.0e}"))
            .draw()
            .map_err(|e| file_error(&e))?;
        for (c, flow) in &mine {
            let colour = colour(c.setup.cell);
            let points = |norms: &[f64]| -> Vec<(usize, f64)> {
                norms
                    .iter()
                    .enumerate()
                    .filter(|(_, &n)| n > 0.0 && n.is_finite())
                    .map(|(t, &n)| (t, n))
                    .collect()
            };
            let trained = colour.stroke_width(2);
            chart
                .draw_series(LineSeries::new(points(&flow.trained), trained))
                .map_err(|e| file_error(&e))?
                .label(format!("{} trained", cell_name(c.setup.cell)))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], trained));
            let init = colour.stroke_width(1);
            chart
                .draw_series(DashedLineSeries::new(points(&flow.init), 4, 4, init))
                .map_err(|e| file_error(&e))?
                .label(format!("{} at init", cell_name(c.setup.cell)))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], init));
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight).map_err(|e| file_error(&e))?;
    }
    root.present().map_err(|e| file_error(&e))
}
