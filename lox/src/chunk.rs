//! Bytecode: the instruction set and the chunk the compiler writes one function into.
//!
//! # Instructions
//!
//! The instruction set is clox's, one byte of opcode followed by its operands (one byte, or two
//! for jump offsets, big-endian). Constant operands index the function's constant table;
//! global-variable instructions take the constant index of the variable's name, which the
//! function also maps to the variable's slot in the VM's global array (see
//! [`Function::globals`](crate::object::Function)) so that no lookup by name is needed at
//! run time.
//!
//! Beyond clox's set, thirteen *superinstructions* fuse two instructions that often follow each
//! other into one dispatch:
//! - `PopJumpIfFalse` pops the condition of an `if`, `while` or `for` and jumps if it is false:
//!   clox's `JumpIfFalse` followed by a `Pop` at the start of both paths (`and` and `or`, which
//!   keep the value on one path, still use `JumpIfFalse`);
//! - seven fuse a number constant with the binary operator that consumes it (`n - 2`,
//!   `i < 100`, `depth == 0`): `AddConstant k` does what `Constant k; Add` does, without
//!   pushing the constant. The compiler emits one when an operator's right operand compiled to
//!   exactly one `Constant` of a number (so no jump can land between the two);
//! - `GetLocalProperty slot k` does what `GetLocal slot; GetProperty k` does (`this.x`, or
//!   `p.x` for a local `p`). The compiler emits it when the instruction before a property read
//!   is a `GetLocal` that no jump lands after ([`Chunk::last_op`], [`Chunk::jump_target`]).
//! - four fuse a comparison with the `PopJumpIfFalse` of the `if`, `while` or `for` whose
//!   condition it is (`n < 2`, `i < count`, `depth > 0`): `JumpIfNotLess offset` does what
//!   `Less; PopJumpIfFalse offset` does without pushing the boolean, and
//!   `JumpIfNotLessConstant k offset` what `LessConstant k; PopJumpIfFalse offset` does; the
//!   `Greater` forms likewise. The compiler emits one when the condition's last instruction is
//!   such a comparison that no jump lands after ([`Chunk::take_last_comparison`]).
//!
//! # Chunks while compiling
//!
//! A [`Chunk`] is plain Rust data built by the compiler: bytes, one line per byte, and the
//! constants as locals ([`Value<'m>`](crate::value::Value)). No safepoint happens during
//! compilation, so the constants stay valid; when a function is finished, the chunk is moved
//! into a heap [`Function`](crate::object::Function) whose constants are GC slots.

use crate::value::Value;

/// Declares the opcodes once: the enum, and the decoding of a byte (an opcode's byte is its
/// position in the list).
macro_rules! opcodes {
    ($($name:ident),* $(,)?) => {
        /// One instruction's opcode.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u8)]
        #[allow(missing_docs)] // the names are clox's
        pub enum OpCode {
            $($name),*
        }

        /// Each opcode's byte, by the opcode's name (the patterns of [`OpCode::from_byte`]).
        #[allow(non_upper_case_globals)]
        mod byte {
            $(pub(super) const $name: u8 = super::OpCode::$name as u8;)*
        }

        impl OpCode {
            /// Every opcode, in the order of its byte.
            #[cfg(test)]
            const ALL: &'static [OpCode] = &[$(OpCode::$name),*];

            /// The opcode of a byte the compiler wrote.
            ///
            /// A `match` from each byte to the opcode of the same number, not a table: the
            /// compiler sees the identity and keeps only the range check, so the dispatch
            /// loop's `match` on the opcode jumps straight from the byte.
            ///
            /// # Panics
            /// If `byte` is not an opcode (the compiler never writes one).
            #[inline(always)]
            pub fn from_byte(byte: u8) -> OpCode {
                match byte {
                    $(byte::$name => OpCode::$name,)*
                    _ => not_an_opcode(byte),
                }
            }
        }
    };
}

#[cold]
#[inline(never)]
fn not_an_opcode(byte: u8) -> ! {
    panic!("byte {byte} is not an opcode")
}

