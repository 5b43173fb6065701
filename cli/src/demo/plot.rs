//! The demo's picture: one panel per (task, length), one line per cell,
//! log-scale loss, chance level dashed and the "solved" threshold dotted.
//! SVG, so it needs no font files.

use std::path::Path;

use plotters::prelude::*;

use super::{cell_name, Curve};
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

/// Writes the loss curves of `curves` to `path` as SVG.
pub fn write_svg(curves: &[Curve], path: &Path) -> Result<()> {
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
    let root = SVGBackend::new(path, (560 * cols as u32, 400 * rows as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| file_error(&e))?;
    for (area, &(task, t)) in root.split_evenly((rows, cols)).iter().zip(&panels) {
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
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::LowerLeft)
            .draw()
            .map_err(|e| file_error(&e))?;
    }
    root.present().map_err(|e| file_error(&e))
}
