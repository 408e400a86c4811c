// A type of the user's named `Option` is in scope: `#[gc]` recognises `Option<Gc<T>>` by name,
// so it must not take this field for a nullable slot of the standard `Option`.
use gc_runtime::{gc, Gc};

pub enum Option<T> {
    Some(T),
    Nothing,
    Unknown,
}

#[gc]
pub struct Node {
    pub next: Option<Gc<Node>>,
    pub id: u32,
}

fn main() {
    let _ = [Option::Some(1), Option::Nothing, Option::Unknown];
}
