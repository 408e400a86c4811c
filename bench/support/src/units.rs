//! Human-readable formatting of durations, byte counts, large counts and heap sizes.

use std::time::Duration;

/// A pause-sized duration in milliseconds with three decimals, e.g. `0.042 ms`, `31.700 ms`.
pub fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

/// Bytes in MiB with one decimal, e.g. `12.3 MB` (the unit the GC trace line uses).
pub fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / (1u64 << 20) as f64)
}

/// A count with a metric suffix, e.g. `950`, `12.3 k`, `4.56 M`.
pub fn count(n: f64) -> String {
    if n >= 1e9 {
        format!("{:.2} G", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.2} M", n / 1e6)
    } else if n >= 1e4 {
        format!("{:.1} k", n / 1e3)
    } else {
        format!("{n:.0}")
    }
}

/// Milliseconds with as many decimals as the size calls for: `2.35 s`, `31.7 ms`, `0.042 ms`.
pub fn ms_adaptive(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1e3)
    } else if ms >= 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.3} ms")
    }
}

/// A size label for a number of objects, as tables and plot axes show them: `500`, `125k`,
/// `1M`, `1.5M`.
pub fn size_label(n: f64) -> String {
    if n >= 1e6 {
        if (n / 1e6).fract() == 0.0 {
            format!("{:.0}M", n / 1e6)
        } else {
            format!("{:.1}M", n / 1e6)
        }
    } else if n >= 1e3 {
        format!("{:.0}k", n / 1e3)
    } else {
        format!("{n:.0}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(ms(Duration::from_micros(42)), "0.042 ms");
        assert_eq!(mb(3 << 19), "1.5 MB");
        assert_eq!(count(950.0), "950");
        assert_eq!(count(12_345.0), "12.3 k");
        assert_eq!(count(4_560_000.0), "4.56 M");
        assert_eq!(ms_adaptive(2350.0), "2.35 s");
        assert_eq!(ms_adaptive(31.72), "31.7 ms");
        assert_eq!(ms_adaptive(0.042), "0.042 ms");
        assert_eq!(size_label(500.0), "500");
        assert_eq!(size_label(125_000.0), "125k");
        assert_eq!(size_label(8_000_000.0), "8M");
        assert_eq!(size_label(1_500_000.0), "1.5M");
    }
}
