//! Tutorial: a server on an executor or a thread pool — the heap used in short attached
//! sections, objects kept between them in roots.

// ANCHOR: state
use gc_runtime::{GcMap, GcVec, GlobalRoot, Root, Trace};

/// One item of a batch.
#[derive(Trace)]
pub struct Item {
    /// Its value.
    pub value: u64,
}

/// A batch of items, built by one request and read by later ones.
#[derive(Trace)]
pub struct Batch {
    /// The items, in order.
    pub items: GcVec<Item>,
}

/// What the server keeps between requests.
#[derive(Trace)]
pub struct State {
    /// Published batches, by name.
    pub batches: GcMap<String, Batch>,
}

/// The server's state: one global root, readable from every thread.
pub static STATE: GlobalRoot<State> = GlobalRoot::new();

/// Set up the state, once, at start-up.
pub fn init_state() {
    gc_runtime::with_mutator(|mu| STATE.set(mu, mu.alloc(State { batches: GcMap::new() })));
}
// ANCHOR_END: state

// ANCHOR: handlers
/// A small request: the value of item `index` of the batch published as `name`. The thread is
/// attached for this call only, and what leaves it is plain data.
pub fn lookup(name: &str, index: usize) -> Option<u64> {
    gc_runtime::with_mutator(|mu| {
        let batch = STATE.get(mu)?.batches.get(name, mu)?;
        Some(batch.items.get(index, mu)?.value)
    })
}

/// A big request: build a batch of `len` items. It runs for a while, so it belongs on a thread
/// that may block (a blocking pool, not an executor's worker); a safepoint every 1024 items
/// keeps the collector from waiting long for it. The batch leaves as a `Root`, which may be
/// held across an `.await` and moved to another thread.
pub fn build(len: u64) -> Root<Batch> {
    gc_runtime::with_mutator(|mu| {
        let batch = mu.alloc(Batch { items: GcVec::new() }).root(mu);
        for i in 0..len {
            batch.get(mu).items.push(mu.alloc(Item { value: i }));
            if i % 1024 == 1023 {
                mu.safepoint();
            }
        }
        batch
    })
}

/// Publish a batch under `name`; the batch it replaces, if any, becomes garbage. Short: fine on
/// an executor's worker.
pub fn publish(name: &str, batch: Root<Batch>) {
    gc_runtime::with_mutator(|mu| {
        let state = STATE.get(mu).expect("init_state ran first");
        state.batches.insert(name.to_string(), batch.get(mu));
    });
    // `batch`, the root, is dropped here: from now on the map keeps the batch alive.
}

/// A full collection. The caller waits for the whole cycle: call it on a thread that may block.
pub fn collect() {
    gc_runtime::with_mutator(|mu| mu.collect());
}
// ANCHOR_END: handlers

// ANCHOR: pool
use std::sync::{mpsc, Arc, Mutex};

/// A job for the pool.
pub type Job = Box<dyn FnOnce() + Send>;

/// A pool of `threads` std threads running jobs. A worker waits for its next job unattached;
/// each job attaches for as long as it uses the heap.
pub fn pool(threads: usize) -> (mpsc::Sender<Job>, Vec<std::thread::JoinHandle<()>>) {
    let (jobs, queue) = mpsc::channel::<Job>();
    let queue = Arc::new(Mutex::new(queue));
    let workers = (0..threads)
        .map(|_| {
            let queue = Arc::clone(&queue);
            std::thread::spawn(move || loop {
                let job = queue.lock().unwrap().recv(); // parks here, with no mutator
                match job {
                    Ok(job) => job(),
                    Err(mpsc::RecvError) => break,
                }
            })
        })
        .collect();
    (jobs, workers)
}
// ANCHOR_END: pool

#[cfg(test)]
mod tests {
    use std::{
        sync::{
            atomic::{AtomicBool, Ordering},
            mpsc, Arc,
        },
        thread,
        time::Duration,
    };

    use super::*;

    /// Builds, publications and lookups on a pool of two workers, while another thread collects
    /// every 2 ms: every collection finishes (the idle workers hold no mutator), and every
    /// lookup finds what was published.
    #[test]
    fn requests_on_a_pool_while_a_timer_collects() {
        init_state();
        let cycles_before = gc_runtime::stats().cycles;
        let (jobs, workers) = pool(2);
        let stop = Arc::new(AtomicBool::new(false));
        let timer = {
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                let mut collections = 0;
                while !stop.load(Ordering::Relaxed) || collections < 3 {
                    collect();
                    collections += 1;
                    thread::sleep(Duration::from_millis(2));
                }
                collections
            })
        };
        let rounds = 20u64;
        let (done, finished) = mpsc::channel();
        for round in 0..rounds {
            let done = done.clone();
            jobs.send(Box::new(move || {
                let len = 5_000 + round;
                publish(&format!("batch-{round}"), build(len));
                publish("latest", build(len)); // replaces the previous one: garbage
                done.send(()).unwrap();
            }))
            .unwrap();
        }
        for _ in 0..rounds {
            finished.recv().unwrap();
        }
        let (answers, received) = mpsc::channel();
        for round in 0..rounds {
            let answers = answers.clone();
            jobs.send(Box::new(move || {
                let name = format!("batch-{round}");
                let last = 5_000 + round - 1;
                let found = (lookup(&name, 7), lookup(&name, last as usize), lookup(&name, last as usize + 1));
                answers.send(found == (Some(7), Some(last), None)).unwrap();
            }))
            .unwrap();
        }
        assert!((0..rounds).all(|_| received.recv().unwrap()), "a lookup found the wrong value");
        assert_eq!(lookup("nothing", 0), None);
        stop.store(true, Ordering::Relaxed);
        let collections = timer.join().unwrap();
        drop(jobs);
        workers.into_iter().for_each(|w| w.join().unwrap());
        assert!(collections >= 3);
        assert!(gc_runtime::stats().cycles >= cycles_before + 3);
        STATE.clear();
    }
}
