//! Hostile uses of `TaggedWord<'m, T>` (a `TaggedMember` slot's word as a local), in safe code
//! only, against the public API.
//!
//! What is attacked, and the safe outcome each test asserts:
//!
//! - the encoding: every kind of value built through `From<Tagged>` and the constructors is the
//!   documented word (0, an address, 2^48 + d, bits + 2^49), decodes back bit for bit (NaNs of
//!   every sign and payload, and those whose bits plus the offset would wrap onto an object's
//!   address, as the canonical one of their sign), goes through `set_word` and `get_word` unchanged and agrees
//!   with `set` and `get`; immediates made from addresses keep nothing alive;
//! - `Data` above the maximum: every way of making such a word panics before anything is
//!   stored, a slot and a value stack keep what they held;
//! - unarmed slots (loose, boxed, in a `Vec`, an array, an `Arc` or a skipped field of an
//!   allocated object): every word is refused with the slot left empty, also while the barrier
//!   is on and on a thread without a mutator (whose refusals must release the root table);
//! - `set_word` deletions while the marker walks a long chain: objects moved back and forth
//!   between the chain's far end and its head (scanned first) as words, held across allocations
//!   that may assist the marker, their slots overwritten by number, data and empty words (by the
//!   mutator, and by a thread without one); under every barrier, checkmark on;
//! - value stacks of words under concurrent cycles: objects moved between barriered slots and
//!   a stack (plain stores), their slots overwritten by immediate words, checked against a
//!   model at every read;
//! - words made from weak references upgraded during a marking and pushed on a value stack,
//!   some after the stack's scan in the mark-start window (child processes: a miss aborts in
//!   checkmark). This found a bug, since fixed: under Yuasa and hybrid, with and without
//!   handshakes, a stack was not scanned again after the mark-start window, so the pushed
//!   object, outside the snapshot, was missed (without checkmark, freed while the stack held
//!   it) — with any `ValueStack`, `Gc`s as well as words. A weak read while marking now makes
//!   the thread's stacks due for another scan (`weak.rs`, "Value stacks").

mod common;

use std::{
    collections::HashSet,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Once,
    },
    thread,
    time::{Duration, Instant},
};

use common::{collect2, panic_message, Canary as Obj, Ledger, Rng};
use gc_runtime::{
    BarrierKind, Config, Gc, HeapValue, Mode, Mutator, Phase, Tagged, TaggedMember, TaggedWord, Trace, ValueStack,
    Weak, TAGGED_DATA_MAX,
};

/// The encoding's offsets, as `tagged.rs`'s module docs give them.
const DATA_OFFSET: u64 = 1 << 48;
const NUMBER_OFFSET: u64 = 1 << 49;
/// The bits every NaN is stored as.
const CANONICAL_NAN: u64 = 0x7ff8_0000_0000_0000;
/// The canonical NaN of the negative sign (a NaN keeps its sign, not its payload).
const CANONICAL_NEGATIVE_NAN: u64 = 0xfff8_0000_0000_0000;

/// The canonical NaN of `n`'s sign.
fn canonical_nan(n: f64) -> u64 {
    if n.is_sign_negative() {
        CANONICAL_NEGATIVE_NAN
    } else {
        CANONICAL_NAN
    }
}

type Word<'m> = TaggedWord<'m, Obj>;
type Words = ValueStack<TaggedWord<'static, Obj>>;

#[derive(Trace)]
struct Holder {
    slot: TaggedMember<Obj>,
}

fn holder(mu: &Mutator) -> Gc<'_, Holder> {
    mu.alloc(Holder { slot: TaggedMember::new() })
}

/// The word the module docs say `value` is stored as.
fn encode(value: Tagged<'_, Obj>) -> u64 {
    match value {
        Tagged::Empty => 0,
        Tagged::Ptr(o) => o.addr() as u64,
        Tagged::Number(n) if n.is_nan() => canonical_nan(n) + NUMBER_OFFSET,
        Tagged::Number(n) => n.to_bits() + NUMBER_OFFSET,
        Tagged::Data(d) => DATA_OFFSET + d,
    }
}

/// A value, comparable: numbers by their bits, pointers by their object's id (canary checked).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Want {
    Empty,
    Num(u64),
    Data(u64),
    Ptr(u64),
}

fn seen(w: Word<'_>) -> Want {
    match w.get() {
        Tagged::Empty => Want::Empty,
        Tagged::Number(n) => Want::Num(n.to_bits()),
        Tagged::Data(d) => Want::Data(d),
        Tagged::Ptr(o) => Want::Ptr(o.check()),
    }
}

