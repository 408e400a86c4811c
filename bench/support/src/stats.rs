//! Statistics of measurements: latency quantiles, medians of runs, minimum mutator
//! utilisation (MMU), and the process's resident memory.
//!
//! # Latencies
//!
//! [`Latencies`] records durations into an HdrHistogram (nanoseconds, three significant
//! digits: a quantile is within 0.1% of the exact one) and keeps the exact count, maximum and
//! sum beside it. Memory stays constant however many values are recorded, so a program can
//! record every batch of a long run.
//!
//! # Minimum mutator utilisation
//!
//! MMU at window `w` (Cheng and Blelloch, PLDI 2001) is the smallest fraction of any interval
//! of length `w` during the run in which the mutator was not paused. A run that pauses 5 ms
//! once has an MMU of 0 at 1 ms and of 0.5 at 10 ms. It is computed from the pause intervals
//! (start, end) recorded in a [`PauseLog`]: the minimum is reached by a window that starts at a
//! pause's start or ends at a pause's end, so only those windows are evaluated, each in
//! `O(log n)` with prefix sums.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// Resident memory of this process in bytes, from `/proc/self/statm` (0 where unavailable).
pub fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0);
    pages * 4096
}

/// Resident memory in MiB.
pub fn rss_mb() -> f64 {
    rss_bytes() as f64 / (1 << 20) as f64
}

/// The median of numbers in any order (the mean of the two middle ones for an even count);
/// values that are not finite are ignored, `None` if none is left.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

/// Recorded durations: quantiles from an HdrHistogram, exact count, maximum and sum (see the
/// module docs).
#[derive(Clone, Debug)]
pub struct Latencies {
    histogram: Histogram<u64>,
    max: Duration,
    total: Duration,
}

impl Latencies {
    /// No values yet.
    pub fn new() -> Latencies {
        // An auto-resizing histogram: any duration up to u64::MAX nanoseconds can be recorded.
        let histogram = Histogram::new(3).expect("3 significant digits is a valid precision");
        Latencies { histogram, max: Duration::ZERO, total: Duration::ZERO }
    }

    /// Record one duration.
    pub fn record(&mut self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        // `record` grows the auto-resizing histogram; it fails only past its highest
        // trackable value (about 2^62 ns), where the value is clamped.
        if self.histogram.record(ns).is_err() {
            self.histogram.saturating_record(ns);
        }
        self.max = self.max.max(d);
        self.total += d;
    }

    /// Number of recorded durations.
    pub fn len(&self) -> u64 {
        self.histogram.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.histogram.is_empty()
    }

    /// The `q` quantile (0..=1), within 0.1%, never above the maximum; zero if empty.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.is_empty() {
            return Duration::ZERO;
        }
        Duration::from_nanos(self.histogram.value_at_quantile(q)).min(self.max)
    }

    /// The longest recorded duration (exact).
    pub fn max(&self) -> Duration {
        self.max
    }

    /// The sum of the recorded durations (exact).
    pub fn total(&self) -> Duration {
        self.total
    }
}

impl Default for Latencies {
    fn default() -> Self {
        Latencies::new()
    }
}

impl Extend<Duration> for Latencies {
    fn extend<I: IntoIterator<Item = Duration>>(&mut self, iter: I) {
        for d in iter {
            self.record(d);
        }
    }
}

impl FromIterator<Duration> for Latencies {
    fn from_iter<I: IntoIterator<Item = Duration>>(iter: I) -> Self {
        let mut l = Latencies::new();
        l.extend(iter);
        l
    }
}

/// Pause intervals of one run, relative to the start of the measured window.
#[derive(Clone, Debug)]
pub struct PauseLog {
    start: Instant,
    intervals: Vec<(Duration, Duration)>,
}

impl PauseLog {
    /// A log whose measured window starts now.
    pub fn new() -> PauseLog {
        PauseLog { start: Instant::now(), intervals: Vec::new() }
    }

    /// When the window started.
    pub fn start(&self) -> Instant {
        self.start
    }

    /// Record a pause from `from` to `to`.
    pub fn record(&mut self, from: Instant, to: Instant) {
        let s = from.saturating_duration_since(self.start);
        let e = to.saturating_duration_since(self.start);
        if e > s {
            self.intervals.push((s, e));
        }
    }

    /// Record a pause given its start offset (since the window start) and its length.
    pub fn record_offset(&mut self, start: Duration, len: Duration) {
        if !len.is_zero() {
            self.intervals.push((start, start + len));
        }
    }

