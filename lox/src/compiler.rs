//! The compiler: a single-pass Pratt parser that writes bytecode, as clox's `compiler.c`.
//!
//! # Shape
//!
//! [`compile`] scans and parses the whole program in one pass, emitting instructions as it
//! goes into the [`Chunk`] of the function being compiled. Nested function declarations push
//! a new `FnState` (locals, upvalues, scope depth); finishing one allocates its [`Function`]
//! object in the heap and stores it as a constant of the enclosing function. Errors are
//! reported with clox's wording and synchronised at statement boundaries (panic mode), so one
//! mistake gives one message.
//!
//! # The collector during compilation
//!
//! The compiler takes `&Mutator` and never passes a safepoint, so every string and function
//! it allocates stays valid until it returns, held in plain Rust vectors: nothing needs
//! rooting. The program's top-level function is returned as a local; the VM stores it in a
//! heap slot before its first safepoint.
//!
//! # Globals
//!
//! Global variables are resolved by name to an index in the VM's global array at compile time
//! ([`Globals`]), and each global instruction keeps clox's operand — the constant index of the
//! name — with the function mapping that constant to the global's index. Whether a global is
//! *defined* is still decided at run time, as in clox.

use std::{collections::HashMap, sync::atomic::AtomicU32};

use gc_runtime::{Gc, GcMap, Mutator};

use crate::{
    chunk::{Chunk, OpCode, NOT_GLOBAL},
    object::{Function, MethodCache, Obj},
    scanner::{Scanner, Token, TokenKind},
    value::{Slot, Value},
};

/// The names of the global variables the VM knows, each with its index in the global array.
#[derive(Debug, Default)]
pub struct Globals {
    names: HashMap<Box<str>, u32>,
    order: Vec<Box<str>>,
}

impl Globals {
    /// The index of global `name`, assigning the next one if it is new.
    pub fn index(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.names.get(name) {
            return i;
        }
        let i = self.order.len() as u32;
        self.names.insert(name.into(), i);
        self.order.push(name.into());
        i
    }

    /// How many globals have an index.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether no global has an index yet.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The name of global `index`.
    pub fn name(&self, index: u32) -> &str {
        &self.order[index as usize]
    }
}

/// Find or allocate the interned string `text`.
pub fn intern<'m>(mu: &'m Mutator, strings: &GcMap<Box<str>, Obj>, text: &str) -> Gc<'m, Obj> {
    if let Some(s) = strings.get(text, mu) {
        return s;
    }
    let s = Obj::string(mu, text);
    strings.insert(text.into(), s);
    s
}

