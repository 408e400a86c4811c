//! The book's code listings. Each module is one listing file; the book includes the parts
//! between `// ANCHOR: name` and `// ANCHOR_END: name` markers, and each module's tests run the
//! listing and check its result, so the book cannot show code that does not compile or work.

pub mod first_program;
pub mod interpreter;
pub mod linked;
pub mod reference;
pub mod scoped_threads;
pub mod server;
pub mod shared_graph;
pub mod value_stack;