    /// Number of pauses.
    pub fn len(&self) -> usize {
        self.intervals.len()
    }

    /// Whether no pause was recorded.
    pub fn is_empty(&self) -> bool {
        self.intervals.is_empty()
    }

    /// The pause lengths.
    pub fn lengths(&self) -> Latencies {
        self.intervals.iter().map(|(s, e)| *e - *s).collect()
    }

    /// Minimum mutator utilisation at window `w` over a run of `total` (see the module docs).
    /// Overlapping intervals are merged first.
    pub fn mmu(&self, total: Duration, w: Duration) -> f64 {
        let (w, total) = (w.as_secs_f64(), total.as_secs_f64());
        if w <= 0.0 || total <= 0.0 {
            return 1.0;
        }
        let mut iv: Vec<(f64, f64)> =
            self.intervals.iter().map(|(s, e)| (s.as_secs_f64(), e.as_secs_f64().min(total))).collect();
        iv.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut merged: Vec<(f64, f64)> = Vec::with_capacity(iv.len());
        for (s, e) in iv {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ if e > s => merged.push((s, e)),
                _ => {}
            }
        }
        if merged.is_empty() {
            return 1.0;
        }
        if w >= total {
            let paused: f64 = merged.iter().map(|(s, e)| e - s).sum();
            return (1.0 - paused / total).max(0.0);
        }
        // prefix[i]: paused time in merged[..i].
        let mut prefix = vec![0.0];
        for (s, e) in &merged {
            prefix.push(prefix.last().copied().unwrap_or(0.0) + (e - s));
        }
        // Paused time before instant t.
        let paused_before = |t: f64| -> f64 {
            let i = merged.partition_point(|(s, _)| *s < t);
            let mut p = prefix[i];
            if i > 0 {
                let (s, e) = merged[i - 1];
                p -= (e - s) - (t.min(e) - s).max(0.0);
            }
            p
        };
        let mut worst: f64 = 1.0;
        for &(s, e) in &merged {
            for a in [s, e - w] {
                let a = a.clamp(0.0, total - w);
                let paused = paused_before(a + w) - paused_before(a);
                worst = worst.min(1.0 - paused / w);
            }
        }
        worst.clamp(0.0, 1.0)
    }
}

impl Default for PauseLog {
    fn default() -> Self {
        PauseLog::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mmu_of_one_pause() {
        let mut log = PauseLog::new();
        log.record_offset(Duration::from_millis(100), Duration::from_millis(5));
        let total = Duration::from_secs(1);
        assert_eq!(log.mmu(total, Duration::from_millis(1)), 0.0);
        assert!((log.mmu(total, Duration::from_millis(10)) - 0.5).abs() < 1e-9);
        assert!((log.mmu(total, Duration::from_millis(100)) - 0.95).abs() < 1e-9);
        assert!((log.mmu(total, total) - 0.995).abs() < 1e-9);
    }

    #[test]
    fn mmu_of_two_close_pauses() {
        let mut log = PauseLog::new();
        log.record_offset(Duration::from_millis(10), Duration::from_millis(2));
        log.record_offset(Duration::from_millis(15), Duration::from_millis(2));
        // A 10 ms window covering both: 4 ms paused.
        assert!((log.mmu(Duration::from_secs(1), Duration::from_millis(10)) - 0.6).abs() < 1e-9);
    }

    #[test]
    fn quantiles_and_medians() {
        let l: Latencies = (1..=100).map(Duration::from_millis).collect();
        let near = |d: Duration, ms: f64| (d.as_secs_f64() * 1e3 - ms).abs() <= ms * 1e-3;
        assert!(near(l.quantile(0.5), 50.0), "{:?}", l.quantile(0.5));
        assert!(near(l.quantile(0.99), 99.0), "{:?}", l.quantile(0.99));
        assert_eq!(l.quantile(1.0), Duration::from_millis(100));
        assert_eq!((l.len(), l.max(), l.total()), (100, Duration::from_millis(100), Duration::from_millis(5050)));
        assert_eq!(Latencies::new().quantile(0.99), Duration::ZERO);
        let wide: Latencies = [Duration::from_nanos(300), Duration::from_secs(3600)].into_iter().collect();
        assert!(near(wide.quantile(0.5), 300e-6) && wide.quantile(1.0) == Duration::from_secs(3600));
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[f64::NAN]), None);
    }
}