/// Every decoder of `w` agrees with the word `bits`, and exactly one kind matches.
fn check_word(w: Word<'_>, bits: u64, what: &str) {
    assert_eq!(w.to_bits(), bits, "{what}: to_bits");
    let kinds = [w.is_empty(), w.as_gc().is_some(), w.as_data().is_some(), w.as_number().is_some()];
    assert_eq!(kinds.iter().filter(|k| **k).count(), 1, "{what}: one kind ({kinds:?})");
    let decoded = w.get();
    let debug = format!("{w:?}");
    assert_eq!(debug, format!("TaggedWord({decoded:?})"), "{what}");
    assert_eq!(format!("{:?}", Tagged::from(w)), format!("{decoded:?}"), "{what}: Into<Tagged>");
    if bits == 0 {
        assert!(w.is_empty() && matches!(decoded, Tagged::Empty), "{what}");
        assert_eq!(debug, "TaggedWord(Empty)");
    } else if bits < DATA_OFFSET {
        let o = w.as_gc().expect("a pointer");
        assert_eq!(o.addr() as u64, bits, "{what}: as_gc");
        assert!(matches!(decoded, Tagged::Ptr(p) if Gc::ptr_eq(p, o)), "{what}");
        assert_eq!(debug, format!("TaggedWord(Ptr({bits:#x}))"), "{what}: a pointer prints as its address");
    } else if bits < NUMBER_OFFSET {
        assert_eq!(w.as_data(), Some(bits - DATA_OFFSET), "{what}: as_data");
        assert!(matches!(decoded, Tagged::Data(d) if d == bits - DATA_OFFSET), "{what}");
    } else {
        assert_eq!(w.as_number().map(f64::to_bits), Some(bits - NUMBER_OFFSET), "{what}: as_number");
        assert!(matches!(decoded, Tagged::Number(n) if n.to_bits() == bits - NUMBER_OFFSET), "{what}");
    }
}

/// Number bits from every corner of the encoding (NaNs among them), and random ones.
fn number_bits(addrs: &[u64], rng: &mut Rng) -> Vec<u64> {
    // Computed at run time (black boxes keep the compiler from folding them): the hardware's
    // default NaNs, of either sign.
    let (zero, zero2) = (std::hint::black_box(0.0_f64), std::hint::black_box(0.0_f64));
    let (inf, inf2) = (std::hint::black_box(f64::INFINITY), std::hint::black_box(f64::INFINITY));
    let mut bits = vec![
        0,
        1 << 63, // -0.0
        1,       // the smallest subnormal
        0x000f_ffff_ffff_ffff,
        0x800f_ffff_ffff_ffff,
        f64::MIN_POSITIVE.to_bits(),
        f64::MAX.to_bits(),
        f64::MIN.to_bits(),
        f64::INFINITY.to_bits(),
        f64::NEG_INFINITY.to_bits(), // the largest non-NaN bits: + 2^49 must not wrap
        DATA_OFFSET - 1,
        DATA_OFFSET,
        NUMBER_OFFSET - 1,
        NUMBER_OFFSET,
        CANONICAL_NAN,
        0xfff8_0000_0000_0000,
        0x7ff0_0000_0000_0001, // signalling
        0x7fff_ffff_ffff_ffff,
        u64::MAX,
        u64::MAX - NUMBER_OFFSET + 1, // a NaN that would wrap to 0 (empty)
        u64::MAX - NUMBER_OFFSET + 2, // ... to 1 (unarmed)
        (zero / zero2).to_bits(),
        (inf - inf2).to_bits(),
        (-(zero / zero2)).to_bits(),
    ];
    // NaNs whose bits plus the offset wrap onto an object's address, and the addresses' own bits.
    bits.extend(addrs.iter().flat_map(|&a| [a.wrapping_sub(NUMBER_OFFSET), a]));
    bits.extend((0..64).map(|_| rng.next()));
    bits
}

