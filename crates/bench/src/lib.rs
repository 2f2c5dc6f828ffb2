//! `conclave-bench` as a library: the client and server driver the benchmarks share, and the
//! crash-safety run, which the `conclave` crate's tests call as well.

pub mod client;
pub mod crash;
