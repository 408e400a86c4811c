//! A Lox interpreter — the bytecode virtual machine of *Crafting Interpreters* (clox) — whose
//! runtime objects all live in the `gc-runtime` heap.
//!
//! # Pipeline
//!
//! | stage | module |
//! |---|---|
//! | source → tokens | [`scanner`] |
//! | tokens → bytecode (single-pass Pratt parser) | [`compiler`], [`chunk`] |
//! | bytecode → effects (stack VM) | [`vm`], [`natives`] |
//!
//! # Memory
//!
//! Values ([`value`]) are `Copy` locals in running code and GC slots in the heap; every
//! object ([`object`]) is a GC object; the VM's stack, frames, globals and interned strings
//! are spilled into one rooted heap object ([`state`]) before every safepoint. The README
//! (`lox/README.md`) describes the mapping in full.

pub mod chunk;
pub mod compiler;
pub mod natives;
pub mod object;
pub mod scanner;
pub mod state;
pub mod table;
pub mod value;
pub mod vm;

pub use vm::{InterpretError, Vm};