/// Every value encodes as documented through `From<Tagged>` and the constructors, decodes back
/// bit for bit, and goes through a slot by `set_word`/`get_word` exactly as by `set`/`get`;
/// numbers and data made from objects' addresses keep none of them alive, pointer words do.
#[test]
fn every_value_encodes_as_documented_through_words_and_slots() {
    let _s = common::serial_with_checkmark();
    let ledger = Ledger::new(64);
    let mut mu = gc_runtime::attach();
    let mut rng = Rng(0x0bad_cafe_dead_beef);
    let target = Obj::alloc(&mu, &ledger);
    let addrs: Vec<u64> = (0..4).map(|_| Obj::alloc(&mu, &ledger).addr() as u64).collect();
    assert!(addrs.iter().all(|&a| a > 1 && a < DATA_OFFSET));
    let mut values = vec![Tagged::Empty, Tagged::Ptr(target)];
    values.extend(number_bits(&addrs, &mut rng).into_iter().map(|b| Tagged::Number(f64::from_bits(b))));
    let data = [0, 1, 2, 0xffff, TAGGED_DATA_MAX - 1, TAGGED_DATA_MAX];
    values.extend(data.into_iter().chain(addrs.iter().copied()).map(Tagged::Data));
    let nans = values.iter().filter(|v| matches!(v, Tagged::Number(n) if n.is_nan())).count();
    assert!(nans >= 12, "{nans} NaNs");

    let h = holder(&mu);
    for &v in &values {
        let bits = encode(v);
        let what = format!("{v:?}");
        let direct = match v {
            Tagged::Empty => TaggedWord::empty(),
            Tagged::Ptr(o) => TaggedWord::ptr(o),
            Tagged::Number(n) => TaggedWord::number(n),
            Tagged::Data(d) => TaggedWord::data(d),
        };
        check_word(TaggedWord::from(v), bits, &format!("{what}: From<Tagged>"));
        check_word(direct, bits, &format!("{what}: constructor"));
        // Through the slot: stored as a word, read by every reader.
        h.slot.set(Tagged::Data(7));
        h.slot.set_word(direct);
        check_word(h.slot.get_word(&mu), bits, &format!("{what}: set_word, get_word"));
        assert_eq!(encode(h.slot.get(&mu)), bits, "{what}: get after set_word");
        assert_eq!(h.slot.number().map(|n| n.to_bits() + NUMBER_OFFSET), (bits >= NUMBER_OFFSET).then_some(bits));
        assert_eq!(h.slot.data(), (DATA_OFFSET..NUMBER_OFFSET).contains(&bits).then(|| bits - DATA_OFFSET));
        assert_eq!(h.slot.is_gc(), bits != 0 && bits < DATA_OFFSET, "{what}");
        assert_eq!(h.slot.is_empty(), bits == 0, "{what}");
        // Stored as a `Tagged`, read as a word: the same.
        h.slot.set(Tagged::Number(3.0));
        h.slot.set(v);
        check_word(h.slot.get_word(&mu), bits, &format!("{what}: set, get_word"));
    }
    // Signed zeros: equal numbers, different words.
    let (pz, nz) = (Word::number(0.0), Word::number(-0.0));
    assert!(pz.as_number() == nz.as_number() && pz.to_bits() != nz.to_bits());
    assert_eq!(format!("{nz:?}"), "TaggedWord(Number(-0.0))");

    // Across collections: words of every kind in a rooted slice; pointers to every fourth
    // object, immediates made from the others' addresses.
    let table = mu.alloc_slice_from_fn(values.len() + 4 * 32, |_| TaggedMember::<Obj>::new());
    let mut expected: Vec<u64> = Vec::new();
    // `target` (id 0) is kept by its pointer; the four `addrs` objects only by numbers and data.
    let mut kept: HashSet<u64> = HashSet::from([0]);
    for i in 0..32 {
        let o = Obj::alloc(&mu, &ledger);
        let a = o.addr() as u64;
        let words = [
            if i % 4 == 0 { Word::ptr(o) } else { Word::number(a as f64) },
            Word::number(f64::from_bits(a)),
            Word::number(f64::from_bits(a.wrapping_sub(NUMBER_OFFSET))),
            Word::data(a),
        ];
        if i % 4 == 0 {
            kept.insert(o.id);
        }
        for w in words {
            table[expected.len()].set_word(w);
            expected.push(w.to_bits());
        }
    }
    for &v in &values {
        table[expected.len()].set_word(TaggedWord::from(v));
        expected.push(encode(v));
    }
    let keep = (table.root(&mu), target.root(&mu), h.root(&mu));
    collect2(&mut mu);
    ledger.check_exactly(&kept);
    let t = keep.0.get(&mu);
    for (i, &bits) in expected.iter().enumerate() {
        check_word(t[i].get_word(&mu), bits, &format!("table[{i}] after two cycles"));
        if let Some(o) = t[i].get_word(&mu).as_gc() {
            o.check();
        }
    }
}