opcodes!(
    Constant,
    Nil,
    True,
    False,
    Pop,
    GetLocal,
    SetLocal,
    GetGlobal,
    DefineGlobal,
    SetGlobal,
    GetUpvalue,
    SetUpvalue,
    GetProperty,
    SetProperty,
    GetSuper,
    Equal,
    Greater,
    Less,
    Add,
    Subtract,
    Multiply,
    Divide,
    Not,
    Negate,
    Print,
    Jump,
    JumpIfFalse,
    Loop,
    Call,
    Invoke,
    SuperInvoke,
    Closure,
    CloseUpvalue,
    Return,
    Class,
    Inherit,
    Method,
    AddConstant,
    SubtractConstant,
    MultiplyConstant,
    DivideConstant,
    LessConstant,
    GreaterConstant,
    EqualConstant,
    GetLocalProperty,
    PopJumpIfFalse,
    JumpIfNotLess,
    JumpIfNotGreater,
    JumpIfNotLessConstant,
    JumpIfNotGreaterConstant,
);

impl OpCode {
    /// The superinstruction that fuses a number constant into binary operator `self`, if there
    /// is one.
    pub fn with_constant(self) -> Option<OpCode> {
        Some(match self {
            OpCode::Add => OpCode::AddConstant,
            OpCode::Subtract => OpCode::SubtractConstant,
            OpCode::Multiply => OpCode::MultiplyConstant,
            OpCode::Divide => OpCode::DivideConstant,
            OpCode::Less => OpCode::LessConstant,
            OpCode::Greater => OpCode::GreaterConstant,
            OpCode::Equal => OpCode::EqualConstant,
            _ => return None,
        })
    }

    /// The binary operator a superinstruction fuses a constant into, if `self` is one.
    pub fn without_constant(self) -> Option<OpCode> {
        Some(match self {
            OpCode::AddConstant => OpCode::Add,
            OpCode::SubtractConstant => OpCode::Subtract,
            OpCode::MultiplyConstant => OpCode::Multiply,
            OpCode::DivideConstant => OpCode::Divide,
            OpCode::LessConstant => OpCode::Less,
            OpCode::GreaterConstant => OpCode::Greater,
            OpCode::EqualConstant => OpCode::Equal,
            _ => return None,
        })
    }
}

/// A function's bytecode while it is being compiled.
#[derive(Default)]
pub struct Chunk<'m> {
    /// The bytes.
    pub code: Vec<u8>,
    /// The source line of each byte.
    pub lines: Vec<u32>,
    /// The constant table.
    pub constants: Vec<Value<'m>>,
    /// For each constant, the global slot it names (for global-variable instructions), or
    /// [`NOT_GLOBAL`].
    pub globals: Vec<u32>,
    /// Where the last instruction written starts.
    pub last_op: usize,
    /// The furthest position a forward jump has been patched to land on: an instruction that
    /// starts there is a jump target and must not be fused with the one before it.
    pub jump_target: usize,
}

/// [`Chunk::globals`] entry of a constant that is not a global's name.
pub const NOT_GLOBAL: u32 = u32::MAX;

impl<'m> Chunk<'m> {
    /// Append a byte from `line`.
    pub fn write(&mut self, byte: u8, line: u32) {
        self.code.push(byte);
        self.lines.push(line);
    }

    /// Append opcode `op` from `line`.
    pub fn write_op(&mut self, op: OpCode, line: u32) {
        self.last_op = self.code.len();
        self.write(op as u8, line);
    }

    /// If the last instruction is `op` with one operand, `accept`ed, and nothing jumps to the
    /// position after it, remove it and return its operand (for a superinstruction that
    /// replaces it and the instruction about to be written).
    pub fn take_last(&mut self, op: OpCode, accept: impl FnOnce(&Self, u8) -> bool) -> Option<u8> {
        let at = self.last_op;
        if self.code.len() != at + 2 || self.code[at] != op as u8 || self.jump_target == self.code.len() {
            return None;
        }
        let operand = self.code[at + 1];
        if !accept(self, operand) {
            return None;
        }
        self.code.truncate(at);
        self.lines.truncate(at);
        Some(operand)
    }

