//! The pauses as the mutator threads saw them (`gc_runtime::Stats::thread_pauses`): the fields
//! a child process puts in its result record, and the table rows that show them, shared by the
//! programs that compare collector settings.

use gc_runtime::ThreadPauseStats;

use crate::{
    record::Record,
    table::{ms_cell, raw_cell, CellFn},
};

/// `record` with the thread-pause figures of `tp`: max, p99.9, p99 (ns) and the worst thread's
/// MMU at 1, 10 and 100 ms (`-` where no thread lived that long).
pub fn with_thread_pauses(record: Record, tp: &ThreadPauseStats) -> Record {
    let mmu = |i: usize| tp.mmu[i].map_or_else(|| "-".to_owned(), |u| format!("{u:.3}"));
    record
        .with("thread_pause_max_ns", tp.max.as_nanos())
        .with("thread_pause_p999_ns", tp.p999.as_nanos())
        .with("thread_pause_p99_ns", tp.p99.as_nanos())
        .with("thread_mmu_1ms", mmu(0))
        .with("thread_mmu_10ms", mmu(1))
        .with("thread_mmu_100ms", mmu(2))
}

/// The comparison-table rows of the fields [`with_thread_pauses`] writes.
pub fn thread_pause_rows() -> [(&'static str, CellFn<'static>); 3] {
    [
        ("thread pause max", &|s| ms_cell(s, "thread_pause_max_ns")),
        ("thread pause p99.9 / p99", &|s| {
            format!("{} / {}", ms_cell(s, "thread_pause_p999_ns"), ms_cell(s, "thread_pause_p99_ns"))
        }),
        ("thread MMU 1 / 10 / 100 ms", &|s| {
            format!(
                "{} / {} / {}",
                raw_cell(s, "thread_mmu_1ms"),
                raw_cell(s, "thread_mmu_10ms"),
                raw_cell(s, "thread_mmu_100ms")
            )
        }),
    ]
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_rows_show_what_the_record_holds() {
        let tp = ThreadPauseStats {
            max: Duration::from_micros(250),
            p999: Duration::from_micros(40),
            p99: Duration::from_micros(3),
            mmu: [Some(0.5), Some(0.9876), None],
            ..ThreadPauseStats::default()
        };
        let r = with_thread_pauses(Record::new(), &tp);
        let cells: Vec<String> = thread_pause_rows().iter().map(|(_, cell)| cell(&r)).collect();
        assert_eq!(cells, ["0.250 ms", "0.040 ms / 0.003 ms", "0.500 / 0.988 / -"]);
    }
}