/// `Data` above the maximum, made into a word by any route, panics before anything is stored:
/// the slot keeps the pointer it held (whose object stays alive), a value stack its values.
#[test]
fn oversized_data_words_are_refused_and_change_nothing() {
    let _s = common::serial_with_checkmark();
    quiet_expected_panics();
    let ledger = Ledger::new(16);
    let mut mu = gc_runtime::attach();
    let h = holder(&mu);
    let kept = Obj::alloc(&mu, &ledger);
    let addr = kept.addr() as u64;
    h.slot.set_word(Word::ptr(kept));
    let mut stack = Words::new(&mu);
    stack.open(&mu).extend([Word::ptr(kept), Word::data(TAGGED_DATA_MAX), Word::number(-0.0)]);
    let too_large = [
        TAGGED_DATA_MAX + 1,
        DATA_OFFSET + 5,
        NUMBER_OFFSET - 1,
        NUMBER_OFFSET,
        NUMBER_OFFSET + addr,           // would encode to a number's word
        addr.wrapping_sub(DATA_OFFSET), // would encode to the object's address
        u64::MAX - DATA_OFFSET + 1,     // would wrap to 0 (empty)
        u64::MAX,
    ];
    for bad in too_large {
        let messages = [
            panic_message(|| {
                let _ = Word::data(bad);
            }),
            panic_message(|| h.slot.set_word(TaggedWord::from(Tagged::Data(bad)))),
            panic_message(|| stack.open(&mu).push(Word::data(bad))),
        ];
        for m in messages {
            assert!(m.contains("TAGGED_DATA_MAX"), "Data({bad:#x}): {m}");
        }
        assert_eq!(h.slot.get_word(&mu).to_bits(), addr, "Data({bad:#x}) changed the slot");
        assert_eq!(stack.open(&mu).len(), 3, "Data({bad:#x}) changed the stack");
    }
    let h = h.root(&mu);
    collect2(&mut mu);
    assert_eq!(ledger.drops(0), 0, "the object the refused stores left in place was freed");
    let s = stack.open(&mu);
    let got: Vec<Want> = s.iter().map(|&w| seen(w)).collect();
    assert_eq!(got, [Want::Ptr(0), Want::Data(TAGGED_DATA_MAX), Want::Num((-0.0_f64).to_bits())]);
    assert_eq!(seen(h.get(&mu).slot.get_word(&mu)), Want::Ptr(0));
}

type Hidden = TaggedMember<Obj>;

/// Slots that allocation does not arm although they sit in an allocated object: a skipped
/// field (its type hidden from the derive's check behind an alias) and one inside an `Arc`.
#[derive(Trace)]
struct Unreached {
    #[trace(skip)]
    hidden: Hidden,
    shared: Arc<TaggedMember<Obj>>,
}

/// Keep the default hook's report (and backtrace) off for the panics these tests provoke, so
/// that their output and time stay small; every other panic is reported as before.
fn quiet_expected_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("");
            if !(message.contains("TAGGED_DATA_MAX") || message.contains("not inside an allocated object")) {
                default(info);
            }
        }));
    });
}

/// Every word stored into `slot` panics, and the slot still reads as empty everywhere.
fn refuses_every_word(slot: &TaggedMember<Obj>, mu: &Mutator, target: Gc<'_, Obj>, what: &str) {
    let armed = holder(mu);
    armed.slot.set_word(Word::ptr(target));
    let words = [
        Word::number(1.5),
        Word::number(f64::NAN),
        Word::data(0),
        Word::data(TAGGED_DATA_MAX),
        Word::empty(),
        Word::ptr(target),
        armed.slot.get_word(mu),
    ];
    for w in words {
        let message = panic_message(|| slot.set_word(w));
        assert!(message.contains("not inside an allocated object"), "{what}: {w:?}: {message}");
        let back = slot.get_word(mu);
        assert!(back.is_empty() && back.to_bits() == 0, "{what}: {w:?} left {back:?}");
        assert!(slot.is_empty() && !slot.is_gc() && slot.number().is_none() && slot.data().is_none(), "{what}");
        assert_eq!(format!("{slot:?}"), "TaggedMember(Empty)", "{what}");
    }
}

