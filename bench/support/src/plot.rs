//! The plots of the measuring tools, drawn with plotters into SVG files, and where they live.
//!
//! # One copy of each figure
//!
//! Every generated figure is written to one place, [`images_dir`] (`book/src/images/`): the
//! book shows it from there (mdBook copies only what is under `book/src`), and the README and
//! `bench/peers/README.md` link to that same file. A tool that draws a figure writes it there
//! by default and says so in its `--help`; smoke runs write elsewhere (a temporary directory).
//!
//! # Charts
//!
//! - [`line_chart`]: log-log lines, one per series (such as pause against heap size);
//! - [`bar_chart`]: horizontal bars on a log scale, one per implementation (such as wall time).
//!
//! Both leave room for their legend or labels and use no system fonts (plotters' SVG backend
//! writes text elements).

use std::path::{Path, PathBuf};

use plotters::prelude::*;

pub use plotters::style::RGBColor;

use crate::units;

/// An error while drawing.
pub type PlotError = Box<dyn std::error::Error>;

/// The directory of the book's images, where every generated figure is written.
pub fn images_dir() -> PathBuf {
    // This crate is `bench/support` in the repository.
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).expect("bench/support has two parents");
    repo.join("book/src/images")
}

/// Blue: gc-runtime (concurrent).
pub const BLUE: RGBColor = RGBColor(30, 100, 200);
/// Red: gc-runtime (stop-the-world).
pub const RED: RGBColor = RGBColor(200, 40, 40);
/// Green: a second figure of the same run.
pub const GREEN: RGBColor = RGBColor(30, 150, 60);
/// Grey: the others.
pub const GREY: RGBColor = RGBColor(150, 150, 150);

/// One line of a [`line_chart`].
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// `(x, y)` points; values of zero or less are drawn at the bottom of the chart.
    pub points: Vec<(f64, f64)>,
    /// Its colour; `None` picks one from a palette by the series' position.
    pub color: Option<RGBColor>,
}

/// A log-log line chart: `x` is a number of objects (axis labels such as `250k`, `2M`), `y` is
/// described by `y_desc`. The legend sits above the highest point.
///
/// # Errors
/// If the file cannot be written.
pub fn line_chart(path: &Path, title: &str, x_desc: &str, y_desc: &str, series: &[Series]) -> Result<(), PlotError> {
    const SIZE: (u32, u32) = (900, 520);
    let pts = series.iter().flat_map(|s| s.points.iter());
    let (x_lo, x_hi) = pts.clone().fold((f64::MAX, 0.0f64), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let y_hi = pts.clone().fold(0.0f64, |a, p| a.max(p.1));
    if x_hi <= 0.0 || y_hi <= 0.0 {
        return Ok(());
    }
    let y_lo = pts.filter(|p| p.1 > 0.0).fold(f64::MAX, |a, p| a.min(p.1)) * 0.5;
    // Headroom above the data for the legend: about 22 pixels per entry of the ~420-pixel plot.
    let legend = ((20 + 22 * series.len()) as f64 / f64::from(SIZE.1 - 100)).min(0.8);
    let decades = (y_hi / y_lo).log10().max(1.0);
    let y_top = y_hi * 10f64.powf(decades * legend / (1.0 - legend)) * 1.5;
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d((x_lo * 0.8..x_hi * 1.25).log_scale(), (y_lo..y_top).log_scale())?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_labels(6)
        .x_label_formatter(&|x| units::size_label(*x))
        .y_label_formatter(&|y| format!("{y}"))
        .draw()?;
    for (i, s) in series.iter().enumerate() {
        let color = s.color.map_or_else(|| Palette99::pick(i).to_rgba(), |c| c.to_rgba());
        let data: Vec<(f64, f64)> = s.points.iter().map(|&(x, y)| (x, y.max(y_lo))).collect();
        chart
            .draw_series(LineSeries::new(data.clone(), color.stroke_width(2)))?
            .label(s.label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        chart.draw_series(data.into_iter().map(|xy| Circle::new(xy, 3, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .border_style(BLACK)
        .background_style(WHITE)
        .draw()?;
    root.present()?;
    Ok(())
}

/// One bar of a [`bar_chart`].
#[derive(Clone, Debug)]
pub struct Bar {
    /// The label left of the bar.
    pub label: String,
    /// Its length, in milliseconds.
    pub ms: f64,
    /// Its colour.
    pub color: RGBColor,
}

/// A horizontal bar chart of times in milliseconds on a log scale, one bar per entry, top to
/// bottom, each with its value written after it.
///
/// # Errors
/// If the file cannot be written.
pub fn bar_chart(path: &Path, title: &str, x_desc: &str, bars: &[Bar]) -> Result<(), PlotError> {
    if bars.is_empty() {
        return Ok(());
    }
    let lo = bars.iter().map(|b| b.ms).fold(f64::MAX, f64::min).max(1e-3) * 0.5;
    let hi = bars.iter().map(|b| b.ms).fold(0.0, f64::max) * 2.0;
    let height = 90 + 32 * bars.len() as u32;
    let root = SVGBackend::new(path, (900, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let n = bars.len() as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(230)
        .build_cartesian_2d((lo..hi).log_scale(), 0.0..n)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(bars.len() * 2 + 1)
        .y_label_formatter(&|y| {
            // Bar i spans [n-i-1, n-i]; label its middle.
            let k = n - *y - 0.5;
            let i = k.round();
            if (k - i).abs() < 1e-6 && i >= 0.0 {
                bars.get(i as usize).map(|b| b.label.clone()).unwrap_or_default()
            } else {
                String::new()
            }
        })
        .x_desc(x_desc)
        .x_label_formatter(&|x| format!("{x}"))
        .draw()?;
    chart.draw_series(bars.iter().enumerate().map(|(i, b)| {
        let y = n - i as f64 - 1.0;
        Rectangle::new([(lo, y + 0.15), (b.ms, y + 0.85)], b.color.filled())
    }))?;
    chart.draw_series(bars.iter().enumerate().map(|(i, b)| {
        let y = n - i as f64 - 0.5;
        Text::new(units::ms_adaptive(b.ms), (b.ms * 1.05, y + 0.2), ("sans-serif", 12).into_font())
    }))?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_both_charts() {
        let dir = std::env::temp_dir().join(format!("gc-bench-support-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let lines = [
            Series { label: "a".into(), points: vec![(1e3, 0.5), (1e6, 40.0)], color: Some(RED) },
            Series { label: "b".into(), points: vec![(1e3, 0.1), (1e6, 0.0)], color: None },
        ];
        line_chart(&dir.join("lines.svg"), "t", "live objects", "ms", &lines).unwrap();
        let bars = [Bar { label: "x".into(), ms: 12.0, color: BLUE }, Bar { label: "y".into(), ms: 0.3, color: GREY }];
        bar_chart(&dir.join("bars.svg"), "t", "ms", &bars).unwrap();
        for f in ["lines.svg", "bars.svg"] {
            let svg = std::fs::read_to_string(dir.join(f)).unwrap();
            assert!(svg.starts_with("<svg") && svg.contains("</svg>"), "{f}");
        }
        assert!(std::fs::read_to_string(dir.join("lines.svg")).unwrap().contains("1M"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
