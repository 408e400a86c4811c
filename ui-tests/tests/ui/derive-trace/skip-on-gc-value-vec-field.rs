// A skipped `GcValueVec` would never be traced (nor armed), so the objects its values point to
// could be freed while reachable.
use gc_runtime::{GcValueVec, Member, Trace};

#[derive(Trace)]
struct Frame {
    #[trace(skip)]
    registers: GcValueVec<Member<Frame>>,
}

fn main() {}
