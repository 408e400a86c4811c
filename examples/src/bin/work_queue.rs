//! A multi-threaded work queue that shares GC objects through roots.
//!
//! ```text
//! cargo run --release -p gc-examples --bin work_queue -- 2000 4
//! ```
//!
//! The main thread allocates `jobs` job objects, each holding a vector of GC-allocated
//! numbers, and sends a [`Root`] to each over a channel (a `Gc` local cannot cross threads; a
//! root can). `workers` threads, each with its own mutator, receive jobs, sum the inputs,
//! store a result object into the job's slot (through the write barrier) and send the root
//! back. Every receive blocks, so it runs inside [`Mutator::blocking`]: a thread waiting on a
//! channel is detached and no pause waits for it. The main thread runs collections while the
//! workers are busy, then checks every result. Exits non-zero on a wrong one.

use std::sync::{mpsc, Arc, Mutex};

use gc_runtime::{GcVec, Member, Root, Trace};

// ANCHOR: job
/// A unit of work in the GC heap.
#[derive(Trace)]
struct Job {
    id: u64,
    input: GcVec<u64>,
    result: Member<u64>,
}
// ANCHOR_END: job

// ANCHOR: worker
/// A worker: take jobs until the queue closes, answer each through `done`.
fn worker(queue: Arc<Mutex<mpsc::Receiver<Root<Job>>>>, done: mpsc::Sender<Root<Job>>) -> usize {
    let mut mu = gc_runtime::attach();
    let mut handled = 0;
    loop {
        // Blocking: detach, so the collector never waits for a thread sitting in `recv`.
        let Ok(job) = mu.blocking(|| queue.lock().unwrap().recv()) else { break };
        let j = job.get(&mu);
        let sum: u64 = j.input.iter(&mu).map(|x| *x).sum();
        j.result.set(Some(mu.alloc(sum))); // a barriered store into a shared object
        handled += 1;
        mu.safepoint(); // `j` ends here; the root `job` keeps the object alive
        if done.send(job).is_err() {
            break;
        }
    }
    handled
}
// ANCHOR_END: worker

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<u64>().expect("usage: work_queue [JOBS] [WORKERS]"));
    let jobs = args.next().unwrap_or(1000);
    let workers = args.next().unwrap_or(4).max(1) as usize;
    let mut mu = gc_runtime::attach();

    // ANCHOR: main
    let (job_tx, job_rx) = mpsc::channel::<Root<Job>>();
    let (done_tx, done_rx) = mpsc::channel::<Root<Job>>();
    let queue = Arc::new(Mutex::new(job_rx));
    let threads: Vec<_> = (0..workers)
        .map(|_| {
            let (queue, done) = (Arc::clone(&queue), done_tx.clone());
            std::thread::spawn(move || worker(queue, done))
        })
        .collect();
    drop(done_tx);
    for id in 0..jobs {
        let job = mu.alloc(Job { id, input: GcVec::new(), result: Member::new() });
        for k in 0..=(id % 50) {
            job.input.push(mu.alloc(id + k));
        }
        job_tx.send(job.root(&mu)).unwrap();
        if id % 100 == 99 {
            mu.collect(); // jobs in flight are held by roots in the channels: they survive
        }
    }
    drop(job_tx); // workers stop when the queue is empty
    let results: Vec<Root<Job>> = mu.blocking(|| done_rx.iter().collect());
    let handled: usize = mu.blocking(|| threads.into_iter().map(|t| t.join().unwrap()).sum());
    mu.collect();
    // ANCHOR_END: main

    let mut wrong = 0;
    let mut seen = vec![false; jobs as usize];
    for r in &results {
        let job = r.get(&mu);
        let n = job.id % 50 + 1;
        let expected = n * job.id + n * (n - 1) / 2;
        seen[job.id as usize] = true;
        if job.result.get(&mu).map(|s| *s) != Some(expected) {
            wrong += 1;
        }
    }
    let missing = seen.iter().filter(|s| !**s).count();
    println!(
        "work queue: {} jobs by {workers} workers, {handled} handled, {wrong} wrong, {missing} missing",
        results.len()
    );
    if wrong != 0 || missing != 0 || handled != jobs as usize || results.len() != jobs as usize {
        eprintln!("FAILED");
        std::process::exit(1);
    }
    println!("ok");
}