/// Unarmed slots wherever they are refuse every word — idle, while the barrier is on under each
/// barrier (the mutator holds the mark-start window open by not answering), and on a thread
/// without a mutator (whose refusal must release the root table: the cycle must finish).
#[test]
fn unarmed_slots_refuse_every_word_idle_while_marking_and_without_a_mutator() {
    let _s = common::serial_with_checkmark();
    quiet_expected_panics();
    let ledger = Ledger::new(16);
    let mut mu = gc_runtime::attach();
    let loose = TaggedMember::<Obj>::new();
    let boxed = Box::new(TaggedMember::<Obj>::new());
    let vec: Vec<TaggedMember<Obj>> = (0..3).map(|_| TaggedMember::new()).collect();
    let array: [TaggedMember<Obj>; 2] = Default::default();
    let empty = <TaggedMember<Obj> as HeapValue>::empty();
    let target = Obj::alloc(&mu, &ledger).root(&mu);
    let unreached =
        mu.alloc(Unreached { hidden: TaggedMember::new(), shared: Arc::new(TaggedMember::new()) }).root(&mu);
    let outside = unreached.get(&mu).shared.clone();
    let all = |mu: &Mutator, phase: &str| {
        let t = target.get(mu);
        let u = unreached.get(mu);
        for (slot, what) in [
            (&loose, "a loose slot"),
            (&*boxed, "a box"),
            (&vec[1], "a vec"),
            (&array[0], "an array"),
            (&empty, "HeapValue::empty"),
            (&u.hidden, "a skipped field behind an alias"),
            (&*u.shared, "a slot in an Arc in an object"),
        ] {
            refuses_every_word(slot, mu, t, &format!("{phase}: {what}"));
        }
    };
    all(&mu, "idle");
    for barrier in [BarrierKind::Dijkstra, BarrierKind::Yuasa] {
        gc_runtime::reconfigure(concurrent(barrier, true)).unwrap();
        let cycle = one_cycle();
        wait_for_mark(&mut mu);
        // No safepoint until the stores are done: the mark-start round waits for this thread,
        // and the window's barrier (Dijkstra's, or the hybrid one for a Yuasa cycle) stays on.
        all(&mu, &format!("{barrier:?} marking"));
        thread::scope(|s| {
            s.spawn(|| {
                for w in [Word::number(2.0), Word::data(4), Word::empty()] {
                    for slot in [&loose, &*outside] {
                        let message = panic_message(|| slot.set_word(w));
                        assert!(message.contains("not inside an allocated object"), "{message}");
                        assert!(slot.is_empty() && slot.number().is_none());
                    }
                }
            });
        });
        assert_eq!(gc_runtime::phase(), Phase::Mark, "{barrier:?}: the stores ran while marking");
        finish(&mut mu, cycle);
    }
    // A thread without a mutator, idle.
    thread::scope(|s| {
        s.spawn(|| {
            let message = panic_message(|| outside.set_word(Word::number(1.0)));
            assert!(message.contains("not inside an allocated object"), "{message}");
        });
    });
    collect2(&mut mu);
    assert_eq!(ledger.total_drops(), 0);
    assert!(outside.is_empty() && loose.is_empty());
}

/// Concurrent mode under `barrier`, checkmark on, no cycles but those the test runs.
fn concurrent(barrier: BarrierKind, handshakes: bool) -> Config {
    Config::default()
        .with_mode(Mode::Concurrent)
        .with_barrier(barrier)
        .with_handshakes(handshakes)
        .with_checkmark(true)
        .with_gc_percent(None)
}

/// A thread that runs one cycle (and waits for its destructors).
fn one_cycle() -> thread::JoinHandle<()> {
    thread::spawn(|| gc_runtime::attach().collect())
}

/// How long a test waits for a cycle to begin or to finish (generous: a loaded machine may be
/// slow to get there) before it takes the cycle for stuck.
const DEADLINE: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// Driving one cycle from the test.
// ---------------------------------------------------------------------------------------------

/// Pass safepoints until a marking has begun, without answering any of its rounds.
fn wait_for_mark(mu: &mut Mutator) {
    let started = Instant::now();
    while gc_runtime::phase() != Phase::Mark {
        if mu.safepoint_requested() && gc_runtime::phase() != Phase::Mark {
            mu.safepoint();
        }
        assert!(started.elapsed() < DEADLINE, "no marking began");
        std::hint::spin_loop();
    }
}

/// Pass safepoints until the cycle's thread is done.
fn finish(mu: &mut Mutator, cycle: thread::JoinHandle<()>) {
    let started = Instant::now();
    while !cycle.is_finished() {
        mu.safepoint();
        assert!(started.elapsed() < DEADLINE, "the cycle did not finish");
        std::hint::spin_loop();
    }
    cycle.join().unwrap();
}

// ---------------------------------------------------------------------------------------------
// `set_word` deletions while the marker walks a long chain.
// ---------------------------------------------------------------------------------------------

#[derive(Trace)]
struct Link {
    next: TaggedMember<Link>,
    cargo: Vec<TaggedMember<Obj>>,
}

fn link<'m>(mu: &'m Mutator, cargo: usize) -> Gc<'m, Link> {
    mu.alloc(Link { next: TaggedMember::new(), cargo: (0..cargo).map(|_| TaggedMember::new()).collect() })
}

const CHAIN: usize = 60_000;
const CARGO: usize = 512;