/// Compile `source` into the top-level function, or return the error messages (one line
/// each, in clox's format).
pub fn compile<'m>(
    mu: &'m Mutator,
    source: &str,
    strings: &GcMap<Box<str>, Obj>,
    globals: &mut Globals,
) -> Result<Gc<'m, Obj>, Vec<String>> {
    let mut c = Compiler {
        mu,
        depth: 0,
        strings,
        globals,
        scanner: Scanner::new(source),
        current: Token::synthetic(""),
        previous: Token::synthetic(""),
        panic_mode: false,
        errors: Vec::new(),
        fns: Vec::new(),
        classes: Vec::new(),
    };
    c.push_fn(FunctionKind::Script, None);
    c.advance();
    while !c.matches(TokenKind::Eof) {
        c.declaration();
    }
    let (function, _) = c.end_fn();
    if c.errors.is_empty() {
        Ok(function)
    } else {
        Err(c.errors)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FunctionKind {
    Function,
    Initializer,
    Method,
    Script,
}

struct Local<'s> {
    name: &'s str,
    /// Scope depth; `-1` while its initializer runs.
    depth: i32,
    is_captured: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct UpvalueRef {
    index: u8,
    is_local: bool,
}

/// What the compiler knows about the function it is compiling.
struct FnState<'s, 'm> {
    chunk: Chunk<'m>,
    kind: FunctionKind,
    name: Option<Gc<'m, Obj>>,
    arity: usize,
    locals: Vec<Local<'s>>,
    upvalues: Vec<UpvalueRef>,
    scope_depth: i32,
}

struct ClassState {
    has_superclass: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Precedence {
    None,
    Assignment,
    Or,
    And,
    Equality,
    Comparison,
    Term,
    Factor,
    Unary,
    Call,
    Primary,
}

impl Precedence {
    fn next(self) -> Precedence {
        use Precedence::*;
        match self {
            None => Assignment,
            Assignment => Or,
            Or => And,
            And => Equality,
            Equality => Comparison,
            Comparison => Term,
            Term => Factor,
            Factor => Unary,
            Unary => Call,
            Call | Primary => Primary,
        }
    }
}

const MAX_LOCALS: usize = 256;
const MAX_UPVALUES: usize = 256;

/// How deep the compiler follows the source's nesting (statements inside statements,
/// expressions inside expressions, functions and classes inside functions), each level a
/// recursive call: beyond it, a compile error. clox has no limit and overflows the C stack at
/// about 47,000 nested blocks. Within it, the compiler runs on any thread: each level checks
/// the stack left and, near its end, goes on on a fresh segment (`stacker`, see
/// [`RED_ZONE`]), so the depth costs heap memory, not a thread with a large stack.
pub const MAX_NESTING: usize = 100_000;

/// Stack a level of nesting must find left before it recurses; with less, it continues on a
/// new segment of [`STACK_SEGMENT`] bytes. One level takes a few hundred bytes optimised,
/// some kilobytes unoptimised; this leaves room for the deepest path between two checks
/// (an expression's prefix and infix parsing, and a statement's own calls).
const RED_ZONE: usize = 128 << 10;

/// The size of each stack segment the compiler adds when it runs low (see [`RED_ZONE`]).
const STACK_SEGMENT: usize = 8 << 20;

struct Compiler<'s, 'm, 'c> {
    mu: &'m Mutator,
    /// Statements and expressions being compiled, one inside the other (see [`MAX_NESTING`]).
    depth: usize,
    strings: &'c GcMap<Box<str>, Obj>,
    globals: &'c mut Globals,
    scanner: Scanner<'s>,
    current: Token<'s>,
    previous: Token<'s>,
    panic_mode: bool,
    errors: Vec<String>,
    fns: Vec<FnState<'s, 'm>>,
    classes: Vec<ClassState>,
}

impl<'s, 'm> Compiler<'s, 'm, '_> {
    // ---- errors and tokens ----

    fn error_at(&mut self, token: Token<'s>, message: &str) {
        if self.panic_mode {
            return;
        }
        self.panic_mode = true;
        let at = match token.kind {
            TokenKind::Eof => " at end".to_string(),
            TokenKind::Error => String::new(),
            _ => format!(" at '{}'", token.lexeme),
        };
        self.errors.push(format!("[line {}] Error{at}: {message}", token.line));
    }

    fn error(&mut self, message: &str) {
        self.error_at(self.previous, message);
    }

    fn error_at_current(&mut self, message: &str) {
        self.error_at(self.current, message);
    }

    fn advance(&mut self) {
        self.previous = self.current;
        loop {
            self.current = self.scanner.scan_token();
            if self.current.kind != TokenKind::Error {
                break;
            }
            self.error_at_current(self.current.lexeme);
        }
    }

    fn consume(&mut self, kind: TokenKind, message: &str) {
        if self.current.kind == kind {
            self.advance();
        } else {
            self.error_at_current(message);
        }
    }

    fn check(&self, kind: TokenKind) -> bool {
        self.current.kind == kind
    }

    fn matches(&mut self, kind: TokenKind) -> bool {
        if !self.check(kind) {
            return false;
        }
        self.advance();
        true
    }

    // ---- emitting ----

    /// The innermost function being compiled: the one code is emitted into, whose locals and
    /// scope depth name resolution looks at first (clox's `current` compiler).
    fn current_fn(&mut self) -> &mut FnState<'s, 'm> {
        self.fns.last_mut().expect("a function is being compiled")
    }

    fn chunk(&mut self) -> &mut Chunk<'m> {
        &mut self.current_fn().chunk
    }

    fn emit(&mut self, byte: u8) {
        let line = self.previous.line;
        self.chunk().write(byte, line);
    }

    fn emit_op(&mut self, op: OpCode) {
        let line = self.previous.line;
        self.chunk().write_op(op, line);
    }

    fn emit_op_arg(&mut self, op: OpCode, arg: u8) {
        self.emit_op(op);
        self.emit(arg);
    }

    fn emit_loop(&mut self, loop_start: usize) {
        self.emit_op(OpCode::Loop);
        let offset = self.chunk().code.len() - loop_start + 2;
        if offset > u16::MAX as usize {
            self.error("Loop body too large.");
        }
        self.emit((offset >> 8) as u8);
        self.emit(offset as u8);
    }

    fn emit_jump(&mut self, op: OpCode) -> usize {
        self.emit_op(op);
        self.emit(0xff);
        self.emit(0xff);
        self.chunk().code.len() - 2
    }

    /// Emit the jump of an `if`, `while` or `for` that pops its condition and jumps if it is
    /// false, fused with the condition's comparison when it ends in one (see `chunk.rs`).
    /// Returns where the offset goes, for [`patch_jump`](Self::patch_jump).
    fn emit_condition_jump(&mut self) -> usize {
        let Some((op, operand, line)) = self.chunk().take_last_comparison() else {
            return self.emit_jump(OpCode::PopJumpIfFalse);
        };
        let chunk = self.chunk();
        chunk.write_op(op, line);
        if let Some(k) = operand {
            chunk.write(k, line);
        }
        chunk.write(0xff, line);
        chunk.write(0xff, line);
        chunk.code.len() - 2
    }

    fn patch_jump(&mut self, at: usize) {
        let jump = self.chunk().code.len() - at - 2;
        if jump > u16::MAX as usize {
            self.error("Too much code to jump over.");
        }
        let chunk = self.chunk();
        chunk.code[at] = (jump >> 8) as u8;
        chunk.code[at + 1] = jump as u8;
        chunk.jump_target = chunk.code.len();
    }

    fn emit_return(&mut self) {
        if self.current_fn().kind == FunctionKind::Initializer {
            self.emit_op_arg(OpCode::GetLocal, 0);
        } else {
            self.emit_op(OpCode::Nil);
        }
        self.emit_op(OpCode::Return);
    }

    fn make_constant_global(&mut self, value: Value<'m>, global: u32) -> u8 {
        let index = self.chunk().add_constant(value, global);
        if index > u8::MAX as usize {
            self.error("Too many constants in one chunk.");
            return 0;
        }
        index as u8
    }

    fn make_constant(&mut self, value: Value<'m>) -> u8 {
        self.make_constant_global(value, NOT_GLOBAL)
    }

    fn emit_constant(&mut self, value: Value<'m>) {
        let c = self.make_constant(value);
        self.emit_op_arg(OpCode::Constant, c);
    }

    fn intern(&mut self, text: &str) -> Gc<'m, Obj> {
        intern(self.mu, self.strings, text)
    }

    /// A constant holding the name of a property or method.
    fn name_constant(&mut self, name: &str) -> u8 {
        let s = self.intern(name);
        self.make_constant(Value::obj(s))
    }

    /// A constant holding the name of a variable, mapped to its global index.
    fn identifier_constant(&mut self, name: &str) -> u8 {
        let s = self.intern(name);
        let global = self.globals.index(name);
        self.make_constant_global(Value::obj(s), global)
    }

    // ---- functions and scopes ----

    fn push_fn(&mut self, kind: FunctionKind, name: Option<Gc<'m, Obj>>) {
        // Slot zero holds the function called or, in a method or initializer, the receiver,
        // which `this` names. As in clox, the script's is named `this` too: only a misplaced
        // `this` or `super` (already an error) reads it, and resolving it there rather than as
        // a global keeps the constants, and so the errors that follow, clox's.
        let slot_zero = match kind {
            FunctionKind::Method | FunctionKind::Initializer | FunctionKind::Script => "this",
            FunctionKind::Function => "",
        };
        self.fns.push(FnState {
            chunk: Chunk::default(),
            kind,
            name,
            arity: 0,
            locals: vec![Local { name: slot_zero, depth: 0, is_captured: false }],
            upvalues: Vec::new(),
            scope_depth: 0,
        });
    }

    /// Finish the current function: allocate its heap object.
    fn end_fn(&mut self) -> (Gc<'m, Obj>, Vec<UpvalueRef>) {
        self.emit_return();
        let state = self.fns.pop().expect("a function is being compiled");
        let chunk = state.chunk;
        let function = Function {
            name: Default::default(),
            arity: state.arity,
            upvalue_count: state.upvalues.len(),
            code: chunk.code.into_boxed_slice(),
            lines: chunk.lines.into_boxed_slice(),
            constants: chunk.constants.iter().map(|_| Slot::new()).collect(),
            globals: chunk.globals.into_boxed_slice(),
            method_caches: chunk.constants.iter().map(|_| MethodCache::default()).collect(),
            field_hints: chunk.constants.iter().map(|_| AtomicU32::new(0)).collect(),
        };
        let obj = self.mu.alloc(Obj::Function(Box::new(function)));
        let function = obj.as_function().expect("just allocated");
        function.set_name(state.name);
        for (slot, value) in function.constants.iter().zip(&chunk.constants) {
            slot.set(*value);
        }
        (obj, state.upvalues)
    }

    fn begin_scope(&mut self) {
        self.current_fn().scope_depth += 1;
    }

    fn end_scope(&mut self) {
        self.current_fn().scope_depth -= 1;
        loop {
            let f = self.current_fn();
            let Some(local) = f.locals.last() else { break };
            if local.depth <= f.scope_depth {
                break;
            }
            let captured = local.is_captured;
            f.locals.pop();
            self.emit_op(if captured { OpCode::CloseUpvalue } else { OpCode::Pop });
        }
    }

    fn add_local(&mut self, name: &'s str) {
        if self.current_fn().locals.len() == MAX_LOCALS {
            self.error("Too many local variables in function.");
            return;
        }
        self.current_fn().locals.push(Local { name, depth: -1, is_captured: false });
    }

    fn declare_variable(&mut self) {
        if self.current_fn().scope_depth == 0 {
            return;
        }
        let name = self.previous.lexeme;
        let f = self.fns.last().expect("function");
        let duplicate =
            f.locals.iter().rev().take_while(|l| l.depth == -1 || l.depth >= f.scope_depth).any(|l| l.name == name);
        if duplicate {
            self.error("Already a variable with this name in this scope.");
        }
        self.add_local(name);
    }

    fn parse_variable(&mut self, message: &str) -> u8 {
        self.consume(TokenKind::Identifier, message);
        self.declare_variable();
        if self.current_fn().scope_depth > 0 {
            return 0;
        }
        let name = self.previous.lexeme;
        self.identifier_constant(name)
    }

    fn mark_initialized(&mut self) {
        let f = self.current_fn();
        if f.scope_depth == 0 {
            return;
        }
        let depth = f.scope_depth;
        if let Some(l) = f.locals.last_mut() {
            l.depth = depth;
        }
    }

    fn define_variable(&mut self, global: u8) {
        if self.current_fn().scope_depth > 0 {
            self.mark_initialized();
            return;
        }
        self.emit_op_arg(OpCode::DefineGlobal, global);
    }

    fn resolve_local(&mut self, fn_index: usize, name: &str) -> Option<u8> {
        let found = self.fns[fn_index].locals.iter().rposition(|l| l.name == name);
        let i = found?;
        if self.fns[fn_index].locals[i].depth == -1 {
            self.error("Can't read local variable in its own initializer.");
        }
        Some(i as u8)
    }

    fn add_upvalue(&mut self, fn_index: usize, index: u8, is_local: bool) -> u8 {
        let up = UpvalueRef { index, is_local };
        if let Some(i) = self.fns[fn_index].upvalues.iter().position(|u| *u == up) {
            return i as u8;
        }
        if self.fns[fn_index].upvalues.len() == MAX_UPVALUES {
            self.error("Too many closure variables in function.");
            return 0;
        }
        self.fns[fn_index].upvalues.push(up);
        (self.fns[fn_index].upvalues.len() - 1) as u8
    }

    /// The upvalue of function `fn_index` for `name`, a local of an enclosing function: the
    /// nearest that declares it captures it, and each function between it and `fn_index` gets
    /// an upvalue for the one around it (clox's recursion, as a loop: a name used 100,000
    /// functions deep would recurse that deep, past any thread's stack).
    fn resolve_upvalue(&mut self, fn_index: usize, name: &str) -> Option<u8> {
        let (outer, local) = (0..fn_index).rev().find_map(|f| Some((f, self.resolve_local(f, name)?)))?;
        self.fns[outer].locals[local as usize].is_captured = true;
        let mut up = self.add_upvalue(outer + 1, local, true);
        for inner in outer + 2..=fn_index {
            up = self.add_upvalue(inner, up, false);
        }
        Some(up)
    }

    // ---- declarations and statements ----

    fn declaration(&mut self) {
        // A function's or class's body holds declarations: a level of nesting, as a statement
        // (which counts itself) is.
        if self.matches(TokenKind::Class) {
            self.nested(Self::class_declaration);
        } else if self.matches(TokenKind::Fun) {
            self.nested(Self::fun_declaration);
        } else if self.matches(TokenKind::Var) {
            self.var_declaration();
        } else {
            self.statement();
        }
        if self.panic_mode {
            self.synchronize();
        }
    }

    fn synchronize(&mut self) {
        self.panic_mode = false;
        use TokenKind as K;
        while self.current.kind != K::Eof {
            if self.previous.kind == K::Semicolon {
                return;
            }
            match self.current.kind {
                K::Class | K::Fun | K::Var | K::For | K::If | K::While | K::Print | K::Return => return,
                _ => self.advance(),
            }
        }
    }

    fn class_declaration(&mut self) {
        self.consume(TokenKind::Identifier, "Expect class name.");
        let class_name = self.previous;
        let name_constant = self.identifier_constant(class_name.lexeme);
        self.declare_variable();
        self.emit_op_arg(OpCode::Class, name_constant);
        self.define_variable(name_constant);
        self.classes.push(ClassState { has_superclass: false });

        if self.matches(TokenKind::Less) {
            self.consume(TokenKind::Identifier, "Expect superclass name.");
            self.variable(false);
            if class_name.lexeme == self.previous.lexeme {
                self.error("A class can't inherit from itself.");
            }
            self.begin_scope();
            self.add_local("super");
            self.define_variable(0);
            self.named_variable(class_name, false);
            self.emit_op(OpCode::Inherit);
            self.classes.last_mut().expect("class").has_superclass = true;
        }

        self.named_variable(class_name, false);
        self.consume(TokenKind::LeftBrace, "Expect '{' before class body.");
        while !self.check(TokenKind::RightBrace) && !self.check(TokenKind::Eof) {
            self.method();
        }
        self.consume(TokenKind::RightBrace, "Expect '}' after class body.");
        self.emit_op(OpCode::Pop);
        if self.classes.pop().expect("class").has_superclass {
            self.end_scope();
        }
    }

    fn method(&mut self) {
        self.consume(TokenKind::Identifier, "Expect method name.");
        let name = self.previous.lexeme;
        let constant = self.name_constant(name);
        let kind = if name == "init" { FunctionKind::Initializer } else { FunctionKind::Method };
        self.function(kind);
        self.emit_op_arg(OpCode::Method, constant);
    }

    fn fun_declaration(&mut self) {
        let global = self.parse_variable("Expect function name.");
        self.mark_initialized();
        self.function(FunctionKind::Function);
        self.define_variable(global);
    }

    fn function(&mut self, kind: FunctionKind) {
        let name = self.intern(self.previous.lexeme);
        self.push_fn(kind, Some(name));
        self.begin_scope();
        self.consume(TokenKind::LeftParen, "Expect '(' after function name.");
        if !self.check(TokenKind::RightParen) {
            loop {
                self.current_fn().arity += 1;
                if self.current_fn().arity > 255 {
                    self.error_at_current("Can't have more than 255 parameters.");
                }
                let constant = self.parse_variable("Expect parameter name.");
                self.define_variable(constant);
                if !self.matches(TokenKind::Comma) {
                    break;
                }
            }
        }
        self.consume(TokenKind::RightParen, "Expect ')' after parameters.");
        self.consume(TokenKind::LeftBrace, "Expect '{' before function body.");
        self.block();
        let (function, upvalues) = self.end_fn();
        let constant = self.make_constant(Value::obj(function));
        self.emit_op_arg(OpCode::Closure, constant);
        for up in upvalues {
            self.emit(u8::from(up.is_local));
            self.emit(up.index);
        }
    }

    fn var_declaration(&mut self) {
        let global = self.parse_variable("Expect variable name.");
        if self.matches(TokenKind::Equal) {
            self.expression();
        } else {
            self.emit_op(OpCode::Nil);
        }
        self.consume(TokenKind::Semicolon, "Expect ';' after variable declaration.");
        self.define_variable(global);
    }

    /// Compile one more level of nesting with `compile`, on more stack if this thread's runs
    /// low (see [`RED_ZONE`]); past [`MAX_NESTING`], report an error and skip a token (so
    /// that the caller makes progress) instead.
    fn nested(&mut self, compile: impl FnOnce(&mut Self)) {
        if self.depth >= MAX_NESTING {
            self.error_at_current("Too much nesting.");
            self.advance();
            return;
        }
        self.depth += 1;
        stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, || compile(self));
        self.depth -= 1;
    }

    fn statement(&mut self) {
        self.nested(Self::statement_inner);
    }

    fn statement_inner(&mut self) {
        if self.matches(TokenKind::Print) {
            self.expression();
            self.consume(TokenKind::Semicolon, "Expect ';' after value.");
            self.emit_op(OpCode::Print);
        } else if self.matches(TokenKind::For) {
            self.for_statement();
        } else if self.matches(TokenKind::If) {
            self.if_statement();
        } else if self.matches(TokenKind::Return) {
            self.return_statement();
        } else if self.matches(TokenKind::While) {
            self.while_statement();
        } else if self.matches(TokenKind::LeftBrace) {
            self.begin_scope();
            self.block();
            self.end_scope();
        } else {
            self.expression();
            self.consume(TokenKind::Semicolon, "Expect ';' after expression.");
            self.emit_op(OpCode::Pop);
        }
    }

    fn block(&mut self) {
        while !self.check(TokenKind::RightBrace) && !self.check(TokenKind::Eof) {
            self.declaration();
        }
        self.consume(TokenKind::RightBrace, "Expect '}' after block.");
    }

    fn if_statement(&mut self) {
        self.consume(TokenKind::LeftParen, "Expect '(' after 'if'.");
        self.expression();
        self.consume(TokenKind::RightParen, "Expect ')' after condition.");
        // The condition is popped on both paths (clox: `JumpIfFalse`, then a `Pop` at the start
        // of each branch).
        let then_jump = self.emit_condition_jump();
        self.statement();
        let else_jump = self.emit_jump(OpCode::Jump);
        self.patch_jump(then_jump);
        if self.matches(TokenKind::Else) {
            self.statement();
        }
        self.patch_jump(else_jump);
    }

    fn while_statement(&mut self) {
        let loop_start = self.chunk().code.len();
        self.consume(TokenKind::LeftParen, "Expect '(' after 'while'.");
        self.expression();
        self.consume(TokenKind::RightParen, "Expect ')' after condition.");
        let exit_jump = self.emit_condition_jump();
        self.statement();
        self.emit_loop(loop_start);
        self.patch_jump(exit_jump);
    }

    fn for_statement(&mut self) {
        self.begin_scope();
        self.consume(TokenKind::LeftParen, "Expect '(' after 'for'.");
        if self.matches(TokenKind::Semicolon) {
            // No initializer.
        } else if self.matches(TokenKind::Var) {
            self.var_declaration();
        } else {
            self.expression();
            self.consume(TokenKind::Semicolon, "Expect ';' after expression.");
            self.emit_op(OpCode::Pop);
        }

        let mut loop_start = self.chunk().code.len();
        let mut exit_jump = None;
        if !self.matches(TokenKind::Semicolon) {
            self.expression();
            self.consume(TokenKind::Semicolon, "Expect ';' after loop condition.");
            exit_jump = Some(self.emit_condition_jump());
        }

        if !self.matches(TokenKind::RightParen) {
            let body_jump = self.emit_jump(OpCode::Jump);
            let increment_start = self.chunk().code.len();
            self.expression();
            self.emit_op(OpCode::Pop);
            self.consume(TokenKind::RightParen, "Expect ')' after for clauses.");
            self.emit_loop(loop_start);
            loop_start = increment_start;
            self.patch_jump(body_jump);
        }

        self.statement();
        self.emit_loop(loop_start);
        if let Some(exit) = exit_jump {
            self.patch_jump(exit);
        }
        self.end_scope();
    }

    fn return_statement(&mut self) {
        if self.current_fn().kind == FunctionKind::Script {
            self.error("Can't return from top-level code.");
        }
        if self.matches(TokenKind::Semicolon) {
            self.emit_return();
        } else {
            if self.current_fn().kind == FunctionKind::Initializer {
                self.error("Can't return a value from an initializer.");
            }
            self.expression();
            self.consume(TokenKind::Semicolon, "Expect ';' after return value.");
            self.emit_op(OpCode::Return);
        }
    }

    // ---- expressions ----

    fn expression(&mut self) {
        self.parse_precedence(Precedence::Assignment);
    }

    fn parse_precedence(&mut self, precedence: Precedence) {
        self.nested(|c| c.parse_precedence_inner(precedence));
    }

    fn parse_precedence_inner(&mut self, precedence: Precedence) {
        self.advance();
        let can_assign = precedence <= Precedence::Assignment;
        if !self.prefix(self.previous.kind, can_assign) {
            self.error("Expect expression.");
            return;
        }
        while precedence <= infix_precedence(self.current.kind) {
            self.advance();
            self.infix(self.previous.kind, can_assign);
        }
        if can_assign && self.matches(TokenKind::Equal) {
            self.error("Invalid assignment target.");
        }
    }

    /// Run the prefix rule of `kind`; `false` if it has none.
    fn prefix(&mut self, kind: TokenKind, can_assign: bool) -> bool {
        use TokenKind as K;
        match kind {
            K::LeftParen => {
                self.expression();
                self.consume(K::RightParen, "Expect ')' after expression.");
            }
            K::Minus | K::Bang => {
                self.parse_precedence(Precedence::Unary);
                self.emit_op(if kind == K::Minus { OpCode::Negate } else { OpCode::Not });
            }
            K::Number => {
                let n: f64 = self.previous.lexeme.parse().expect("the scanner checked the digits");
                self.emit_constant(Value::number(n));
            }
            K::String => {
                let lexeme = self.previous.lexeme;
                let s = self.intern(&lexeme[1..lexeme.len() - 1]);
                self.emit_constant(Value::obj(s));
            }
            K::False => self.emit_op(OpCode::False),
            K::True => self.emit_op(OpCode::True),
            K::Nil => self.emit_op(OpCode::Nil),
            K::Identifier => self.variable(can_assign),
            K::This => self.this(),
            K::Super => self.super_(),
            _ => return false,
        }
        true
    }

    fn infix(&mut self, kind: TokenKind, can_assign: bool) {
        use TokenKind as K;
        match kind {
            K::LeftParen => {
                let argc = self.argument_list();
                self.emit_op_arg(OpCode::Call, argc);
            }
            K::Dot => self.dot(can_assign),
            K::And => {
                let end_jump = self.emit_jump(OpCode::JumpIfFalse);
                self.emit_op(OpCode::Pop);
                self.parse_precedence(Precedence::And);
                self.patch_jump(end_jump);
            }
            K::Or => {
                let else_jump = self.emit_jump(OpCode::JumpIfFalse);
                let end_jump = self.emit_jump(OpCode::Jump);
                self.patch_jump(else_jump);
                self.emit_op(OpCode::Pop);
                self.parse_precedence(Precedence::Or);
                self.patch_jump(end_jump);
            }
            _ => self.binary(kind),
        }
    }

    fn binary(&mut self, kind: TokenKind) {
        use TokenKind as K;
        let right_start = self.chunk().code.len();
        self.parse_precedence(infix_precedence(kind).next());
        // A right operand that compiled to exactly one `Constant` of a number (so it holds no
        // jump, and every enclosing construct patches its jumps after the operator) is fused
        // into the operator: a superinstruction (see `chunk.rs`).
        let constant = self.chunk().take_last(OpCode::Constant, |chunk, k| {
            chunk.code.len() == right_start + 2 && chunk.constants[k as usize].as_number().is_some()
        });
        let (op, not) = match kind {
            K::BangEqual => (OpCode::Equal, true),
            K::EqualEqual => (OpCode::Equal, false),
            K::Greater => (OpCode::Greater, false),
            K::GreaterEqual => (OpCode::Less, true),
            K::Less => (OpCode::Less, false),
            K::LessEqual => (OpCode::Greater, true),
            K::Plus => (OpCode::Add, false),
            K::Minus => (OpCode::Subtract, false),
            K::Star => (OpCode::Multiply, false),
            K::Slash => (OpCode::Divide, false),
            _ => unreachable!("not a binary operator"),
        };
        match (constant, op.with_constant()) {
            (Some(k), Some(fused)) => self.emit_op_arg(fused, k),
            _ => self.emit_op(op),
        }
        if not {
            self.emit_op(OpCode::Not);
        }
    }

    fn argument_list(&mut self) -> u8 {
        let mut argc: usize = 0;
        if !self.check(TokenKind::RightParen) {
            loop {
                self.expression();
                if argc == 255 {
                    self.error("Can't have more than 255 arguments.");
                }
                argc += 1;
                if !self.matches(TokenKind::Comma) {
                    break;
                }
            }
        }
        self.consume(TokenKind::RightParen, "Expect ')' after arguments.");
        argc.min(255) as u8
    }

    fn dot(&mut self, can_assign: bool) {
        self.consume(TokenKind::Identifier, "Expect property name after '.'.");
        let name = self.previous.lexeme;
        let name = self.name_constant(name);
        if can_assign && self.matches(TokenKind::Equal) {
            self.expression();
            self.emit_op_arg(OpCode::SetProperty, name);
        } else if self.matches(TokenKind::LeftParen) {
            let argc = self.argument_list();
            self.emit_op_arg(OpCode::Invoke, name);
            self.emit(argc);
        } else if let Some(slot) = self.chunk().take_last(OpCode::GetLocal, |_, _| true) {
            self.emit_op_arg(OpCode::GetLocalProperty, slot);
            self.emit(name);
        } else {
            self.emit_op_arg(OpCode::GetProperty, name);
        }
    }

    fn variable(&mut self, can_assign: bool) {
        self.named_variable(self.previous, can_assign);
    }

    fn named_variable(&mut self, name: Token<'s>, can_assign: bool) {
        let top = self.fns.len() - 1;
        let (get, set, arg) = if let Some(i) = self.resolve_local(top, name.lexeme) {
            (OpCode::GetLocal, OpCode::SetLocal, i)
        } else if let Some(i) = self.resolve_upvalue(top, name.lexeme) {
            (OpCode::GetUpvalue, OpCode::SetUpvalue, i)
        } else {
            let c = self.identifier_constant(name.lexeme);
            (OpCode::GetGlobal, OpCode::SetGlobal, c)
        };
        if can_assign && self.matches(TokenKind::Equal) {
            self.expression();
            self.emit_op_arg(set, arg);
        } else {
            self.emit_op_arg(get, arg);
        }
    }

    fn this(&mut self) {
        if self.classes.is_empty() {
            self.error("Can't use 'this' outside of a class.");
            return;
        }
        self.variable(false);
    }

    fn super_(&mut self) {
        match self.classes.last() {
            None => self.error("Can't use 'super' outside of a class."),
            Some(c) if !c.has_superclass => self.error("Can't use 'super' in a class with no superclass."),
            Some(_) => {}
        }
        self.consume(TokenKind::Dot, "Expect '.' after 'super'.");
        self.consume(TokenKind::Identifier, "Expect superclass method name.");
        let name = self.previous.lexeme;
        let name = self.name_constant(name);
        self.named_variable(Token::synthetic("this"), false);
        if self.matches(TokenKind::LeftParen) {
            let argc = self.argument_list();
            self.named_variable(Token::synthetic("super"), false);
            self.emit_op_arg(OpCode::SuperInvoke, name);
            self.emit(argc);
        } else {
            self.named_variable(Token::synthetic("super"), false);
            self.emit_op_arg(OpCode::GetSuper, name);
        }
    }
}

/// The precedence of `kind` as an infix operator ([`Precedence::None`] if it is not one).
fn infix_precedence(kind: TokenKind) -> Precedence {
    use TokenKind as K;
    match kind {
        K::LeftParen | K::Dot => Precedence::Call,
        K::Minus | K::Plus => Precedence::Term,
        K::Slash | K::Star => Precedence::Factor,
        K::BangEqual | K::EqualEqual => Precedence::Equality,
        K::Greater | K::GreaterEqual | K::Less | K::LessEqual => Precedence::Comparison,
        K::And => Precedence::And,
        K::Or => Precedence::Or,
        _ => Precedence::None,
    }
}
