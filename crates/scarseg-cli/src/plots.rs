//! The agreement figures `scarseg eval --out` draws from its per-patient burdens, as papers
//! show a method against the reference (ScarNet's Figure 7): a Bland-Altman plot, and the
//! burden against the reference's with the line of identity, the least-squares line and the
//! high-risk flag's 5% threshold on both axes, so that each flag error is a point in an
//! off-diagonal quadrant. SVG, drawn by plotters.

use std::ops::Range;

use anyhow::{Result, anyhow};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use scarseg_imaging::metrics::{BlandAltman, HIGH_RISK_BURDEN_PERCENT, LinearFit};

/// Figure size, pixels.
const SIZE: (u32, u32) = (720, 540);
const FONT: &str = "sans-serif";
const POINT: RGBColor = RGBColor(31, 119, 180);
const GREY: RGBColor = RGBColor(128, 128, 128);

/// A figure's plotting area, in data coordinates.
type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// `[lo, hi]` widened by 5% of its span on each side (1 where it has none), so that no point
/// sits on the frame.
fn padded(lo: f64, hi: f64) -> (f64, f64) {
    let span = if hi > lo { hi - lo } else { 1.0 };
    (lo - 0.05 * span, hi + 0.05 * span)
}

fn drawing<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("cannot draw the figure: {e:?}")
}

/// One figure as SVG: title, axes and their labels, what `lines` draws, then the patients'
/// `points` over it.
fn figure(
    title: &str,
    (x, y): (Range<f64>, Range<f64>),
    (x_desc, y_desc): (&str, &str),
    points: &[(f64, f64)],
    lines: impl FnOnce(&mut Chart) -> Result<()>,
) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(drawing)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 18))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(64)
            .build_cartesian_2d(x, y)
            .map_err(drawing)?;
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .x_desc(x_desc)
            .y_desc(y_desc)
            .draw()
            .map_err(drawing)?;
        lines(&mut chart)?;
        chart
            .draw_series(
                points
                    .iter()
                    .map(|&(x, y)| Circle::new((x, y), 3, POINT.filled())),
            )
            .map_err(drawing)?;
        root.present().map_err(drawing)?;
    }
    Ok(svg)
}

/// The Bland-Altman plot of per-patient burdens: each patient's difference (method minus
/// reference, percentage points) against the two burdens' mean, with the bias and the 95%
/// limits of agreement. `points` are (mean, difference).
pub fn bland_altman_svg(points: &[(f64, f64)], ba: &BlandAltman, method: &str) -> Result<String> {
    let xs = points.iter().map(|p| p.0);
    let (x0, x1) = padded(
        xs.clone().fold(f64::INFINITY, f64::min),
        xs.fold(f64::NEG_INFINITY, f64::max),
    );
    let ys = points
        .iter()
        .map(|p| p.1)
        .chain([ba.lower_loa, ba.upper_loa, 0.0]);
    let (y0, y1) = padded(
        ys.clone().fold(f64::INFINITY, f64::min),
        ys.fold(f64::NEG_INFINITY, f64::max),
    );
    let title = format!("Scar burden: {method} against the reference (n = {})", ba.n);
    let axes = (
        "mean of the two burdens (%)",
        "method - reference (percentage points)",
    );
    figure(&title, (x0..x1, y0..y1), axes, points, |chart| {
        let line = |y: f64| vec![(x0, y), (x1, y)];
        chart
            .draw_series(LineSeries::new(line(ba.mean), BLACK.stroke_width(2)))
            .map_err(drawing)?;
        for y in [ba.lower_loa, ba.upper_loa] {
            chart
                .draw_series(DashedLineSeries::new(line(y), 8, 5, RED.stroke_width(1)))
                .map_err(drawing)?;
        }
        let labels = [
            (ba.upper_loa, format!("+1.96 SD {:+.2}", ba.upper_loa)),
            (ba.mean, format!("bias {:+.2}", ba.mean)),
            (ba.lower_loa, format!("-1.96 SD {:+.2}", ba.lower_loa)),
        ];
        chart
            .draw_series(
                labels
                    .into_iter()
                    .map(|(y, text)| Text::new(text, (x0, y), (FONT, 13))),
            )
            .map_err(drawing)?;
        Ok(())
    })
}

