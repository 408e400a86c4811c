//! The process-wide collector instance.
//!
//! One heap per process, as in Go: every attached thread shares it, and there is no way to
//! store a pointer from one heap into another because there is no other. It starts on first
//! use — configured from the `GC_*` environment variables — or explicitly with [`init`].
//! Starting it spawns the collector thread (see `collector/mod.rs`) and the finalizer thread
//! (see `heap/finalize.rs`).

use std::{
    fmt,
    sync::{Once, OnceLock},
    time::Instant,
};

use crate::{
    collector::{pacer::Pacer, Control},
    config::{Config, ConfigError},
    handshake::Handshake,
    heap::PageHeap,
    marker::{credit::AssistCredit, pool::MarkPool},
    owned_bytes,
    primitive::sync::{Mutex, RwLock},
    root_table::RootTable,
    shade::GreyQueue,
    stack_scan::StackRegistries,
    stats::StatsRecorder,
    thread_pauses::ThreadPauses,
    thread_state,
    weak_map_table::WeakMapTable,
    weak_table::WeakTable,
};

/// Every shared part of the collector.
pub(crate) struct Runtime {
    pub(crate) config: Mutex<Config>,
    pub(crate) pages: PageHeap,
    pub(crate) grey: GreyQueue,
    pub(crate) handshake: Handshake,
    pub(crate) roots: RootTable,
    /// The mutators' value stacks, for the collector's scans (see `stack_scan.rs`).
    pub(crate) stacks: StackRegistries,
    pub(crate) weaks: WeakTable,
    /// Every weak map, for the removal of entries whose keys died (see `weak_map_table.rs`).
    pub(crate) weak_maps: WeakMapTable,
    /// Weak upgrades while marking hold it shared; the collector's decision that marking is
    /// over holds it exclusively (see `weak.rs` and `collector/mod.rs`, "Termination without a
    /// pause").
    pub(crate) weak_gate: RwLock<()>,
    pub(crate) stats: StatsRecorder,
    /// Pauses as each mutator thread saw them (see `thread_pauses.rs`).
    pub(crate) thread_pauses: ThreadPauses,
    pub(crate) control: Control,
    pub(crate) pacer: Pacer,
    /// The persistent mark workers (see `marker/pool.rs`).
    pub(crate) mark_pool: MarkPool,
    /// The marking done so far in this cycle, and the workers' credit for assists (see
    /// `marker/credit.rs`).
    pub(crate) assist_credit: AssistCredit,
    pub(crate) started: Instant,
    collector_started: Once,
}

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// Why [`init`] refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitError {
    /// The runtime is already running (started by an earlier `init` or by the first
    /// [`attach`](crate::attach)); use [`reconfigure`] to change settings.
    AlreadyInitialized,
    /// A setting is out of range.
    Invalid(ConfigError),
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitError::AlreadyInitialized => {
                write!(f, "the gc runtime is already initialised; use gc_runtime::reconfigure to change settings")
            }
            InitError::Invalid(e) => write!(f, "gc configuration: {e}"),
        }
    }
}

impl std::error::Error for InitError {}

/// Start the collector with `config` (instead of the environment variables, which it does not
/// read).
///
/// # Errors
/// If the runtime already runs, or `config` is invalid.
pub fn init(config: Config) -> Result<(), InitError> {
    config.validate().map_err(InitError::Invalid)?;
    let mut fresh = false;
    let rt = RUNTIME.get_or_init(|| {
        fresh = true;
        Runtime::new(config)
    });
    if !fresh {
        return Err(InitError::AlreadyInitialized);
    }
    rt.start_collector();
    Ok(())
}