/// Moves every object of `from` into `to` as words: reads them all, overwrites their slots with
/// number, data and empty words (a quarter by a thread without a mutator, if `unattached`),
/// allocates (an assist may scan on this thread meanwhile, the words held), then stores them.
fn move_cargo(mu: &Mutator, from: &[TaggedMember<Obj>], to: &[TaggedMember<Obj>], unattached: bool, label: &str) {
    let words: Vec<Word<'_>> = from.iter().map(|s| s.get_word(mu)).collect();
    assert!(words.iter().all(|w| w.as_gc().is_some()), "{label}: every slot moved from holds an object");
    let split = if unattached { 3 * from.len() / 4 } else { from.len() };
    for (k, slot) in from[..split].iter().enumerate() {
        slot.set_word(match k % 3 {
            0 => Word::number(-(k as f64)),
            1 => Word::data(k as u64),
            _ => Word::empty(),
        });
    }
    if unattached {
        let rest = &from[split..];
        thread::scope(|s| {
            s.spawn(|| rest.iter().enumerate().for_each(|(k, slot)| slot.set_word(Word::number(k as f64))));
        });
    }
    assert!(from.iter().all(|s| !s.is_gc()), "{label}: the deletions ran");
    for _ in 0..64 {
        mu.alloc(Holder { slot: TaggedMember::new() });
    }
    for (slot, &w) in to.iter().zip(&words) {
        assert!(!slot.is_gc(), "{label}: a slot moved into holds no object");
        slot.set_word(w);
    }
}

/// A chain head → CHAIN links → tail, the head rooted: the marker scans the head first and the
/// tail last. `CARGO` objects (reachable only there) sit in the tail's cargo slots or the head's.
/// All through each marking, before each of its answers to the collector, the mutator moves every
/// object from one end to the other as words ([`move_cargo`]: their slots overwritten by
/// immediate and empty words, by the mutator and by a thread without one, allocations while the
/// words are held), back and forth. Moves from the tail, not scanned yet, into the head, scanned
/// already, come while the marker walks the chain: under Yuasa only the deletion barrier of the
/// immediate and empty `set_word`s keeps the objects then, under Dijkstra the shade of the
/// stored pointer word. A miss is a checkmark abort, or a freed object (canary, ledger).
#[test]
fn set_word_deletions_while_a_long_chain_is_marked_lose_nothing() {
    let _s = common::serial_with_checkmark();
    let ledger = Ledger::new(CARGO + 16);
    let mut mu = gc_runtime::attach();
    let (head, tail) = {
        let tail = link(&mu, CARGO);
        let mut cur = tail;
        for _ in 0..CHAIN {
            let n = link(&mu, 0);
            n.next.set_word(TaggedWord::ptr(cur));
            cur = n;
        }
        let head = link(&mu, CARGO);
        head.next.set_word(TaggedWord::ptr(cur));
        for k in 0..CARGO {
            tail.cargo[k].set_word(Word::ptr(Obj::alloc(&mu, &ledger)));
            head.cargo[k].set_word(Word::number(k as f64));
        }
        (head.root(&mu), tail.root(&mu))
    };
    let configs = [
        (BarrierKind::Yuasa, true),
        (BarrierKind::Yuasa, false),
        (BarrierKind::Hybrid, true),
        (BarrierKind::Dijkstra, true),
    ];
    for (barrier, handshakes) in configs {
        let label = format!("{barrier:?}, handshakes {handshakes}");
        gc_runtime::reconfigure(concurrent(barrier, handshakes)).unwrap();
        for _attempt in 0..2 {
            let cycle = one_cycle();
            wait_for_mark(&mut mu);
            let mut in_head = false;
            // A move, then an answer if one is due: the marking cannot end without moves.
            while gc_runtime::phase() == Phase::Mark {
                {
                    let (h, t) = (head.get(&mu), tail.get(&mu));
                    let (from, to) = if in_head { (&h.cargo, &t.cargo) } else { (&t.cargo, &h.cargo) };
                    move_cargo(&mu, from, to, !in_head, &label);
                }
                in_head = !in_head;
                if mu.safepoint_requested() {
                    mu.safepoint();
                }
            }
            finish(&mut mu, cycle);
            // Back to the tail if need be (no marking now), each object checked.
            let (h, t) = (head.get(&mu), tail.get(&mu));
            if in_head {
                move_cargo(&mu, &h.cargo, &t.cargo, false, &label);
            }
            for slot in t.cargo.iter() {
                slot.get_word(&mu).as_gc().expect("the tail holds the objects").check();
            }
            assert_eq!(ledger.total_drops(), 0, "{label}: an object moved by words was freed");
        }
    }
    drop((head, tail));
    collect2(&mut mu);
    ledger.check_exactly(&HashSet::new());
}

// ---------------------------------------------------------------------------------------------
// Value stacks of words under concurrent cycles.
// ---------------------------------------------------------------------------------------------

