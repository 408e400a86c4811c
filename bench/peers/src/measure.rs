//! Measurements shared by the implementations: resident memory, pause logs, quantiles and
//! minimum mutator utilisation (MMU).
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

/// The `q` quantile (0..=1, nearest rank) of sorted values; zero when empty.
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// The median of unsorted numbers (the mean of the two middle ones for an even count).
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
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

    /// Pause lengths, sorted.
    pub fn sorted_lengths(&self) -> Vec<Duration> {
        let mut v: Vec<Duration> = self.intervals.iter().map(|(s, e)| *e - *s).collect();
        v.sort_unstable();
        v
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

/// The figures of the pause workload from a log of pauses over a run of `total`, plus the
/// mutator's operation count.
pub fn pause_outcome(log: &PauseLog, total: Duration, ops: u64) -> crate::Outcome {
    let sorted = log.sorted_lengths();
    crate::Outcome::new()
        .with("pauses", sorted.len())
        .with_ms("pause_max_ms", sorted.last().copied().unwrap_or_default())
        .with_ms("pause_p99_ms", quantile(&sorted, 0.99))
        .with_ms("pause_p50_ms", quantile(&sorted, 0.5))
        .with_ms("pause_total_ms", sorted.iter().sum())
        .with("mmu_1ms", format!("{:.3}", log.mmu(total, Duration::from_millis(1))))
        .with("mmu_10ms", format!("{:.3}", log.mmu(total, Duration::from_millis(10))))
        .with("mmu_100ms", format!("{:.3}", log.mmu(total, Duration::from_millis(100))))
        .with("ops_per_s", format!("{:.0}", ops as f64 / total.as_secs_f64()))
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
    fn quantiles() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(quantile(&v, 0.5), Duration::from_millis(50));
        assert_eq!(quantile(&v, 0.99), Duration::from_millis(99));
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
    }
}
