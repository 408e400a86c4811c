//! Heap objects: every runtime object of a Lox program is a GC object of type [`Obj`].
//!
//! # One pointer type
//!
//! A Lox value can be any kind of object, and a GC slot (`Member<T>`) points to one type, so
//! every object is an [`Obj`]: an enum whose variants hold the `#[gc]` structs below. The large
//! and rare kinds (functions, classes) are boxed so that the common ones (strings, instances,
//! closures) stay small: an `Obj` is 40 bytes.
//!
//! | Lox object | struct | GC pointers it holds |
//! |---|---|---|
//! | string | [`LoxString`] | none |
//! | function | [`Function`] | name, constants (slots) |
//! | native function | [`Native`] | none |
//! | closure | [`Closure`] | function, upvalues |
//! | upvalue | [`Upvalue`] | the closed-over value once closed (a slot) |
//! | class | [`Class`] | name, methods (a [`Table`]), cached initializer |
//! | instance | [`Instance`] | class, fields (a [`Table`]) |
//! | bound method | [`BoundMethod`] | receiver (a slot), method |
//!
//! # Building objects
//!
//! Slots are armed by allocation, so an object is allocated with empty slots and its pointers
//! are stored afterwards, through the barrier (the `#[gc]` setters, or assignments in `#[gc]`
//! code). The constructors here (`Obj::closure`, ...) do both and return a local.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use gc_runtime::{gc, Gc, Member, Mutator, Trace};

use crate::{
    table::Table,
    value::{Slot, Value},
};

/// Every heap object of a Lox program.
#[derive(Trace)]
pub enum Obj {
    /// A string.
    String(LoxString),
    /// A compiled function.
    Function(Box<Function>),
    /// A native (Rust) function.
    Native(Native),
    /// A function with its captured variables.
    Closure(Closure),
    /// A captured variable.
    Upvalue(Upvalue),
    /// A class.
    Class(Box<Class>),
    /// An instance of a class.
    Instance(Instance),
    /// A method bound to its receiver.
    BoundMethod(BoundMethod),
}

/// An immutable string with its hash.
#[gc(no_constructor)]
pub struct LoxString {
    /// FNV-1a hash of the bytes.
    pub hash: u32,
    /// The text: a string object of its own in the heap, so that the pacer and a memory limit
    /// count it (in a `Box<str>`, the collector saw only this struct: a loop that made long
    /// strings as garbage grew the process by gigabytes without starting a cycle).
    pub chars: Gc<str>,
}

impl LoxString {
    /// The text.
    pub fn text<'m>(&self, mu: &'m Mutator) -> &'m str {
        self.chars(mu).into_ref()
    }
}

/// FNV-1a, as clox hashes strings.
pub fn hash_str(s: &str) -> u32 {
    let mut hash: u32 = 2166136261;
    for b in s.bytes() {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(16777619);
    }
    hash
}

/// A compiled function: bytecode, lines and constants.
#[gc(no_constructor)]
pub struct Function {
    /// The name; empty for the top-level script.
    pub name: Option<Gc<Obj>>,
    /// The number of parameters.
    pub arity: usize,
    /// The number of upvalues its closures capture.
    pub upvalue_count: usize,
    /// The bytecode.
    pub code: Box<[u8]>,
    /// The source line of each byte of `code`.
    pub lines: Box<[u32]>,
    /// The constant table.
    pub constants: Box<[Slot]>,
    /// For each constant naming a global variable, its index in the VM's globals.
    pub globals: Box<[u32]>,
    /// For each constant, the method cache of the calls (`Invoke`, `SuperInvoke`) whose method
    /// name it is.
    pub method_caches: Box<[MethodCache]>,
    /// For each constant, where the field accesses (`GetProperty`, `SetProperty`) whose field
    /// name it is found that field last: an entry index, a hint for
    /// [`Table::get_hinted`].
    pub field_hints: Box<[AtomicU32]>,
}

/// The method a call site found last, and the class it found it in: an inline cache in front
/// of the class's method table, kept per call site (per name constant of the calling function)
/// rather than per class, so that a site that always calls one method hits even when the class
/// serves many (a hit is one address comparison instead of a hash-table probe). Only a miss
/// writes (two stores through the barrier).
///
/// A class's methods never change once its declaration has run (`Method` and `Inherit` run
/// before any code can call a method of the class), so an entry never goes stale.
#[derive(Trace, Default)]
pub struct MethodCache {
    /// The class the method was found in.
    class: Member<Obj>,
    /// The method: a closure.
    method: Member<Obj>,
}