const STACK_SLOTS: usize = 32;
const STACK_MAX: usize = 192;
const STACK_MILLIS: u64 = 200;

/// A random immediate word.
fn immediate<'m>(rng: &mut Rng) -> Word<'m> {
    match rng.below(4) {
        0 => Word::number(f64::from_bits(rng.next())), // NaNs included
        1 => Word::data(rng.next() & TAGGED_DATA_MAX),
        2 => Word::number(-0.0),
        _ => Word::empty(),
    }
}

/// What a word must read back as once stored (NaNs canonical, by sign).
fn want(w: Word<'_>) -> Want {
    match w.get() {
        Tagged::Number(n) if n.is_nan() => Want::Num(canonical_nan(n)),
        _ => seen(w),
    }
}

/// One thread of the value-stack stress: a rooted slice of slots and a stack of words; objects
/// move between them as words (a slot's pointer pushed and the slot overwritten by an immediate
/// word, allocation in between; a popped pointer stored into a slot), the stack checked against
/// a model at every read, a safepoint every eight steps.
fn stack_mutate(ledger: &Arc<Ledger>, seed: u64, stop: &AtomicBool, ops: &AtomicU64) {
    let mut mu = gc_runtime::attach();
    let mut rng = Rng(seed);
    let slots = mu.alloc_slice_from_fn(STACK_SLOTS, |_| TaggedMember::<Obj>::new()).root(&mu);
    let mut stack = Words::new(&mu);
    let mut model: Vec<Want> = Vec::new();
    let mut n = 0_u64;
    while !stop.load(Ordering::Relaxed) && !ledger.nearly_full(1000) {
        {
            let set = slots.get(&mu);
            let mut s = stack.open(&mu);
            let len = s.len();
            match rng.below(10) {
                0 | 1 if len < STACK_MAX => {
                    let o = Obj::alloc(&mu, ledger);
                    s.push(Word::ptr(o));
                    model.push(Want::Ptr(o.id));
                }
                2 | 3 if len < STACK_MAX => {
                    // Take a slot's value onto the stack; an immediate word takes its place.
                    let slot = &set[rng.below(STACK_SLOTS)];
                    let w = slot.get_word(&mu);
                    slot.set_word(immediate(&mut rng));
                    for _ in 0..rng.below(8) {
                        Obj::alloc(&mu, ledger); // garbage; may assist the marker
                    }
                    model.push(seen(w));
                    s.push(w);
                }
                4 | 5 if len > 0 => {
                    // Pop into a slot (through the barrier).
                    let w = s.pop().expect("not empty");
                    assert_eq!(seen(w), model.pop().expect("model"), "pop");
                    let slot = &set[rng.below(STACK_SLOTS)];
                    slot.set_word(w);
                    assert_eq!(want(slot.get_word(&mu)), want(w));
                }
                6 if len < STACK_MAX => {
                    let w = immediate(&mut rng);
                    model.push(want(w));
                    s.push(w);
                }
                7 if len > 1 => {
                    let (a, b) = (rng.below(len), rng.below(len));
                    s.swap(a, b);
                    model.swap(a, b);
                    assert_eq!(seen(s[a]), model[a]);
                }
                8 => {
                    // Slot to slot through a word.
                    let (a, b) = (rng.below(STACK_SLOTS), rng.below(STACK_SLOTS));
                    set[b].set_word(set[a].get_word(&mu));
                    assert_eq!(set[b].get_word(&mu).to_bits(), set[a].get_word(&mu).to_bits());
                }
                _ if len > 0 => {
                    let at = rng.below(len);
                    assert_eq!(seen(s[at]), model[at], "stack[{at}]");
                }
                _ => {}
            }
            if n % 256 == 0 {
                assert_eq!(s.iter().map(|&w| seen(w)).collect::<Vec<_>>(), model, "the whole stack");
                for slot in set.iter() {
                    if let Some(o) = slot.get_word(&mu).as_gc() {
                        o.check();
                    }
                }
            }
        }
        n += 1;
        if n % 8 == 0 {
            mu.safepoint();
        }
    }
    assert_eq!(stack.open(&mu).iter().map(|&w| seen(w)).collect::<Vec<_>>(), model, "the stack at the end");
    ops.fetch_add(n, Ordering::Relaxed);
}

/// Three threads move objects between barriered slots and their value stacks of words while
/// cycles run back to back, under every barrier, checkmark on; afterwards every object is
/// freed exactly once.
#[test]
fn value_stacks_of_words_keep_their_objects_while_slots_are_overwritten() {
    for config in common::stress_configs() {
        common::ledger_stress(config, STACK_MILLIS, stack_mutate);
    }
}

