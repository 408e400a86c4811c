//! An object in the heap: its header (the type descriptor), its mark, and the [`Trace`]
//! contract through which its type tells the collector where its slots are.
//!
//! - `header.rs`: [`GcBox<T>`] = [`Header`] + value; the type descriptor.
//! - `layout.rs`: how a header address becomes a reference — sized objects, and slices and
//!   `str` (header, length, elements) — and the public [`Object`] trait naming them.
//! - `dyn_object.rs`: trait objects (`Gc<dyn Trait>`): the view, a fat pointer to the value
//!   kept after the header, and the macros that make the coercion and declare the types.
//! - `mark.rs`: marking an object — its bit beside it in its page, or a large object's mark
//!   word — with one winner per object and marking.
//! - `mark_word.rs`: a large object's atomic mark epoch and the race to shade it exactly once.
//! - `exclusive.rs`: marking inside a pause, where each page's bits have one writer (no locked
//!   instruction per object), and the forwarding of objects found in other workers' pages.
//! - `trace.rs`: the public [`Trace`] trait and [`Tracer`], and the collector's side of a
//!   trace (`TraceSink`).
//! - `scan_cursor.rs`: where the marker resumes its chunked scan of a large collection, and
//!   what a writer that moves the collection's slots meanwhile must do.
//! - `mark_visit.rs`: what a mark worker does with each slot a trace reports (its grey stack
//!   and prefetch ring), known to [`Tracer`] by type so the marker's per-slot step is inlined.
//!
//! The header and the trace contract refer to each other by nature — a descriptor holds its
//! type's trace function, and a tracer reports slots that point to headers — so they live in
//! one module; everything else in the crate imports them from here.

pub(crate) mod dyn_object;
pub(crate) mod exclusive;
pub(crate) mod header;
pub(crate) mod layout;
pub(crate) mod mark;
pub(crate) mod mark_visit;
pub(crate) mod mark_word;
pub(crate) mod scan_cursor;
pub(crate) mod trace;

pub(crate) use self::{
    header::{GcBox, Header, ObjPtr},
    layout::Object,
    mark_visit::MarkVisitor,
    scan_cursor::{ScanCursor, ScanState},
    trace::{Trace, TraceSink, Tracer},
};
