//! Command-line values shared by the programs that compare collector settings (clap
//! `ValueEnum`s mapping onto gc-runtime's configuration types). Feature `cli`.

use clap::ValueEnum;
use gc_runtime::{BarrierKind, Mode};

/// Which collector mode(s) to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ModeChoice {
    /// Run the workload once per mode, in two child processes, and compare.
    Both,
    /// Concurrent marking and sweeping: short pauses to start and to terminate marking.
    Concurrent,
    /// Stop-the-world: every cycle runs entirely inside one pause.
    Stw,
}

impl ModeChoice {
    /// The collector modes this choice stands for, in the order they run.
    pub fn modes(self) -> Vec<Mode> {
        match self {
            ModeChoice::Both => vec![Mode::Concurrent, Mode::StopTheWorld],
            ModeChoice::Concurrent => vec![Mode::Concurrent],
            ModeChoice::Stw => vec![Mode::StopTheWorld],
        }
    }

    /// The choice for exactly one mode (what a child process is given).
    pub fn of(mode: Mode) -> Self {
        match mode {
            Mode::Concurrent => ModeChoice::Concurrent,
            Mode::StopTheWorld => ModeChoice::Stw,
        }
    }

    /// The command-line spelling.
    pub fn arg(self) -> &'static str {
        match self {
            ModeChoice::Both => "both",
            ModeChoice::Concurrent => "concurrent",
            ModeChoice::Stw => "stw",
        }
    }
}

/// Which write barrier the concurrent collector uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BarrierChoice {
    /// Insertion barrier: shade the pointer being stored.
    Dijkstra,
    /// Deletion barrier: shade the pointer being overwritten (snapshot at the beginning).
    Yuasa,
    /// Go 1.8's hybrid: shade both.
    Hybrid,
}

impl BarrierChoice {
    /// The runtime's barrier kind.
    pub fn kind(self) -> BarrierKind {
        match self {
            BarrierChoice::Dijkstra => BarrierKind::Dijkstra,
            BarrierChoice::Yuasa => BarrierKind::Yuasa,
            BarrierChoice::Hybrid => BarrierKind::Hybrid,
        }
    }

    /// The command-line spelling.
    pub fn arg(self) -> String {
        self.kind().to_string()
    }
}

/// Human name of a mode for reports ("concurrent" / "stop-the-world").
pub fn mode_label(mode: Mode) -> &'static str {
    match mode {
        Mode::Concurrent => "concurrent",
        Mode::StopTheWorld => "stop-the-world",
    }
}