/// Each patient's burden (y) against the reference's (x), percent, with the line of identity,
/// the least-squares line and the >5% threshold on both axes. `points` are (reference,
/// method).
pub fn burden_svg(points: &[(f64, f64)], fit: Option<&LinearFit>, method: &str) -> Result<String> {
    let top = points
        .iter()
        .flat_map(|p| [p.0, p.1])
        .fold(2.0 * HIGH_RISK_BURDEN_PERCENT, f64::max);
    let (lo, hi) = (0.0, top * 1.05);
    let title = format!(
        "Scar burden per patient: {method} against the reference (n = {})",
        points.len()
    );
    let axes = ("reference burden (%)", "method's burden (%)");
    figure(&title, (lo..hi, lo..hi), axes, points, |chart| {
        let t = HIGH_RISK_BURDEN_PERCENT;
        for threshold in [vec![(t, lo), (t, hi)], vec![(lo, t), (hi, t)]] {
            chart
                .draw_series(DashedLineSeries::new(threshold, 4, 4, RED.stroke_width(1)))
                .map_err(drawing)?;
        }
        chart
            .draw_series(DashedLineSeries::new(
                vec![(lo, lo), (hi, hi)],
                8,
                5,
                GREY.stroke_width(1),
            ))
            .map_err(drawing)?;
        let mut notes = vec![format!(
            "dashed red: the >{t}% flag's threshold; dashed grey: identity"
        )];
        if let Some(f) = fit {
            chart
                .draw_series(LineSeries::new(
                    vec![(lo, f.intercept), (hi, f.slope * hi + f.intercept)],
                    BLACK.stroke_width(2),
                ))
                .map_err(drawing)?;
            notes.push(format!(
                "least squares: y = {:.3}x {} {:.3}, R^2 = {:.3}",
                f.slope,
                if f.intercept < 0.0 { "-" } else { "+" },
                f.intercept.abs(),
                f.r_squared
            ));
        }
        chart
            .draw_series(notes.into_iter().enumerate().map(|(k, text)| {
                Text::new(text, (hi * 0.02, hi * (0.97 - 0.05 * k as f64)), (FONT, 13))
            }))
            .map_err(drawing)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The (cx, cy) of every point drawn, read back from the SVG as XML.
    fn circles(svg: &str) -> Vec<(f64, f64)> {
        let doc = roxmltree::Document::parse(svg).expect("well-formed SVG");
        doc.descendants()
            .filter(|n| n.has_tag_name("circle"))
            .map(|n| {
                let at = |a: &str| n.attribute(a).expect(a).parse::<f64>().expect(a);
                (at("cx"), at("cy"))
            })
            .collect()
    }

    #[test]
    fn bland_altman_draws_each_patient_where_its_values_say() {
        let points = [(2.0, -1.0), (6.0, 3.0), (10.0, 0.5)];
        let ba = BlandAltman {
            mean: 0.8333,
            sd: 2.0207,
            n: 3,
            lower_loa: -3.127,
            upper_loa: 4.794,
        };
        let svg = bland_altman_svg(&points, &ba, "network").expect("draws");
        let c = circles(&svg);
        assert_eq!(c.len(), 3, "{svg}");
        // Left to right by mean; up the page (smaller cy) by difference: 3 > 0.5 > -1.
        assert!(c[0].0 < c[1].0 && c[1].0 < c[2].0, "{c:?}");
        assert!(c[1].1 < c[2].1 && c[2].1 < c[0].1, "{c:?}");
        // Equal steps in value are equal steps on the page: means 2 -> 6 -> 10.
        assert!(
            ((c[1].0 - c[0].0) - (c[2].0 - c[1].0)).abs() <= 1.0,
            "{c:?}"
        );
        for label in ["bias +0.83", "+1.96 SD +4.79", "-1.96 SD -3.13", "(n = 3)"] {
            assert!(svg.contains(label), "{label} not in the figure");
        }
    }

    #[test]
    fn burden_plot_marks_the_threshold_and_the_fit() {
        let points = [(2.0, 3.0), (8.0, 6.0), (12.0, 13.0)];
        let fit = LinearFit {
            slope: 0.9,
            intercept: 0.5,
            r_squared: 0.95,
        };
        let svg = burden_svg(&points, Some(&fit), "network").expect("draws");
        let c = circles(&svg);
        assert_eq!(c.len(), 3);
        // Linear axes: references 2, 8, 12 are steps of 6 and 4 to the right; burdens 3, 6, 13
        // steps of 3 and 7 up the page.
        let ratio = |a: f64, b: f64| a / b;
        assert!(
            (ratio(c[1].0 - c[0].0, c[2].0 - c[1].0) - 1.5).abs() < 0.05,
            "{c:?}"
        );
        assert!(
            (ratio(c[0].1 - c[1].1, c[1].1 - c[2].1) - 3.0 / 7.0).abs() < 0.05,
            "{c:?}"
        );
        assert!(svg.contains("y = 0.900x + 0.500, R^2 = 0.950"), "{svg}");
        assert!(svg.contains("5% flag&apos;s threshold") || svg.contains("5% flag's threshold"));
    }
}