    /// If the last instruction is a comparison (`Less`, `Greater`, or their forms with a
    /// constant) and nothing jumps to the position after it, remove it and return the
    /// superinstruction that fuses it with a `PopJumpIfFalse`, its constant operand if it has
    /// one, and its source line (where a runtime error in the fused instruction is reported).
    pub fn take_last_comparison(&mut self) -> Option<(OpCode, Option<u8>, u32)> {
        let at = self.last_op;
        if at >= self.code.len() || self.jump_target == self.code.len() {
            return None;
        }
        let (fused, operands) = match OpCode::from_byte(self.code[at]) {
            OpCode::Less => (OpCode::JumpIfNotLess, 0),
            OpCode::Greater => (OpCode::JumpIfNotGreater, 0),
            OpCode::LessConstant => (OpCode::JumpIfNotLessConstant, 1),
            OpCode::GreaterConstant => (OpCode::JumpIfNotGreaterConstant, 1),
            _ => return None,
        };
        if self.code.len() != at + 1 + operands {
            return None;
        }
        let operand = (operands == 1).then(|| self.code[at + 1]);
        let line = self.lines[at];
        self.code.truncate(at);
        self.lines.truncate(at);
        Some((fused, operand, line))
    }

    /// Append a constant and return its index (callers check the 256 limit).
    pub fn add_constant(&mut self, value: Value<'m>, global: u32) -> usize {
        self.constants.push(value);
        self.globals.push(global);
        self.constants.len() - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opcodes_round_trip_through_bytes() {
        for (i, op) in OpCode::ALL.iter().enumerate() {
            assert_eq!(*op as u8 as usize, i);
            assert_eq!(OpCode::from_byte(i as u8), *op);
        }
    }

    #[test]
    fn superinstructions_pair_with_their_operators() {
        let fused: Vec<OpCode> = OpCode::ALL.iter().filter_map(|op| op.with_constant()).collect();
        assert_eq!(fused.len(), 7);
        for op in OpCode::ALL {
            if let Some(f) = op.with_constant() {
                assert_eq!(f.without_constant(), Some(*op));
            }
            if let Some(base) = op.without_constant() {
                assert_eq!(base.with_constant(), Some(*op));
            }
        }
    }

    #[test]
    fn only_a_trailing_comparison_that_no_jump_lands_after_is_taken() {
        let mut chunk = Chunk::default();
        chunk.write_op(OpCode::GetLocal, 1);
        chunk.write(1, 1);
        chunk.write_op(OpCode::LessConstant, 2);
        chunk.write(0, 2);
        let mut jumped_to = Chunk { jump_target: chunk.code.len(), ..Chunk::default() };
        jumped_to.code = chunk.code.clone();
        jumped_to.lines = chunk.lines.clone();
        jumped_to.last_op = chunk.last_op;
        assert_eq!(jumped_to.take_last_comparison(), None);
        assert_eq!(chunk.take_last_comparison(), Some((OpCode::JumpIfNotLessConstant, Some(0), 2)));
        assert_eq!(chunk.code, [OpCode::GetLocal as u8, 1]);
        // The `GetLocal` is not a comparison.
        assert_eq!(chunk.take_last_comparison(), None);
        chunk.write_op(OpCode::GetLocal, 3);
        chunk.write(2, 3);
        chunk.write_op(OpCode::Greater, 3);
        assert_eq!(chunk.take_last_comparison(), Some((OpCode::JumpIfNotGreater, None, 3)));
        // Nothing is written after a taken comparison, so a second take finds none.
        assert_eq!(chunk.take_last_comparison(), None);
    }

    #[test]
    #[should_panic(expected = "is not an opcode")]
    fn a_byte_past_the_last_opcode_is_rejected() {
        OpCode::from_byte(OpCode::ALL.len() as u8);
    }
}
