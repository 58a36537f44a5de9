//! Charts drawn on the server as inline SVG: nothing is loaded from anywhere else, and every
//! chart carries its numbers in a table as well, for screen readers and for copying.

use maud::{Markup, html};

/// Series colours, each with at least 4.5:1 contrast against white.
const PALETTE: [&str; 6] = ["#1d4f91", "#b43c0a", "#146c37", "#6b21a8", "#8a5a00", "#0b6576"];

/// The colour of series `i`.
pub fn colour(i: usize) -> &'static str {
    PALETTE.get(i % PALETTE.len()).copied().unwrap_or("#1d4f91")
}

/// A chart's words: its caption, the heading of its label column and the names of its numbers.
pub struct Labels<'a> {
    /// Caption, also the SVG's title.
    pub caption: &'a str,
    /// Heading of the first column of the data table.
    pub key: &'a str,
    /// The "show the numbers" summary.
    pub data: &'a str,
}

/// A "nice" upper bound for an axis: 1, 2 or 5 times a power of ten, at least `max`.
fn nice_max(max: u64) -> u64 {
    let mut step = 1u64;
    loop {
        for m in [1, 2, 5] {
            if step.saturating_mul(m) >= max {
                return step.saturating_mul(m).max(1);
            }
        }
        step = step.saturating_mul(10);
    }
}

fn scale(v: u64, max: u64, span: f64) -> f64 {
    if max == 0 { 0.0 } else { v as f64 / max as f64 * span }
}

/// Horizontal grid lines at fifths of `max`, labelled on the left, over a plot `plot_h` high
/// whose top is at `top` and which spans `left` to `right`.
fn grid(left: f64, right: f64, top: f64, plot_h: f64, max: u64) -> Markup {
    html! {
        @for i in 0..=4u64 {
            @let y = top + plot_h - scale(max * i / 4, max, plot_h);
            line x1=(left) x2=(right) y1=(y) y2=(y) stroke="#d0d4da" {}
            text x=(left - 6.0) y=(y + 4.0) text-anchor="end" font-size="11" fill="#333" { (crate::format::int(crate::Lang::En, (max * i / 4) as i64)) }
        }
    }
}

fn figure(id: &str, labels: &Labels<'_>, svg: Markup, table: Markup) -> Markup {
    html! {
        figure.chart id=(id) {
            (svg)
            figcaption { (labels.caption) }
            details {
                summary { (labels.data) }
                (table)
            }
        }
    }
}

/// A vertical bar per item.
pub fn bars(id: &str, labels: &Labels<'_>, items: &[(String, u64)]) -> Markup {
    let (w, h, left, bottom, top) = (640.0, 260.0, 56.0, 36.0, 12.0);
    let max = nice_max(items.iter().map(|(_, v)| *v).max().unwrap_or(0));
    let plot_w = w - left - 8.0;
    let plot_h = h - bottom - top;
    let slot = plot_w / items.len().max(1) as f64;
    let svg = html! {
        svg viewBox={"0 0 " (w) " " (h)} role="img" aria-labelledby={(id) "-title"} {
            title id={(id) "-title"} { (labels.caption) }
            (grid(left, w - 8.0, top, plot_h, max))
            @for (i, (label, v)) in items.iter().enumerate() {
                @let bh = scale(*v, max, plot_h);
                @let x = left + slot * i as f64 + slot * 0.15;
                rect.bar x=(x) y=(top + plot_h - bh) width=(slot * 0.7) height=(bh) fill=(colour(0)) data-value=(v) {
                    title { (label) ": " (v) }
                }
                text x=(x + slot * 0.35) y=(h - bottom + 16.0) text-anchor="middle" font-size="12" fill="#222" { (label) }
            }
        }
    };
    let table = html! {
        table {
            thead { tr { th scope="col" { (labels.key) } th scope="col" { "#" } } }
            tbody { @for (label, v) in items { tr { th scope="row" { (label) } td { (v) } } } }
        }
    };
    figure(id, labels, svg, table)
}

