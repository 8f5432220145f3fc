//! Rust-vs-Python audio benchmark (filled in below).

fn main() {}
