//! The virtual machine: a stack machine running clox's bytecode, with every object in the
//! collector's heap.
//!
//! # Segments and safepoints
//!
//! The value stack, the call frames and the open upvalues are the thread's own
//! [`ValueStack`]s: plain arrays, as in clox, that the collector has this thread scan at its
//! safepoints instead of barriering every push (see `gc_runtime`'s value stacks). The VM runs
//! a program as a sequence of *segments*. A segment (`Segment`) borrows the mutator immutably
//! and opens the three stacks, so it may hold locals (`Gc<'m, Obj>`) and push them; between
//! segments the VM owns the mutator mutably and passes a safepoint:
//!
//! ```text
//! loop {
//!     segment: open the stacks → run instructions → save the frame's ip   (locals allowed)
//!     mu.safepoint()   or   mu.collect() (stress mode)                      (no local alive)
//! }
//! ```
//!
//! A segment ends
//!
//! - when the collector waits for this thread ([`Mutator::safepoint_requested`]), checked after
//!   a budget of calls and backward jumps (the only ways a program runs long), so the thread
//!   reaches a safepoint within a few thousand calls or loop iterations of a request and
//!   concurrent collection makes progress; while nobody waits, the budget is renewed and the
//!   segment goes on;
//! - when the collector waits for this thread and an instruction of the slow path
//!   (`Segment::step`) is about to allocate: the instruction yields before it does anything,
//!   the VM passes the safepoint, and the instruction runs at the start of the next segment
//!   (without yielding again). A segment that allocates a lot in few calls and jumps — a loop
//!   that concatenates long strings, or grows a table by thousands of fields — would otherwise
//!   leave the collector waiting while the heap grows by gigabytes (4,000 strings of 128 KiB:
//!   520 MB). The one allocation of the fast path, an instance made by a call to its class,
//!   is one small object per call, which the budget counts;
//! - in stress mode, *before* every instruction that allocates: the VM runs a full collection
//!   (`mu.collect()`), then executes the instruction, like clox's `DEBUG_STRESS_GC`; the
//!   instruction's operands are still on the stack, so the collection sees them;
//! - when the program ends or fails.
//!
//! Allocation itself is not a safepoint, so objects a segment allocates stay valid until it
//! ends; whatever it still needs then is on one of the stacks or in a heap slot.
//!
//! # Errors
//!
//! A runtime error ends the segment with the message and the stack trace (`[line N] in
//! f()` / `in script`), the stack is reset, and [`Vm::interpret`] returns
//! [`InterpretError::Runtime`].

use std::{
    io::{self, Write},
    mem,
};

use gc_runtime::{Gc, GcMap, Mutator, Root, StackTracer, StackValue, StackView, ValueStack};

use crate::{
    chunk::OpCode,
    compiler::{self, Globals},
    natives,
    object::{Closure, Function, Obj},
    state::{ValueArray, VmState},
    value::{Value, Values},
};

/// The deepest call stack (clox's `FRAMES_MAX`).
pub const FRAMES_MAX: usize = 64;

/// Calls and backward jumps a segment runs before a safepoint (plus the stack depth).
const SEGMENT_BUDGET: usize = 4096;

/// Why [`Vm::interpret`] failed.
#[derive(Debug)]
pub enum InterpretError {
    /// Compile errors, one message per line (exit code 65).
    Compile(Vec<String>),
    /// A runtime error: the message, then the stack trace (exit code 70).
    Runtime(String),
}

/// A Lox virtual machine: a mutator, the heap state it roots, its stacks, and the plain data
/// that goes with them.
pub struct Vm {
    mu: Mutator,
    state: Root<VmState>,
    globals: Globals,
    /// The value stack.
    stack: ValueStack<Values>,
    /// The call frames, outermost first.
    frames: ValueStack<Frames>,
    /// The open upvalues, by increasing stack index.
    open: ValueStack<Gc<'static, Obj>>,
    stress: bool,
    out: io::BufWriter<io::Stdout>,
}

impl Vm {
    /// A VM on this thread (which becomes a mutator). `stress` runs a full collection before
    /// every allocating instruction.
    ///
    /// # Panics
    /// If the thread is already a mutator, or a `GC_*` variable is invalid.
    pub fn new(stress: bool) -> Vm {
        let mu = gc_runtime::attach();
        let state = {
            let globals = ValueArray::with_len(&mu, 64);
            let init = Obj::string(&mu, "init");
            let state = VmState::new(&mu, globals, GcMap::new(), init);
            state.strings.insert("init".into(), init);
            state.root(&mu)
        };
        let mut vm = Vm {
            stack: ValueStack::with_capacity(&mu, 256 * FRAMES_MAX),
            frames: ValueStack::with_capacity(&mu, FRAMES_MAX),
            open: ValueStack::new(&mu),
            mu,
            state,
            globals: Globals::default(),
            stress,
            out: io::BufWriter::new(io::stdout()),
        };
        natives::start_clock();
        vm.define_native("clock", 0, natives::clock);
        vm
    }

    /// Run `f` — a wait outside the heap, such as reading the REPL's next line — with the
    /// VM's thread detached ([`Mutator::blocking`]), so that a cycle never waits for it.
    pub fn blocking<R>(&mut self, f: impl FnOnce() -> R) -> R {
        self.mu.blocking(f)
    }

    fn define_native(&mut self, name: &str, arity: usize, f: crate::object::NativeFn) {
        let index = self.globals.index(name);
        self.ensure_globals();
        let mu = &self.mu;
        let state = self.state.get(mu);
        let native = Obj::native(mu, name, arity, f);
        state.globals(mu).slots[index as usize].set(Value::obj(native));
    }

    /// Make the heap's global array as long as the list of global names.
    fn ensure_globals(&mut self) {
        let mu = &self.mu;
        let state = self.state.get(mu);
        let globals = state.globals(mu);
        if globals.len() < self.globals.len() {
            state.set_globals(globals.grown(mu, self.globals.len() * 2));
        }
    }

    /// Flush `print` output.
    pub fn flush(&mut self) {
        let _ = self.out.flush();
    }

