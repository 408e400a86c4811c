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

/// How the concurrent collector changes phases (`Config::handshakes`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PhaseChanges {
    /// One run with handshakes, one with global stops, side by side.
    Both,
    /// Per-thread handshakes: no mutator waits for another.
    Handshakes,
    /// Global stops of the world for mark start and mark termination.
    Stops,
}

impl PhaseChanges {
    /// The command-line spelling.
    pub fn arg(self) -> &'static str {
        match self {
            PhaseChanges::Both => "both",
            PhaseChanges::Handshakes => "handshakes",
            PhaseChanges::Stops => "stops",
        }
    }

    /// `Config::handshakes` for a single choice; `None` for `Both`.
    pub fn handshakes(self) -> Option<bool> {
        match self {
            PhaseChanges::Both => None,
            PhaseChanges::Handshakes => Some(true),
            PhaseChanges::Stops => Some(false),
        }
    }
}

/// The runs a comparison makes for `modes` and `phase_changes`, each with its column label:
/// stop-the-world once, and concurrent once per way of changing phases.
pub fn runs(modes: &[Mode], phase_changes: PhaseChanges) -> Vec<(Mode, PhaseChanges, &'static str)> {
    let mut runs = Vec::new();
    for &mode in modes {
        match (mode, phase_changes) {
            (Mode::StopTheWorld, _) => runs.push((mode, PhaseChanges::Stops, "stop-the-world")),
            (_, PhaseChanges::Both) => {
                runs.push((mode, PhaseChanges::Handshakes, "concurrent, handshakes"));
                runs.push((mode, PhaseChanges::Stops, "concurrent, stops"));
            }
            (_, PhaseChanges::Handshakes) => runs.push((mode, PhaseChanges::Handshakes, "concurrent, handshakes")),
            (_, PhaseChanges::Stops) => runs.push((mode, PhaseChanges::Stops, "concurrent, stops")),
        }
    }
    runs
}

/// Human name of a mode for reports ("concurrent" / "stop-the-world").
pub fn mode_label(mode: Mode) -> &'static str {
    match mode {
        Mode::Concurrent => "concurrent",
        Mode::StopTheWorld => "stop-the-world",
    }
}