// ---------------------------------------------------------------------------------------------
// A weak upgrade pushed onto a value stack after the stack's last scan of a marking.
// ---------------------------------------------------------------------------------------------

/// The child: objects reachable only through weak references, white when a marking starts,
/// are upgraded one every 100 µs while it runs (a live chain makes it last milliseconds), each pushed onto the value stack as a word,
/// while this thread answers every request; then the cycle runs to its end. Some pushes come
/// after the stack's last scan of the marking. The stack holds the pushed objects: they must
/// survive (checkmark aborts if the marking missed one), and the others die.
#[test]
fn child_weak_upgrades_pushed_while_marking() {
    if !common::child::in_child() {
        return;
    }
    let barrier = match std::env::var("HOSTILE_WORD_BARRIER").as_deref() {
        Ok("yuasa") => BarrierKind::Yuasa,
        Ok("hybrid") => BarrierKind::Hybrid,
        _ => BarrierKind::Dijkstra,
    };
    let handshakes = std::env::var("HOSTILE_WORD_HANDSHAKES").as_deref() != Ok("off");
    gc_runtime::reconfigure(concurrent(barrier, handshakes)).unwrap();
    const WEAKS: usize = 16;
    let ledger = Ledger::new(WEAKS + 1);
    let mut mu = gc_runtime::attach();
    let mut stack = Words::new(&mu);
    let weaks: Vec<(Weak<Obj>, u64)> = (0..WEAKS)
        .map(|_| {
            let o = Obj::alloc(&mu, &ledger);
            (Weak::new(&mu, o), o.id)
        })
        .collect();
    // A live chain, so that the marking lasts a few milliseconds.
    let _chain = {
        let mut cur = link(&mu, 0);
        for _ in 0..20_000 {
            let n = link(&mu, 0);
            n.next.set_word(TaggedWord::ptr(cur));
            cur = n;
        }
        cur.root(&mu)
    };
    let cycle = one_cycle();
    wait_for_mark(&mut mu);
    let (mut next, mut pushed) = (0, Vec::new());
    let mut last: Option<Instant> = None;
    while !cycle.is_finished() {
        if mu.safepoint_requested() {
            mu.safepoint();
        }
        let due = last.is_none_or(|t| t.elapsed() >= Duration::from_micros(100));
        if gc_runtime::phase() == Phase::Mark && next < WEAKS && due {
            let (weak, id) = &weaks[next];
            next += 1;
            last = Some(Instant::now());
            // `None` once the marking has been decided (the object is then dead).
            if let Some(o) = weak.upgrade(&mu) {
                stack.open(&mu).push(Word::ptr(o));
                pushed.push(*id);
            }
        }
        std::hint::spin_loop();
    }
    cycle.join().unwrap();
    assert!(pushed.len() >= 2, "only {} upgrades during the marking", pushed.len());
    for &(_, id) in &weaks {
        let expected = u8::from(!pushed.contains(&id));
        assert_eq!(ledger.drops(id), expected, "object {id} (pushed: {:?})", pushed);
    }
    let s = stack.open(&mu);
    let ids: Vec<u64> = s.iter().map(|w| w.as_gc().expect("a pointer").check()).collect();
    assert_eq!(ids, pushed);
    println!("done");
}

/// Each barrier, with handshakes (and Yuasa with global stops): a word upgraded from a weak
/// reference during a marking and pushed on a value stack keeps its object.
///
/// Failed under Yuasa and hybrid (every run) until a weak read while marking made the thread's
/// stacks due for a scan again: a stack was scanned in the mark-start window and then not again
/// during the marking (`stack_scan.rs`, rule 1), on the argument that it can only gain objects
/// of the snapshot or black ones — but a weak upgrade hands out an unmarked object outside the
/// snapshot, and a push is a store without a barrier.
#[test]
fn a_weak_upgrade_pushed_on_a_value_stack_during_marking_survives() {
    let _s = common::serial_only();
    let runs = [("dijkstra", "on"), ("yuasa", "on"), ("hybrid", "on"), ("yuasa", "off")];
    let failed: Vec<String> = runs
        .into_iter()
        .filter_map(|(barrier, handshakes)| {
            let out = common::child::child(
                "child_weak_upgrades_pushed_while_marking",
                &[("HOSTILE_WORD_BARRIER", barrier), ("HOSTILE_WORD_HANDSHAKES", handshakes)],
                DEADLINE * 2,
            );
            let ok = out.success && !out.timed_out && out.stdout.contains("done");
            (!ok).then(|| format!("{barrier}, handshakes {handshakes}: {}", out.describe()))
        })
        .collect();
    assert!(failed.is_empty(), "{} of {} runs failed:\n{}", failed.len(), runs.len(), failed.join("\n"));
}