    /// Compile and run `source`.
    ///
    /// # Errors
    /// Compile errors or a runtime error, with clox's messages.
    pub fn interpret(&mut self, source: &str) -> Result<(), InterpretError> {
        {
            let mu = &self.mu;
            let state = self.state.get(mu);
            let function =
                compiler::compile(mu, source, &state.strings, &mut self.globals).map_err(InterpretError::Compile)?;
            // Before any safepoint: the script's closure goes onto the stack and into a frame.
            let closure = Obj::closure(mu, function, 0);
            let mut stack = self.stack.open(mu);
            stack.clear();
            stack.push(Value::obj(closure));
            let mut frames = self.frames.open(mu);
            frames.clear();
            frames.push(Frame { closure, function: closure_function(mu, closure), ip: 0, base: 0 });
            self.open.open(mu).clear();
        }
        self.ensure_globals();
        let result = self.run();
        if result.is_err() {
            let mu = &self.mu;
            self.stack.open(mu).clear();
            self.frames.open(mu).clear();
            self.open.open(mu).clear();
        }
        self.flush();
        result
    }

    /// Run segments until the program ends.
    fn run(&mut self) -> Result<(), InterpretError> {
        let mut resume = Resume::Next;
        loop {
            let exit = {
                let stacks = Stacks { stack: &mut self.stack, frames: &mut self.frames, open: &mut self.open };
                let mut seg =
                    Segment::load(&self.mu, &self.state, &self.globals, &mut self.out, stacks, self.stress, resume);
                let exit = seg.run();
                seg.close();
                exit
            };
            resume = Resume::Next;
            match exit {
                Exit::Safepoint => self.mu.safepoint(),
                Exit::Yield => {
                    self.mu.safepoint();
                    resume = Resume::AfterYield;
                }
                Exit::Collect => {
                    self.mu.collect();
                    resume = Resume::AfterCollect;
                }
                Exit::Done => return Ok(()),
                Exit::Error(message) => return Err(InterpretError::Runtime(message)),
            }
        }
    }
}

/// The VM's stacks, lent to a segment.
struct Stacks<'a> {
    stack: &'a mut ValueStack<Values>,
    frames: &'a mut ValueStack<Frames>,
    open: &'a mut ValueStack<Gc<'static, Obj>>,
}

/// Where the next segment starts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Resume {
    /// At the next instruction.
    Next,
    /// At the instruction that yielded for a collection (stress mode), which now runs.
    AfterCollect,
    /// At the instruction that yielded for a safepoint, which now runs.
    AfterYield,
}

/// How a segment ended.
enum Exit {
    /// The budget ran out: pass a safepoint and go on.
    Safepoint,
    /// An instruction about to allocate found the collector waiting: pass a safepoint, then
    /// run the instruction.
    Yield,
    /// Stress mode: collect, then run the instruction that was about to allocate.
    Collect,
    /// The script returned.
    Done,
    /// A runtime error (message and stack trace).
    Error(String),
}

/// A call frame: its closure, the closure's function, where it is in the function's code and
/// where its slots start on the value stack.
#[derive(Clone, Copy)]
struct Frame<'m> {
    closure: Gc<'m, Obj>,
    function: &'m Function,
    ip: usize,
    base: usize,
}

/// The marker naming [`Frame<'m>`] for every `'m`: the element type of the frame stack.
enum Frames {}

// SAFETY: a frame's GC pointer is its closure, which is reported; `function` is a reference
// into an object the closure keeps alive (its function).
unsafe impl StackValue for Frames {
    type At<'m> = Frame<'m>;

    #[inline]
    fn trace(frame: &Frame<'_>, tracer: &mut StackTracer<'_>) {
        tracer.gc(frame.closure);
    }
}

/// One segment of execution: the VM's stacks open, between two safepoints.
struct Segment<'m> {
    mu: &'m Mutator,
    globals: &'m ValueArray,
    init_string: Gc<'m, Obj>,
    names: &'m Globals,
    out: &'m mut io::BufWriter<io::Stdout>,
    /// The value stack's storage: the values below `sp`, then (within a segment) stale ones
    /// left by pops, which the next pushes overwrite. Cut back to `sp` when the segment ends,
    /// so that the collector, which sees the stack only between segments, sees only the live
    /// values.
    stack: StackView<'m, 'm, Values>,
    /// The stack's top: the number of live values. Pops and pushes move it without changing
    /// the storage's length (a push grows the storage only past its end), so the common
    /// instructions neither check a capacity nor store a length.
    sp: usize,
    frames: StackView<'m, 'm, Frames>,
    /// Open upvalues by increasing stack index.
    open: StackView<'m, 'm, Gc<'static, Obj>>,
    budget: usize,
    stress: bool,
    /// Stress mode: whether the current instruction must yield before it allocates (false
    /// for the first instruction after a collection).
    stress_pending: bool,
    /// Stress mode: the segment starts right after the collection its first instruction
    /// yielded for, so that instruction runs without yielding again.
    skip_stress_once: bool,
    /// The segment starts right after the safepoint its first instruction yielded for (see
    /// [`Exit::Yield`]), so that instruction runs without yielding again.
    skip_yield_once: bool,
    /// Whether the instruction being executed may still yield for a safepoint: set before
    /// each instruction of the slow path ([`Segment::step`]), cleared by its first
    /// [`gc_point`](Segment::gc_point) that does not yield — after which the instruction may
    /// have changed the stack, and must run to its end.
    may_yield: bool,
    // The current frame, cached.
    ip: usize,
    code: &'m [u8],
    base: usize,
    function: &'m Function,
}

/// Why an instruction stopped the dispatch loop.
enum Stop {
    Exit(Exit),
    /// Stress mode: rewind to the instruction's start and collect.
    Collect,
    /// Rewind to the instruction's start and pass a safepoint ([`Exit::Yield`]).
    Yield,
}

type Step = Result<(), Stop>;

fn runtime_error(message: String) -> Stop {
    Stop::Exit(Exit::Error(message))
}

