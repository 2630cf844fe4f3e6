//! The `loadgen` command line.

fn main() {
    println!("loadgen {}", env!("CARGO_PKG_VERSION"));
}