/// One line per series over shared x labels, with a legend.
pub fn lines(id: &str, labels: &Labels<'_>, x: &[String], series: &[(String, Vec<u64>)]) -> Markup {
    let (w, h, left, bottom, top) = (640.0, 280.0, 56.0, 40.0, 12.0);
    let max = nice_max(series.iter().flat_map(|(_, v)| v.iter().copied()).max().unwrap_or(0));
    let plot_w = w - left - 12.0;
    let plot_h = h - bottom - top;
    let step = if x.len() > 1 { plot_w / (x.len() - 1) as f64 } else { 0.0 };
    let every = x.len().div_ceil(8).max(1);
    let svg = html! {
        svg viewBox={"0 0 " (w) " " (h)} role="img" aria-labelledby={(id) "-title"} {
            title id={(id) "-title"} { (labels.caption) }
            (grid(left, w - 12.0, top, plot_h, max))
            @for (i, label) in x.iter().enumerate() {
                @if i % every == 0 {
                    text x=(left + step * i as f64) y=(h - bottom + 16.0) text-anchor="middle" font-size="11" fill="#222" { (label) }
                }
            }
            @for (s, (name, values)) in series.iter().enumerate() {
                @let points = values.iter().enumerate().map(|(i, v)| format!("{:.1},{:.1}", left + step * i as f64, top + plot_h - scale(*v, max, plot_h))).collect::<Vec<_>>().join(" ");
                polyline.series points=(points) fill="none" stroke=(colour(s)) stroke-width="2" {
                    title { (name) }
                }
            }
        }
    };
    let legend = html! {
        ul.legend {
            @for (s, (name, _)) in series.iter().enumerate() {
                li { span.swatch style={"background:" (colour(s))} {} (name) }
            }
        }
    };
    let table = html! {
        table {
            thead { tr { th scope="col" { (labels.key) } @for (name, _) in series { th scope="col" { (name) } } } }
            tbody {
                @for (i, label) in x.iter().enumerate() {
                    tr { th scope="row" { (label) } @for (_, v) in series { td { (v.get(i).copied().unwrap_or(0)) } } }
                }
            }
        }
    };
    figure(id, labels, html! { (svg) (legend) }, table)
}

/// One horizontal bar per row, split into parts (for example met, late, overdue, pending).
pub fn stacked(
    id: &str,
    labels: &Labels<'_>,
    parts: &[String],
    rows: &[(String, Vec<u64>)],
) -> Markup {
    let row_h = 26.0;
    let (w, left, top) = (640.0, 150.0, 8.0);
    let h = top * 2.0 + row_h * rows.len().max(1) as f64;
    let max = rows.iter().map(|(_, v)| v.iter().sum::<u64>()).max().unwrap_or(0).max(1);
    let plot_w = w - left - 60.0;
    let svg = html! {
        svg viewBox={"0 0 " (w) " " (h)} role="img" aria-labelledby={(id) "-title"} {
            title id={(id) "-title"} { (labels.caption) }
            @for (r, (label, values)) in rows.iter().enumerate() {
                @let y = top + row_h * r as f64;
                text x=(left - 8.0) y=(y + 17.0) text-anchor="end" font-size="12" fill="#222" { (label) }
                @let widths: Vec<f64> = values.iter().map(|v| scale(*v, max, plot_w)).collect();
                @for (p, v) in values.iter().enumerate() {
                    @let x = left + widths.iter().take(p).sum::<f64>();
                    rect.bar x=(x) y=(y + 4.0) width=(widths.get(p).copied().unwrap_or(0.0)) height=(row_h - 8.0) fill=(colour(p)) data-value=(v) {
                        title { (parts.get(p).map_or("", String::as_str)) ": " (v) }
                    }
                }
                text x=(left + widths.iter().sum::<f64>() + 6.0) y=(y + 17.0) font-size="11" fill="#333" { (values.iter().sum::<u64>()) }
            }
        }
    };
    let legend = html! {
        ul.legend {
            @for (p, name) in parts.iter().enumerate() {
                li { span.swatch style={"background:" (colour(p))} {} (name) }
            }
        }
    };
    let table = html! {
        table {
            thead { tr { th scope="col" { (labels.key) } @for name in parts { th scope="col" { (name) } } } }
            tbody {
                @for (label, values) in rows {
                    tr { th scope="row" { (label) } @for v in values { td { (v) } } }
                }
            }
        }
    };
    figure(id, labels, html! { (svg) (legend) }, table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_end_on_round_numbers() {
        assert_eq!(nice_max(0), 1);
        assert_eq!(nice_max(7), 10);
        assert_eq!(nice_max(12), 20);
        assert_eq!(nice_max(480), 500);
        assert_eq!(nice_max(1000), 1000);
    }

    #[test]
    fn bars_draw_one_rect_per_item_with_its_value() {
        let l = Labels { caption: "Grades", key: "Grade", data: "Numbers" };
        let svg = bars("g", &l, &[("A".into(), 3), ("B".into(), 9)]).into_string();
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(svg.contains(r#"data-value="9""#));
        assert!(svg.contains("<title id=\"g-title\">Grades</title>"));
    }
}