impl<'m> Segment<'m> {
    /// Open the stacks and cache the current frame.
    fn load(
        mu: &'m Mutator,
        root: &Root<VmState>,
        names: &'m Globals,
        out: &'m mut io::BufWriter<io::Stdout>,
        stacks: Stacks<'m>,
        stress: bool,
        resume: Resume,
    ) -> Segment<'m> {
        let state = root.get(mu);
        let stack = stacks.stack.open(mu);
        let frames = stacks.frames.open(mu);
        let open = stacks.open.open(mu);
        let current = *frames.last().expect("a frame");
        let globals = state.globals(mu).into_ref();
        let init_string = state.init_string(mu);
        Segment {
            mu,
            globals,
            init_string,
            names,
            out,
            budget: SEGMENT_BUDGET + stack.len(),
            sp: stack.len(),
            stack,
            frames,
            open,
            stress,
            stress_pending: false,
            skip_stress_once: resume == Resume::AfterCollect,
            skip_yield_once: resume == Resume::AfterYield,
            may_yield: false,
            ip: current.ip,
            code: &current.function.code,
            base: current.base,
            function: current.function,
        }
    }

    /// End the segment: save the current frame's instruction pointer in its frame (the rest of
    /// the state is on the stacks already) and cut the value stack's storage back to its live
    /// values.
    fn close(&mut self) {
        if let Some(f) = self.frames.last_mut() {
            f.ip = self.ip;
        }
        self.stack.truncate(self.sp);
    }

    // ---- the stack ----

    #[inline(always)]
    fn push(&mut self, v: Value<'m>) {
        if self.sp < self.stack.len() {
            self.stack[self.sp] = v;
        } else {
            self.grow(v);
        }
        self.sp += 1;
    }

    /// Push `v` past the end of the stack's storage (the stack is deeper than it has been
    /// in this segment).
    #[cold]
    #[inline(never)]
    fn grow(&mut self, v: Value<'m>) {
        self.stack.push(v);
    }

    #[inline(always)]
    fn pop(&mut self) -> Value<'m> {
        self.sp -= 1;
        self.stack[self.sp]
    }

    /// Drop the values above the first `len`.
    #[inline(always)]
    fn truncate(&mut self, len: usize) {
        debug_assert!(len <= self.sp);
        self.sp = len;
    }

    #[inline(always)]
    fn peek(&self, distance: usize) -> Value<'m> {
        self.stack[self.sp - 1 - distance]
    }

    #[inline(always)]
    fn set_top(&mut self, distance: usize, v: Value<'m>) {
        let len = self.sp;
        self.stack[len - 1 - distance] = v;
    }

    // ---- reading the code ----

    #[inline(always)]
    fn read_byte(&mut self) -> u8 {
        let b = self.code[self.ip];
        self.ip += 1;
        b
    }

    /// Read a global-variable instruction's operand (a name constant) and return the index of
    /// the global it names.
    #[inline(always)]
    fn read_global_index(&mut self) -> usize {
        let k = self.read_byte() as usize;
        self.function.globals[k] as usize
    }

    #[inline(always)]
    fn read_constant(&mut self) -> Value<'m> {
        let i = self.read_byte() as usize;
        self.function.constants[i].value(self.mu)
    }

    #[inline(always)]
    fn read_string(&mut self) -> Gc<'m, Obj> {
        let i = self.read_byte() as usize;
        self.function.constants[i].object(self.mu).expect("a name constant is a string")
    }

    /// Before the current instruction allocates: in stress mode, yield to collect; otherwise
    /// yield for a safepoint if the collector waits for this thread. Only an instruction's
    /// first `gc_point` may yield (its later ones pass: the instruction may have pushed or
    /// popped since), and only if the instruction did not just yield (the first one of a
    /// segment after a yield; see `may_yield`). An instruction's first `gc_point` comes before
    /// it changes anything, as stress mode, which re-runs the instruction after collecting,
    /// requires.
    #[inline(always)]
    fn gc_point(&mut self) -> Step {
        if self.stress_pending {
            Err(Stop::Collect)
        } else if mem::take(&mut self.may_yield) && self.mu.safepoint_requested() {
            Err(Stop::Yield)
        } else {
            Ok(())
        }
    }

    // ---- errors ----

    /// A runtime error with the stack trace, as clox prints it.
    ///
    /// Every open upvalue is closed over the value its variable holds now: the stack is reset
    /// after the error, and a closure that outlives the program (in a global, kept by the
    /// REPL or by the next `interpret` on this VM) must not keep an index into the stack the
    /// next program builds. (clox leaves such upvalues pointing into its reset stack.)
    fn error(&mut self, message: impl Into<String>) -> Stop {
        if let Some(f) = self.frames.last_mut() {
            f.ip = self.ip;
        }
        self.close_upvalues(0);
        let mut text = message.into();
        for frame in self.frames.iter().rev() {
            let line = frame.function.lines[frame.ip.saturating_sub(1)];
            text.push_str(&format!("\n[line {line}] in "));
            match frame.function.name(self.mu) {
                Some(name) => {
                    name.write(self.mu, &mut text);
                    text.push_str("()");
                }
                None => text.push_str("script"),
            }
        }
        runtime_error(text)
    }

    // ---- the loop ----

    /// The dispatch loop. The instruction pointer, the code and the frame's stack base live in
    /// local variables (registers) for the common instructions, which run inline (global reads
    /// and writes, arithmetic, calls, returns, method invocations and field accesses only in
    /// their common case: a defined global, number operands, a closure or method of the right
    /// arity, a field the instance has); every other instruction, and those cases' remainder,
    /// goes through [`Segment::step`] with the pointer written back to `self.ip` first and the
    /// frame reloaded afterwards (calls and returns change it).
    fn run(&mut self) -> Exit {
        if self.stress {
            self.run_loop::<true>()
        } else {
            self.run_loop::<false>()
        }
    }

    /// [`run`](Self::run), compiled once for stress runs and once for the others, so the test
    /// of stress mode is not made at every instruction.
    #[inline(always)]
    fn run_loop<const STRESS: bool>(&mut self) -> Exit {
        let mu = self.mu;
        let mut ip = self.ip;
        let mut code = self.code;
        let mut base = self.base;
        // The stack's top, in a register: `sp` is written back before `step` runs and
        // before the segment ends, and read again after `step`.
        let mut sp = self.sp;
        // The opcode of the instruction at `ip - 1`, about to run.
        let mut op = OpCode::from_byte(code[ip]);
        ip += 1;
        // Push onto the stack (growing its storage only past its end).
        macro_rules! push {
            ($v:expr) => {{
                let v = $v;
                if sp < self.stack.len() {
                    self.stack[sp] = v;
                } else {
                    self.grow(v);
                }
                sp += 1;
            }};
        }
        // Fetch the next instruction's opcode and go to it. Every arm that finishes its
        // instruction ends with its own fetch (not one shared at the loop's head), so that
        // the compiler can give each a jump to the next arm of its own, which the CPU predicts
        // from where it is (the opcode that usually follows this one), as a threaded
        // interpreter's dispatch.
        macro_rules! next {
            () => {{
                op = OpCode::from_byte(code[ip]);
                ip += 1;
                continue;
            }};
        }
        // The common case of a binary operator: two numbers on top of the stack, replaced by
        // `Value::$kind(a $op b)`; otherwise the arm falls through to `step`.
        macro_rules! binary {
            ($kind:ident, $op:tt) => {{
                if let (Some(a), Some(b)) = (self.stack[sp - 2].as_number(), self.stack[sp - 1].as_number()) {
                    self.stack[sp - 2] = Value::$kind(a $op b);
                    sp -= 1;
                    next!();
                }
            }};
        }
        // The common case of a superinstruction (see `chunk.rs`): a number on top of the stack,
        // replaced by `Value::$kind(a $op k)` for the number constant `k`; otherwise the arm
        // falls through to `step`.
        macro_rules! binary_constant {
            ($kind:ident, $op:tt) => {{
                let k = code[ip] as usize;
                if let (Some(a), Some(b)) = (self.stack[sp - 1].as_number(), self.function.constants[k].number()) {
                    self.stack[sp - 1] = Value::$kind(a $op b);
                    ip += 1;
                    next!();
                }
            }};
        }
        // The common case of a comparison fused with a conditional jump (see `chunk.rs`): two
        // numbers on top of the stack, popped, and the jump taken unless `a $op b`; otherwise
        // the arm falls through to `step`.
        macro_rules! compare_jump {
            ($op:tt) => {{
                if let (Some(a), Some(b)) = (self.stack[sp - 2].as_number(), self.stack[sp - 1].as_number()) {
                    let offset = u16::from_be_bytes([code[ip], code[ip + 1]]) as usize;
                    ip += 2;
                    sp -= 2;
                    // Taken unless `a $op b`, so also when either is NaN.
                    ip += if a $op b { 0 } else { offset };
                    next!();
                }
            }};
        }
        // As `compare_jump`, with the right operand the number constant `k`.
        macro_rules! compare_constant_jump {
            ($op:tt) => {{
                let k = code[ip] as usize;
                if let (Some(a), Some(b)) = (self.stack[sp - 1].as_number(), self.function.constants[k].number()) {
                    let offset = u16::from_be_bytes([code[ip + 1], code[ip + 2]]) as usize;
                    ip += 3;
                    sp -= 1;
                    // Taken unless `a $op b`, so also when either is NaN.
                    ip += if a $op b { 0 } else { offset };
                    next!();
                }
            }};
        }
        loop {
            if STRESS {
                self.stress_pending = !mem::take(&mut self.skip_stress_once);
            }
            match op {
                OpCode::Constant => {
                    let k = code[ip] as usize;
                    ip += 1;
                    let v = self.function.constants[k].value(mu);
                    push!(v);
                    next!();
                }
                OpCode::Nil => {
                    push!(Value::nil());
                    next!();
                }
                OpCode::True => {
                    push!(Value::bool(true));
                    next!();
                }
                OpCode::False => {
                    push!(Value::bool(false));
                    next!();
                }
                OpCode::Pop => {
                    sp -= 1;
                    next!();
                }
                OpCode::GetLocal => {
                    let slot = code[ip] as usize;
                    ip += 1;
                    let v = self.stack[base + slot];
                    push!(v);
                    next!();
                }
                OpCode::SetLocal => {
                    let slot = code[ip] as usize;
                    ip += 1;
                    let v = self.stack[sp - 1];
                    self.stack[base + slot] = v;
                    next!();
                }
                OpCode::GetGlobal => {
                    let k = code[ip] as usize;
                    let index = self.function.globals[k] as usize;
                    if let Some(v) = self.globals.slots[index].get(mu) {
                        ip += 1;
                        push!(v);
                        next!();
                    }
                }
                OpCode::SetGlobal => {
                    let k = code[ip] as usize;
                    let slot = &self.globals.slots[self.function.globals[k] as usize];
                    if slot.is_defined() {
                        ip += 1;
                        slot.set(self.stack[sp - 1]);
                        next!();
                    }
                }
                OpCode::Jump => {
                    let offset = u16::from_be_bytes([code[ip], code[ip + 1]]) as usize;
                    ip += 2 + offset;
                    next!();
                }
                OpCode::JumpIfFalse => {
                    let offset = u16::from_be_bytes([code[ip], code[ip + 1]]) as usize;
                    ip += 2;
                    if self.stack[sp - 1].is_falsey() {
                        ip += offset;
                    }
                    next!();
                }
                OpCode::PopJumpIfFalse => {
                    let offset = u16::from_be_bytes([code[ip], code[ip + 1]]) as usize;
                    ip += 2;
                    sp -= 1;
                    if self.stack[sp].is_falsey() {
                        ip += offset;
                    }
                    next!();
                }
                OpCode::Loop => {
                    let offset = u16::from_be_bytes([code[ip], code[ip + 1]]) as usize;
                    ip = ip + 2 - offset;
                    // `tick` fails only to end the segment at a safepoint.
                    if self.tick().is_ok() {
                        next!();
                    }
                    self.ip = ip;
                    self.sp = sp;
                    return Exit::Safepoint;
                }
                OpCode::Not => {
                    let top = sp - 1;
                    self.stack[top] = Value::bool(self.stack[top].is_falsey());
                    next!();
                }
                OpCode::Equal => {
                    sp -= 1;
                    let b = self.stack[sp];
                    let top = sp - 1;
                    self.stack[top] = Value::bool(self.stack[top].equals(b, mu));
                    next!();
                }
                OpCode::Call => {
                    // The common cases: a closure of the right arity, or a class whose
                    // initializer is one (or a class without one, called with no argument,
                    // not in a stress run's collection point); room for a frame, budget left
                    // (this call is counted here, as `tick` would).
                    let argc = code[ip] as usize;
                    let callee_at = sp - 1 - argc;
                    if let Some(callee) = self.stack[callee_at].as_obj() {
                        if let Some(closure) = callee.into_ref().as_closure() {
                            let function = function_of(mu, closure);
                            if self.can_enter_fast(function, argc) {
                                base = sp - argc - 1;
                                self.enter_fast(callee, function, base, ip + 1);
                                code = self.code;
                                ip = 0;
                                next!();
                            }
                        } else if let Some(class) = callee.into_ref().as_class() {
                            // An instance is allocated here without a `gc_point`: one small
                            // object per call, which the call counts against the budget (a
                            // test of `safepoint_requested` here cost `equality.lox` 20 %,
                            // through the dispatch loop's code, though it makes no call).
                            if !self.stress_pending {
                                match class.initializer(mu) {
                                    Some(init) => {
                                        let function = closure_function(mu, init);
                                        if self.can_enter_fast(function, argc) {
                                            self.stack[callee_at] = Value::obj(Obj::instance(mu, callee));
                                            base = sp - argc - 1;
                                            self.enter_fast(init, function, base, ip + 1);
                                            code = self.code;
                                            ip = 0;
                                            next!();
                                        }
                                    }
                                    None if argc == 0 && self.budget > 1 => {
                                        self.budget -= 1;
                                        self.stack[callee_at] = Value::obj(Obj::instance(mu, callee));
                                        ip += 1;
                                        next!();
                                    }
                                    None => {}
                                }
                            }
                        }
                    }
                }
                OpCode::Invoke => {
                    // The common case: a method (not a field holding a callable) of the
                    // receiver's class, called with the right arity, room for a frame and
                    // budget left. The method comes from the call site's cache.
                    let k = code[ip] as usize;
                    let name = self.function.constants[k].object(mu);
                    let argc = code[ip + 1] as usize;
                    let receiver = self.stack[sp - 1 - argc];
                    let instance = receiver.as_obj().and_then(|o| o.into_ref().as_instance());
                    if let (Some(name), Some(instance)) = (name, instance) {
                        if instance.fields.get(mu, name).is_none() {
                            let class = instance.class(mu);
                            if let Some(method) = self.function.method_caches[k].find(mu, class, name) {
                                let function = closure_function(mu, method);
                                if self.can_enter_fast(function, argc) {
                                    base = sp - argc - 1;
                                    self.enter_fast(method, function, base, ip + 2);
                                    code = self.code;
                                    ip = 0;
                                    next!();
                                }
                            }
                        }
                    }
                }
                OpCode::GetProperty => {
                    // The common case: a field of an instance (found through the site's hint).
                    let k = code[ip] as usize;
                    let name = self.function.constants[k].object(mu);
                    let top = sp - 1;
                    let instance = self.stack[top].as_obj().and_then(|o| o.into_ref().as_instance());
                    if let (Some(name), Some(instance)) = (name, instance) {
                        if let Some(field) = instance.fields.get_hinted(mu, name, &self.function.field_hints[k]) {
                            self.stack[top] = field.value(mu);
                            ip += 1;
                            next!();
                        }
                    }
                }
                OpCode::GetLocalProperty => {
                    // `GetLocal` and `GetProperty`'s common case: a field of an instance.
                    let slot = code[ip] as usize;
                    let k = code[ip + 1] as usize;
                    let name = self.function.constants[k].object(mu);
                    let local = self.stack[base + slot];
                    let instance = local.as_obj().and_then(|o| o.into_ref().as_instance());
                    if let (Some(name), Some(instance)) = (name, instance) {
                        if let Some(field) = instance.fields.get_hinted(mu, name, &self.function.field_hints[k]) {
                            push!(field.value(mu));
                            ip += 2;
                            next!();
                        }
                    }
                }
                OpCode::SetProperty => {
                    // The common case: a field the instance already has (found through the
                    // site's hint).
                    let k = code[ip] as usize;
                    let name = self.function.constants[k].object(mu);
                    let len = sp;
                    let instance = self.stack[len - 2].as_obj().and_then(|o| o.into_ref().as_instance());
                    if let (Some(name), Some(instance)) = (name, instance) {
                        if let Some(field) = instance.fields.get_hinted(mu, name, &self.function.field_hints[k]) {
                            let value = self.stack[len - 1];
                            field.set(value);
                            self.stack[len - 2] = value;
                            sp -= 1;
                            ip += 1;
                            next!();
                        }
                    }
                }
                OpCode::Return => {
                    // The common case: a caller to return to, and no open upvalue to close.
                    let frames = self.frames.len();
                    let closes = self.open.last().is_some_and(|u| {
                        u.into_ref().as_upvalue().and_then(|u| u.open_location()).is_some_and(|loc| loc >= base)
                    });
                    if frames > 1 && !closes {
                        sp -= 1;
                        let result = self.stack[sp];
                        self.frames.pop();
                        let caller = self.frames[frames - 2];
                        sp = base;
                        push!(result);
                        self.enter(caller.function, caller.ip, caller.base);
                        code = self.code;
                        base = caller.base;
                        ip = caller.ip;
                        next!();
                    }
                }
                // One arm per operator, so the operator is known without a second `match`.
                OpCode::Add => binary!(number, +),
                OpCode::Subtract => binary!(number, -),
                OpCode::Multiply => binary!(number, *),
                OpCode::Divide => binary!(number, /),
                OpCode::Less => binary!(bool, <),
                OpCode::Greater => binary!(bool, >),
                OpCode::AddConstant => binary_constant!(number, +),
                OpCode::SubtractConstant => binary_constant!(number, -),
                OpCode::MultiplyConstant => binary_constant!(number, *),
                OpCode::DivideConstant => binary_constant!(number, /),
                OpCode::LessConstant => binary_constant!(bool, <),
                OpCode::GreaterConstant => binary_constant!(bool, >),
                OpCode::JumpIfNotLess => compare_jump!(<),
                OpCode::JumpIfNotGreater => compare_jump!(>),
                OpCode::JumpIfNotLessConstant => compare_constant_jump!(<),
                OpCode::JumpIfNotGreaterConstant => compare_constant_jump!(>),
                OpCode::EqualConstant => {
                    let k = code[ip] as usize;
                    ip += 1;
                    let c = self.function.constants[k].value(mu);
                    let top = sp - 1;
                    self.stack[top] = Value::bool(self.stack[top].equals(c, mu));
                    next!();
                }
                // Listed rather than `_`: with every opcode an arm, the jump table needs no
                // range check.
                OpCode::DefineGlobal
                | OpCode::GetUpvalue
                | OpCode::SetUpvalue
                | OpCode::GetSuper
                | OpCode::Negate
                | OpCode::Print
                | OpCode::SuperInvoke
                | OpCode::Closure
                | OpCode::CloseUpvalue
                | OpCode::Class
                | OpCode::Inherit
                | OpCode::Method => {}
            }
            // The general path (also the uncommon cases of the instructions above that break out
            // of the match instead of continuing: an undefined global, operands that are not
            // two numbers). An arm breaks out with `ip` right after its opcode, so the
            // instruction starts one byte before (where a stress collection rewinds to).
            let start = ip - 1;
            debug_assert_eq!(code[start], op as u8, "the general path starts after the opcode");
            self.ip = ip;
            self.sp = sp;
            self.may_yield = !mem::take(&mut self.skip_yield_once);
            let result = self.step(op);
            sp = self.sp;
            ip = self.ip;
            code = self.code;
            base = self.base;
            match result {
                Ok(()) => next!(),
                Err(Stop::Exit(exit)) => return exit,
                Err(Stop::Collect) => {
                    self.ip = start;
                    return Exit::Collect;
                }
                Err(Stop::Yield) => {
                    self.ip = start;
                    return Exit::Yield;
                }
            }
        }
    }

    /// Execute instruction `op` (its opcode byte already read): the slow path of [`Segment::run`].
    ///
    /// `run` executes fourteen opcodes entirely itself and never comes here for them:
    /// `Constant`, `Nil`, `True`, `False`, `Pop`, `GetLocal`, `SetLocal`, `Jump`,
    /// `JumpIfFalse`, `PopJumpIfFalse`, `Loop`, `Not`, `Equal` and `EqualConstant`. It executes twenty more in
    /// their common case and comes here only otherwise:
    /// - `GetGlobal` and `SetGlobal`: an undefined global;
    /// - `Add`, `Subtract`, `Multiply`, `Divide`, `Less` and `Greater`: operands that are not
    ///   two numbers (string concatenation, or a type error);
    /// - their superinstructions with a number constant (`AddConstant`, ...): an operand that
    ///   is not a number (a type error: the constant is pushed and the operator's own case
    ///   reports it);
    /// - `Call`: a callee that is neither a closure nor a class (a native, a bound method, an
    ///   error), a wrong arity, a full frame stack, the segment's budget running out, or a class
    ///   at a stress run's collection point;
    /// - `Invoke`: a field holding the callee, a missing method, or the cases of `Call`;
    /// - `GetProperty`, and `GetLocalProperty` (which pushes the local first): a method to
    ///   bind, or a receiver that is not an instance;
    /// - `SetProperty`: a new field (which may grow the table), or a receiver that is not an
    ///   instance;
    /// - `Return`: an upvalue to close, or the script's own return.
    ///
    /// Every other opcode runs only here (upvalues, global definitions, classes, `super`,
    /// everything else that may allocate or yield to a stress collection): rarer or larger, it
    /// would crowd the hot loop.
    #[inline(never)]
    fn step(&mut self, op: OpCode) -> Step {
        let mu = self.mu;
        match op {
            OpCode::GetGlobal => {
                // `run` pushes a defined global itself.
                let index = self.read_global_index();
                debug_assert!(!self.globals.slots[index].is_defined(), "`run` reads defined globals");
                return Err(self.undefined_variable(index));
            }
            OpCode::DefineGlobal => {
                let index = self.read_global_index();
                let v = self.pop();
                self.globals.slots[index].set(v);
            }
            OpCode::SetGlobal => {
                // `run` writes defined globals itself.
                let index = self.read_global_index();
                debug_assert!(!self.globals.slots[index].is_defined(), "`run` writes defined globals");
                return Err(self.undefined_variable(index));
            }
            OpCode::GetUpvalue => {
                let i = self.read_byte() as usize;
                let up = self.upvalue(i);
                let v = match up.open_location() {
                    Some(loc) => self.stack[loc],
                    None => up.closed.value(mu),
                };
                self.push(v);
            }
            OpCode::SetUpvalue => {
                let i = self.read_byte() as usize;
                let up = self.upvalue(i);
                let v = self.peek(0);
                match up.open_location() {
                    Some(loc) => self.stack[loc] = v,
                    None => up.closed.set(v),
                }
            }
            OpCode::GetProperty => self.get_property()?,
            OpCode::SetProperty => self.set_property()?,
            OpCode::GetSuper => {
                let name = self.read_string();
                let superclass = self.peek(0).as_obj().expect("super is a class");
                self.bind_method(superclass, name, 1)?;
            }
            // `run` computes these when both operands are numbers.
            OpCode::Add => {
                debug_assert!(!self.operands_are_numbers(), "`run` adds numbers");
                self.concatenate()?;
            }
            // A fused comparison's operands are not two numbers either (its constant is a
            // number): the comparison's error.
            OpCode::Subtract
            | OpCode::Multiply
            | OpCode::Divide
            | OpCode::Less
            | OpCode::Greater
            | OpCode::JumpIfNotLess
            | OpCode::JumpIfNotGreater
            | OpCode::JumpIfNotLessConstant
            | OpCode::JumpIfNotGreaterConstant => {
                debug_assert!(!self.operands_are_numbers(), "`run` computes on numbers");
                return Err(self.error("Operands must be numbers."));
            }
            // `run` computes these when the operand on the stack is a number; otherwise the
            // two-instruction form fails with its message.
            OpCode::AddConstant
            | OpCode::SubtractConstant
            | OpCode::MultiplyConstant
            | OpCode::DivideConstant
            | OpCode::LessConstant
            | OpCode::GreaterConstant => {
                let c = self.read_constant();
                // Pushed: from here the instruction must not yield (a number constant never
                // concatenates, so nothing below allocates; this keeps it so).
                self.may_yield = false;
                self.push(c);
                let op = op.without_constant().expect("a superinstruction");
                return self.step(op);
            }
            OpCode::GetLocalProperty => {
                // Yield to a stress collection before pushing: `GetProperty` may allocate (a
                // bound method), and after a collection this instruction runs again from its
                // start.
                self.gc_point()?;
                let slot = self.read_byte() as usize;
                self.push(self.stack[self.base + slot]);
                self.get_property()?;
            }
            OpCode::Negate => match self.peek(0).as_number() {
                Some(n) => self.set_top(0, Value::number(-n)),
                None => return Err(self.error("Operand must be a number.")),
            },
            OpCode::Print => {
                let v = self.pop();
                let mut line = String::new();
                v.write(mu, &mut line);
                line.push('\n');
                let _ = self.out.write_all(line.as_bytes());
            }
            OpCode::Call => {
                let argc = self.read_byte() as usize;
                self.call_value(self.peek(argc), argc)?;
                self.tick()?;
            }
            OpCode::Invoke => {
                let name = self.read_string();
                let argc = self.read_byte() as usize;
                self.invoke(name, argc)?;
                self.tick()?;
            }
            OpCode::SuperInvoke => {
                let k = self.read_byte() as usize;
                let name = self.function.constants[k].value(mu).as_obj().expect("a name constant is a string");
                let argc = self.read_byte() as usize;
                let superclass = self.peek(0).as_obj().expect("super is a class");
                let method = self.function.method_caches[k].find(mu, superclass, name);
                match method {
                    Some(m) => {
                        self.pop();
                        self.call(m, argc)?;
                    }
                    None => return Err(self.undefined_property(name)),
                }
                self.tick()?;
            }
            OpCode::Closure => self.closure()?,
            OpCode::CloseUpvalue => {
                self.close_upvalues(self.sp - 1);
                self.pop();
            }
            OpCode::Return => return self.return_(),
            OpCode::Class => {
                self.gc_point()?;
                let name = self.read_string();
                let class = Obj::class(mu, name);
                self.push(Value::obj(class));
            }
            OpCode::Inherit => {
                // Copying the methods may grow the subclass's table.
                self.gc_point()?;
                let Some(superclass) = self.peek(1).as_obj().filter(|o| o.as_class().is_some()) else {
                    return Err(self.error("Superclass must be a class."));
                };
                let sub = self.peek(0).as_obj().expect("a class").into_ref().as_class().expect("a class");
                let sup = superclass.into_ref().as_class().expect("a class");
                sup.methods.for_each(mu, |name, method| {
                    sub.methods.set(mu, name, method);
                });
                sub.set_initializer(sup.initializer(mu));
                self.pop();
            }
            OpCode::Method => {
                let name = self.read_string();
                let method = self.peek(0).as_obj().expect("a method is a closure");
                let class = self.peek(1).as_obj().expect("a class").into_ref().as_class().expect("a class");
                if class.methods.insert_allocates(mu) {
                    self.gc_point()?;
                }
                class.add_method(mu, name, method);
                if Gc::ptr_eq(name, self.init_string) {
                    class.set_initializer(Some(method));
                }
                self.pop();
            }
            OpCode::Constant
            | OpCode::Nil
            | OpCode::True
            | OpCode::False
            | OpCode::Pop
            | OpCode::GetLocal
            | OpCode::SetLocal
            | OpCode::Jump
            | OpCode::JumpIfFalse
            | OpCode::Loop
            | OpCode::Not
            | OpCode::Equal
            | OpCode::EqualConstant
            | OpCode::PopJumpIfFalse => unreachable!("`run` executes {op:?} itself"),
        }
        Ok(())
    }

    /// Whether a call of `function` with `argc` arguments can take the dispatch loop's fast
    /// path: the right arity, room for a frame, and budget left (`enter_fast` counts the call
    /// as `tick` would, without ending the segment).
    #[inline(always)]
    fn can_enter_fast(&self, function: &Function, argc: usize) -> bool {
        function.arity == argc && self.frames.len() < FRAMES_MAX && self.budget > 1
    }

    /// Push a frame for `closure` (its callee slot and `argc` arguments on top of the stack),
    /// after saving `return_ip` in the caller's frame; returns the new frame's stack base.
    #[inline(always)]
    fn enter_fast(&mut self, closure: Gc<'m, Obj>, function: &'m Function, base: usize, return_ip: usize) {
        self.budget -= 1;
        if let Some(f) = self.frames.last_mut() {
            f.ip = return_ip;
        }
        self.frames.push(Frame { closure, function, ip: 0, base });
        self.enter(function, 0, base);
    }

    /// Count a call or backward jump against the segment's budget.
    #[inline(always)]
    fn tick(&mut self) -> Step {
        self.budget -= 1;
        if self.budget == 0 && self.safepoint_due() {
            Err(Stop::Exit(Exit::Safepoint))
        } else {
            Ok(())
        }
    }

    /// The budget ran out: end the segment if the collector waits for this thread (or in
    /// stress mode); otherwise renew the budget and go on without spilling.
    #[cold]
    fn safepoint_due(&mut self) -> bool {
        if self.stress || self.mu.safepoint_requested() {
            return true;
        }
        self.budget = SEGMENT_BUDGET + self.sp;
        false
    }

    fn undefined_variable(&mut self, index: usize) -> Stop {
        let message = format!("Undefined variable '{}'.", self.names.name(index as u32));
        self.error(message)
    }

    fn undefined_property(&mut self, name: Gc<'m, Obj>) -> Stop {
        let mut message = String::from("Undefined property '");
        name.write(self.mu, &mut message);
        message.push_str("'.");
        self.error(message)
    }

    /// Whether the two operands on top of the stack are numbers.
    fn operands_are_numbers(&self) -> bool {
        self.peek(1).as_number().is_some() && self.peek(0).as_number().is_some()
    }

    /// `+` on operands that are not two numbers (`run` adds those): two strings concatenate,
    /// anything else is an error.
    fn concatenate(&mut self) -> Step {
        match (self.peek(1).as_obj(), self.peek(0).as_obj()) {
            (Some(a), Some(b)) if a.as_string().is_some() && b.as_string().is_some() => {
                self.gc_point()?;
                let (a, b) = (a.into_ref().as_string().expect("string"), b.into_ref().as_string().expect("string"));
                let (a, b) = (a.text(self.mu), b.text(self.mu));
                let mut s = String::with_capacity(a.len() + b.len());
                s.push_str(a);
                s.push_str(b);
                let result = Obj::string(self.mu, &s);
                self.truncate(self.sp - 2);
                self.push(Value::obj(result));
            }
            _ => return Err(self.error("Operands must be two numbers or two strings.")),
        }
        Ok(())
    }

    // ---- upvalues ----

    /// The closure the current frame runs (read from the frame, not cached: only the upvalue
    /// instructions need it, so calls and returns need not derive it).
    #[inline(always)]
    fn current_closure(&self) -> &'m Closure {
        let frame = self.frames.last().expect("a frame");
        frame.closure.into_ref().as_closure().expect("a frame runs a closure")
    }

    #[inline(always)]
    fn upvalue(&self, i: usize) -> &'m crate::object::Upvalue {
        let up = self.current_closure().upvalues[i].get(self.mu).expect("upvalues are set when the closure is made");
        up.into_ref().as_upvalue().expect("an upvalue")
    }

    fn capture_upvalue(&mut self, location: usize) -> Gc<'m, Obj> {
        // `open` is sorted by location; new captures are usually at the top.
        let mut insert_at = self.open.len();
        while insert_at > 0 {
            let up = self.open[insert_at - 1];
            let loc = up.as_upvalue().and_then(|u| u.open_location()).expect("an open upvalue");
            if loc == location {
                return up;
            }
            if loc < location {
                break;
            }
            insert_at -= 1;
        }
        let up = Obj::upvalue(self.mu, location);
        self.open.insert(insert_at, up);
        up
    }

    fn close_upvalues(&mut self, last: usize) {
        while let Some(&up) = self.open.last() {
            let u = up.into_ref().as_upvalue().expect("an upvalue");
            let loc = u.open_location().expect("open");
            if loc < last {
                break;
            }
            u.close(self.stack[loc]);
            self.open.pop();
        }
    }

    fn closure(&mut self) -> Step {
        self.gc_point()?;
        let function = self.read_constant().as_obj().expect("a function constant");
        let count = function.as_function().expect("a function").upvalue_count;
        let closure = Obj::closure(self.mu, function, count);
        self.push(Value::obj(closure));
        let c = closure.into_ref().as_closure().expect("a closure");
        for i in 0..count {
            let is_local = self.read_byte() == 1;
            let index = self.read_byte() as usize;
            let up = if is_local {
                self.capture_upvalue(self.base + index)
            } else {
                self.current_closure().upvalues[index].get(self.mu).expect("set")
            };
            c.upvalues[i].set(Some(up));
        }
        Ok(())
    }

    // ---- calls ----

    fn call_value(&mut self, callee: Value<'m>, argc: usize) -> Step {
        let Some(obj) = callee.as_obj() else {
            return Err(self.error("Can only call functions and classes."));
        };
        match &*obj {
            Obj::Closure(_) => self.call(obj, argc),
            Obj::Native(native) => {
                // As clox: extra arguments are ignored (`clock(1)` is the time); too few would
                // leave the native without its arguments, an error.
                if argc < native.arity {
                    return Err(self.error(format!("Expected {} arguments but got {argc}.", native.arity)));
                }
                let args_start = self.sp - argc;
                let result = (native.function)(self.mu, &self.stack[args_start..self.sp]);
                self.truncate(args_start - 1);
                self.push(result);
                Ok(())
            }
            Obj::Class(class) => {
                self.gc_point()?;
                let instance = Obj::instance(self.mu, obj);
                self.set_top(argc, Value::obj(instance));
                match class.initializer(self.mu) {
                    Some(init) => self.call(init, argc),
                    None if argc != 0 => Err(self.error(format!("Expected 0 arguments but got {argc}."))),
                    None => Ok(()),
                }
            }
            Obj::BoundMethod(bound) => {
                let receiver = bound.receiver.value(self.mu);
                self.set_top(argc, receiver);
                self.call(bound.method(self.mu), argc)
            }
            _ => Err(self.error("Can only call functions and classes.")),
        }
    }

    /// Push a frame for `closure` with `argc` arguments on the stack.
    fn call(&mut self, closure: Gc<'m, Obj>, argc: usize) -> Step {
        let function = closure_function(self.mu, closure);
        if argc != function.arity {
            return Err(self.error(format!("Expected {} arguments but got {argc}.", function.arity)));
        }
        if self.frames.len() == FRAMES_MAX {
            return Err(self.error("Stack overflow."));
        }
        if let Some(f) = self.frames.last_mut() {
            f.ip = self.ip;
        }
        let base = self.sp - argc - 1;
        self.frames.push(Frame { closure, function, ip: 0, base });
        self.enter(function, 0, base);
        Ok(())
    }

    #[inline(always)]
    fn enter(&mut self, function: &'m Function, ip: usize, base: usize) {
        self.function = function;
        self.code = &function.code;
        self.ip = ip;
        self.base = base;
    }

    fn return_(&mut self) -> Step {
        let result = self.pop();
        self.close_upvalues(self.base);
        self.frames.pop();
        let Some(&caller) = self.frames.last() else {
            self.pop(); // the script's closure
            return Err(Stop::Exit(Exit::Done));
        };
        self.truncate(self.base);
        self.push(result);
        self.enter(caller.function, caller.ip, caller.base);
        Ok(())
    }

    fn find_method(&self, class: Gc<'m, Obj>, name: Gc<'m, Obj>) -> Option<Gc<'m, Obj>> {
        class.as_class().expect("a class").find_method(self.mu, name)
    }

    fn invoke(&mut self, name: Gc<'m, Obj>, argc: usize) -> Step {
        let receiver = self.peek(argc);
        let Some(instance) = receiver.as_obj().and_then(|o| o.into_ref().as_instance()) else {
            return Err(self.error("Only instances have methods."));
        };
        if let Some(field) = instance.fields.get(self.mu, name) {
            let value = field.value(self.mu);
            if value.as_obj().is_some_and(|o| o.as_class().is_some()) {
                self.gc_point()?;
            }
            self.set_top(argc, value);
            return self.call_value(value, argc);
        }
        let class = instance.class(self.mu);
        match self.find_method(class, name) {
            Some(method) => self.call(method, argc),
            None => Err(self.undefined_property(name)),
        }
    }

    /// Replace the receiver on top of the stack with method `name` of `class` bound to it; for
    /// `super.name` the superclass is on top and the receiver under it (`pops` = 1).
    fn bind_method(&mut self, class: Gc<'m, Obj>, name: Gc<'m, Obj>, pops: usize) -> Step {
        let Some(method) = self.find_method(class, name) else {
            return Err(self.undefined_property(name));
        };
        self.gc_point()?;
        self.truncate(self.sp - pops);
        let receiver = self.peek(0);
        let bound = Obj::bound_method(self.mu, receiver, method);
        self.set_top(0, Value::obj(bound));
        Ok(())
    }

    fn get_property(&mut self) -> Step {
        let name = self.read_string();
        let Some(instance) = self.peek(0).as_obj().and_then(|o| o.into_ref().as_instance()) else {
            return Err(self.error("Only instances have properties."));
        };
        if let Some(field) = instance.fields.get(self.mu, name) {
            let v = field.value(self.mu);
            self.set_top(0, v);
            return Ok(());
        }
        self.bind_method(instance.class(self.mu), name, 0)
    }

    fn set_property(&mut self) -> Step {
        let name = self.read_string();
        let Some(instance) = self.peek(1).as_obj().and_then(|o| o.into_ref().as_instance()) else {
            return Err(self.error("Only instances have fields."));
        };
        let value = self.peek(0);
        let mu = self.mu;
        if let Some(slot) = instance.fields.get(mu, name) {
            slot.set(value);
        } else {
            if instance.fields.insert_allocates(mu) {
                self.gc_point()?;
            }
            let class = instance.class(mu).into_ref().as_class().expect("an instance's class is a class");
            instance.fields.insert_new_for_class(mu, name, value, &class.field_capacity);
        }
        self.truncate(self.sp - 2);
        self.push(value);
        Ok(())
    }
}

/// The function a closure object runs.
#[inline(always)]
fn closure_function<'m>(mu: &'m Mutator, closure: Gc<'m, Obj>) -> &'m Function {
    function_of(mu, closure.into_ref().as_closure().expect("a closure"))
}

/// The function `closure` runs.
#[inline(always)]
fn function_of<'m>(mu: &'m Mutator, closure: &'m Closure) -> &'m Function {
    closure.function(mu).into_ref().as_function().expect("a function")
}
