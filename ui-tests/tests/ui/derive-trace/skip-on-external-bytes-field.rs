// A skipped `ExternalBytes` is never armed by allocation, so the memory it declares would never
// be counted by the pacer.
use gc_runtime::{ExternalBytes, Trace};

#[derive(Trace)]
struct Image {
    pixels: Box<[u8]>,
    #[trace(skip)]
    pixel_bytes: Option<ExternalBytes>,
}

fn main() {}