/// Replace the settings; cycles that start afterwards use them (a running cycle finishes with
/// the old ones). Starts the runtime from the environment if needed.
///
/// # Errors
/// If `config` is invalid (nothing changes), or the runtime had not started and a `GC_*`
/// variable is bad (it stays unstarted; see [`Config`]'s "A bad environment").
pub fn reconfigure(config: Config) -> Result<(), ConfigError> {
    config.validate()?;
    let rt = Runtime::get_or_init()?;
    {
        // One lock for both: two racing calls leave the pacer and `config()` with the same one.
        let mut current = rt.config.lock();
        rt.pacer.configure(&config);
        *current = config;
    }
    // The collector thread reads the scavenger's delay while it waits: let it see the new one.
    rt.control.wake_idle();
    Ok(())
}

/// The settings in force (starts the runtime from the environment if needed).
///
/// # Panics
/// If the runtime had not started and a `GC_*` variable is bad (see [`Config`]'s "A bad
/// environment").
pub fn config() -> Config {
    Runtime::get_or_start().config.lock().clone()
}

impl Runtime {
    fn new(config: Config) -> Runtime {
        Runtime {
            pacer: Pacer::new(&config),
            config: Mutex::new(config),
            pages: PageHeap::default(),
            grey: GreyQueue::default(),
            handshake: Handshake::default(),
            roots: RootTable::default(),
            stacks: StackRegistries::default(),
            weaks: WeakTable::default(),
            weak_maps: WeakMapTable::default(),
            weak_gate: RwLock::new(()),
            stats: StatsRecorder::default(),
            thread_pauses: ThreadPauses::default(),
            control: Control::default(),
            mark_pool: MarkPool::default(),
            assist_credit: AssistCredit::default(),
            started: Instant::now(),
            collector_started: Once::new(),
        }
    }

    fn start_collector(&'static self) {
        self.collector_started.call_once(|| {
            // The collections' growth checks the pacer's trigger from now on.
            owned_bytes::on_charge(|| Runtime::get().check_trigger());
            thread_state::collector_thread("gc-collector")
                .spawn(move || crate::collector::run(self))
                .unwrap_or_else(|e| panic!("gc: cannot spawn the collector thread: {e}"));
            thread_state::collector_thread("gc-finalizer")
                .spawn(move || crate::collector::run_finalizer(self))
                .unwrap_or_else(|e| panic!("gc: cannot spawn the finalizer thread: {e}"));
        });
    }

    /// The runtime, started from the environment if it is not running yet; a bad variable
    /// leaves it unstarted, so the next call reads the environment again.
    pub(crate) fn get_or_init() -> Result<&'static Runtime, ConfigError> {
        if let Some(rt) = RUNTIME.get() {
            return Ok(rt);
        }
        let config = Config::from_env()?;
        let rt = RUNTIME.get_or_init(|| Runtime::new(config));
        rt.start_collector();
        Ok(rt)
    }

    /// [`Runtime::get_or_init`] for the entry points that cannot return an error (`stats`,
    /// `config`): a bad variable panics with the message `attach` panics with.
    pub(crate) fn get_or_start() -> &'static Runtime {
        Runtime::get_or_init().unwrap_or_else(|e| panic!("gc configuration: {e}"))
    }

    /// The running runtime. Only called where a mutator, root or object exists, which
    /// implies it was started.
    pub(crate) fn get() -> &'static Runtime {
        RUNTIME.get().unwrap_or_else(|| unreachable!("a GC pointer exists, so the runtime was started"))
    }

    /// Account `bytes` of new allocation (`black`: allocated black for the marking in
    /// progress) and start a cycle if the pacer says so.
    pub(crate) fn note_allocation(&self, bytes: usize, black: bool) {
        self.stats.note_allocation(bytes, black);
        self.check_trigger();
    }

    /// Start a cycle if the pacer's heap reached the trigger.
    pub(crate) fn check_trigger(&self) {
        if self.pacer.should_trigger(self.paced_bytes()) {
            self.control.request_background();
        }
    }

    /// The heap as the pacer sees it: the live GC heap plus the memory objects own outside it
    /// (the collections' buffers, less those the last marking found dead and not yet released;
    /// see `owned_bytes.rs`).
    pub(crate) fn paced_bytes(&self) -> usize {
        self.pages.live_bytes().saturating_add(owned_bytes::paced())
    }
}
