//! Collecting the pauses, handshake latencies and heap sizes of the cycles that ran during one phase of a program.
//!
//! [`gc_runtime::stats`] keeps totals since the runtime started and the records of the last
//! [`RECENT_CYCLES`](gc_runtime::RECENT_CYCLES) cycles. A benchmark wants the cycles of its measured phase only (not those
//! of its set-up), so it takes a [`CycleWindow`] when the phase starts and calls
//! [`CycleWindow::sample`] often enough (say every 100 ms) that no more than `RECENT_CYCLES`
//! cycles complete between two samples; every cycle is then seen exactly once. If some were
//! missed anyway, [`CycleWindow::missed`] says how many.

use std::time::Duration;

use gc_runtime::Stats;

use crate::{
    record::Record,
    stats::Latencies,
    table::{ms_cell, raw_cell, CellFn},
};

/// Pauses and heap peaks of the cycles completed since the window opened.
#[derive(Clone, Debug, Default)]
pub struct CycleWindow {
    last_seen: u64,
    cycles: u64,
    missed: u64,
    pauses: Latencies,
    /// The longest time every mutator was stopped at once (a pause minus its time to
    /// safepoint).
    stopped_max: Duration,
    /// The collector's latency of each handshake (request to last answer).
    handshakes: Latencies,
    peak_heap: usize,
}

impl CycleWindow {
    /// A window that starts now: cycles completed before this snapshot are ignored.
    pub fn starting_at(stats: &Stats) -> Self {
        CycleWindow { last_seen: stats.cycles, peak_heap: stats.heap_live, ..CycleWindow::default() }
    }

    /// Take in the cycles completed since the last sample, and the current live heap.
    pub fn sample(&mut self, stats: &Stats) {
        self.peak_heap = self.peak_heap.max(stats.heap_live);
        let oldest = stats.recent.first().map_or(self.last_seen + 1, |c| c.cycle);
        if oldest > self.last_seen + 1 {
            self.missed += oldest - self.last_seen - 1;
        }
        let from = self.last_seen;
        for c in stats.recent.iter().filter(|c| c.cycle > from) {
            self.cycles += 1;
            self.pauses.extend(c.pauses.iter().map(|p| p.duration));
            self.stopped_max = c.pauses.iter().map(|p| p.world_stopped()).fold(self.stopped_max, Duration::max);
            self.handshakes.extend(c.handshakes.iter().map(|h| h.latency));
            self.peak_heap = self.peak_heap.max(c.heap_before);
            self.last_seen = c.cycle;
        }
        // The count is exact even when records were missed.
        self.last_seen = self.last_seen.max(stats.cycles);
    }

    /// Cycles completed in the window (recorded or missed).
    pub fn cycles(&self) -> u64 {
        self.cycles + self.missed
    }

    /// Cycles whose records were gone before they were sampled (more than
    /// [`RECENT_CYCLES`](gc_runtime::RECENT_CYCLES)
    /// between two samples); their pauses are not in the figures.
    pub fn missed(&self) -> u64 {
        self.missed
    }

    /// The longest time every mutator was stopped at once (a pause without its time to
    /// safepoint).
    pub fn world_stopped_max(&self) -> Duration {
        self.stopped_max
    }

    /// The recorded pauses: count, quantiles, maximum, total.
    pub fn pauses(&self) -> &Latencies {
        &self.pauses
    }

    /// The collector's latency of each recorded handshake, from its request to the last
    /// mutator's answer: how long phase changes kept the cycle waiting (no thread waits for
    /// it).
    pub fn handshake_latencies(&self) -> &Latencies {
        &self.handshakes
    }

    /// The largest live heap seen: the `heap_before` of every recorded cycle and the live heap
    /// at every sample.
    pub fn peak_heap(&self) -> usize {
        self.peak_heap
    }
}

/// `record` with the collector's handshake latencies `h` (such as
/// [`CycleWindow::handshake_latencies`]): count, p50 and max (ns).
pub fn with_handshake_latency(record: Record, h: &Latencies) -> Record {
    record
        .with("handshakes", h.len())
        .with("handshake_p50_ns", h.quantile(0.5).as_nanos())
        .with("handshake_max_ns", h.max().as_nanos())
}

/// The comparison-table row of the fields [`with_handshake_latency`] writes.
pub fn handshake_latency_row() -> (&'static str, CellFn<'static>) {
    ("collector handshake wait max / p50 (n)", &|s| {
        format!(
            "{} / {} ({})",
            ms_cell(s, "handshake_max_ns"),
            ms_cell(s, "handshake_p50_ns"),
            raw_cell(s, "handshakes")
        )
    })
}
