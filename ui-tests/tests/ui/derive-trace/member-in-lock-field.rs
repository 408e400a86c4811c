// A slot behind interior mutability could be moved out of its object through `&mut`, so
// `RefCell`, `Mutex` and `RwLock` do not implement `Trace`: a field of one is rejected at
// its type.
use std::{
    cell::RefCell,
    sync::{Mutex, RwLock},
};

use gc_runtime::{Member, Trace};

#[derive(Trace)]
struct Node {
    a: Mutex<Member<Node>>,
    b: RwLock<Option<Member<Node>>>,
    c: RefCell<Member<Node>>,
}

fn main() {}