impl MethodCache {
    /// Method `name` of `class` (an interned string), if the class has one.
    #[inline(always)]
    pub fn find<'m>(&self, mu: &'m Mutator, class: Gc<'_, Obj>, name: Gc<'_, Obj>) -> Option<Gc<'m, Obj>> {
        if self.class.points_to(class) {
            return self.method.get(mu);
        }
        self.miss(mu, class, name)
    }

    /// Look the method up in the class and remember it.
    #[cold]
    #[inline(never)]
    fn miss<'m>(&self, mu: &'m Mutator, class: Gc<'_, Obj>, name: Gc<'_, Obj>) -> Option<Gc<'m, Obj>> {
        let method = class.into_ref().as_class()?.find_method(mu, name)?;
        // The method first: `find` trusts the method once the class matches (only the
        // thread that runs the program reads or writes a cache).
        self.method.set(Some(method));
        self.class.set(Some(class));
        Some(method)
    }
}

/// The signature of a native function: the arguments in, the result out.
pub type NativeFn = for<'m> fn(&'m Mutator, &[Value<'m>]) -> Value<'m>;

/// A native function.
#[gc(no_constructor)]
pub struct Native {
    /// Its name (not shown: `print` writes `<native fn>`, as clox does).
    pub name: Box<str>,
    /// The number of arguments it takes.
    pub arity: usize,
    /// The code.
    #[trace(skip)]
    pub function: NativeFn,
}

/// A function value: a function and the variables it captured.
#[gc(no_constructor)]
pub struct Closure {
    /// The function.
    pub function: Gc<Obj>,
    /// One upvalue per captured variable (set right after allocation).
    pub upvalues: Box<[Member<Obj>]>,
}

/// A variable captured by a closure: open (still on the VM stack, at `location`) or closed
/// (moved into `closed`).
#[gc(no_constructor)]
pub struct Upvalue {
    /// The stack index of the variable while open; [`Upvalue::CLOSED`] once closed.
    pub location: AtomicUsize,
    /// The value, once closed.
    pub closed: Slot,
}

impl Upvalue {
    /// [`Upvalue::location`] of a closed upvalue.
    pub const CLOSED: usize = usize::MAX;

    /// The stack index of an open upvalue, or `None` once closed.
    #[inline]
    pub fn open_location(&self) -> Option<usize> {
        // Relaxed: only the thread running the program reads or writes it.
        let l = self.location.load(Ordering::Relaxed);
        (l != Self::CLOSED).then_some(l)
    }

    /// Close the upvalue over `value`.
    pub fn close(&self, value: Value<'_>) {
        self.closed.set(value);
        self.location.store(Self::CLOSED, Ordering::Relaxed);
    }
}

/// A class: its name and methods.
#[gc(no_constructor)]
pub struct Class {
    /// The name.
    pub name: Gc<Obj>,
    /// Methods by name (interned strings, compared by identity): closures.
    pub methods: Table,
    /// The `init` method, cached (kept in step with `methods`).
    pub initializer: Option<Gc<Obj>>,
    /// The capacity of the largest field table an instance of this class has grown, up to a
    /// bound: a new instance's first table has it (see `table.rs`, "The first capacity").
    #[trace(skip)]
    pub field_capacity: AtomicU32,
}

impl Class {
    /// The method called `name` (an interned string), if the class has one.
    #[inline]
    pub fn find_method<'m>(&self, mu: &'m Mutator, name: Gc<'_, Obj>) -> Option<Gc<'m, Obj>> {
        self.methods.get(mu, name)?.value(mu).as_obj()
    }

    /// Add or replace a method (only while the class's declaration runs: see [`MethodCache`]).
    pub fn add_method(&self, mu: &Mutator, name: Gc<'_, Obj>, method: Gc<'_, Obj>) {
        self.methods.set(mu, name, Value::obj(method));
    }
}

/// An instance: its class and its fields.
#[gc(no_constructor)]
pub struct Instance {
    /// The class.
    pub class: Gc<Obj>,
    /// The fields.
    pub fields: Table,
}

/// A method bound to the receiver it was read from.
#[gc(no_constructor)]
pub struct BoundMethod {
    /// The receiver (`this` in the method).
    pub receiver: Slot,
    /// The method (a closure).
    pub method: Gc<Obj>,
}

impl Obj {
    /// Allocate a string.
    pub fn string<'m>(mu: &'m Mutator, chars: &str) -> Gc<'m, Obj> {
        let text = mu.alloc_str(chars);
        let obj = mu.alloc(Obj::String(LoxString { hash: hash_str(chars), chars: Default::default() }));
        if let Obj::String(s) = &*obj {
            s.set_chars(text);
        }
        obj
    }

    /// Allocate a closure over `function`, with `upvalue_count` upvalues still to be set.
    pub fn closure<'m>(mu: &'m Mutator, function: Gc<'_, Obj>, upvalue_count: usize) -> Gc<'m, Obj> {
        let upvalues = (0..upvalue_count).map(|_| Member::new()).collect();
        let obj = mu.alloc(Obj::Closure(Closure { function: Default::default(), upvalues }));
        if let Obj::Closure(c) = &*obj {
            c.set_function(function);
        }
        obj
    }

    /// Allocate an open upvalue for stack slot `location`.
    pub fn upvalue(mu: &Mutator, location: usize) -> Gc<'_, Obj> {
        mu.alloc(Obj::Upvalue(Upvalue { location: AtomicUsize::new(location), closed: Slot::new() }))
    }

    /// Allocate a class with no methods.
    pub fn class<'m>(mu: &'m Mutator, name: Gc<'_, Obj>) -> Gc<'m, Obj> {
        let class = Class {
            name: Default::default(),
            methods: Table::new(),
            initializer: Member::new(),
            field_capacity: AtomicU32::new(0),
        };
        let obj = mu.alloc(Obj::Class(Box::new(class)));
        if let Obj::Class(c) = &*obj {
            c.set_name(name);
        }
        obj
    }

    /// Allocate an instance of `class`, with no fields.
    pub fn instance<'m>(mu: &'m Mutator, class: Gc<'_, Obj>) -> Gc<'m, Obj> {
        let obj = mu.alloc(Obj::Instance(Instance { class: Default::default(), fields: Table::new() }));
        if let Obj::Instance(i) = &*obj {
            i.set_class(class);
        }
        obj
    }

    /// Allocate a bound method.
    pub fn bound_method<'m>(mu: &'m Mutator, receiver: Value<'_>, method: Gc<'_, Obj>) -> Gc<'m, Obj> {
        let obj = mu.alloc(Obj::BoundMethod(BoundMethod { receiver: Slot::new(), method: Default::default() }));
        if let Obj::BoundMethod(b) = &*obj {
            b.receiver.set(receiver);
            b.set_method(method);
        }
        obj
    }

    /// Allocate a native function.
    pub fn native<'m>(mu: &'m Mutator, name: &str, arity: usize, function: NativeFn) -> Gc<'m, Obj> {
        mu.alloc(Obj::Native(Native { name: name.into(), arity, function }))
    }

    /// The string, if this is one.
    #[inline]
    pub fn as_string(&self) -> Option<&LoxString> {
        match self {
            Obj::String(s) => Some(s),
            _ => None,
        }
    }

    /// The function, if this is one.
    #[inline]
    pub fn as_function(&self) -> Option<&Function> {
        match self {
            Obj::Function(f) => Some(f),
            _ => None,
        }
    }

    /// The closure, if this is one.
    #[inline]
    pub fn as_closure(&self) -> Option<&Closure> {
        match self {
            Obj::Closure(c) => Some(c),
            _ => None,
        }
    }

    /// The upvalue, if this is one.
    #[inline]
    pub fn as_upvalue(&self) -> Option<&Upvalue> {
        match self {
            Obj::Upvalue(u) => Some(u),
            _ => None,
        }
    }

    /// The class, if this is one.
    #[inline]
    pub fn as_class(&self) -> Option<&Class> {
        match self {
            Obj::Class(c) => Some(c),
            _ => None,
        }
    }

    /// The instance, if this is one.
    #[inline]
    pub fn as_instance(&self) -> Option<&Instance> {
        match self {
            Obj::Instance(i) => Some(i),
            _ => None,
        }
    }
}

impl Obj {
    /// Write the object as `print` shows it.
    pub fn write(&self, mu: &Mutator, out: &mut String) {
        match self {
            Obj::String(s) => out.push_str(s.text(mu)),
            Obj::Function(func) => match func.name(mu) {
                Some(name) => {
                    out.push_str("<fn ");
                    name.write(mu, out);
                    out.push('>');
                }
                None => out.push_str("<script>"),
            },
            Obj::Native(_) => out.push_str("<native fn>"),
            Obj::Closure(c) => c.function(mu).write(mu, out),
            Obj::Upvalue(_) => out.push_str("upvalue"),
            Obj::Class(c) => c.name(mu).write(mu, out),
            Obj::Instance(i) => {
                i.class(mu).write(mu, out);
                out.push_str(" instance");
            }
            Obj::BoundMethod(b) => b.method(mu).write(mu, out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_obj_is_forty_bytes() {
        assert_eq!(std::mem::size_of::<Obj>(), 40, "the module docs promise 40 bytes");
    }
}
