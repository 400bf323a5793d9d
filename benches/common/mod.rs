//! What the benches share, in two parts: `images` (an image built from the
//! host's /usr, peers on throwaway stores, timing with peak memory) and
//! `runtimes` (one OCI bundle for every runtime, the peers, interleaved
//! timing, the check that nothing was left behind). Each bench uses part.
#![allow(dead_code, unused_imports)]

pub mod images;
pub mod runtimes;

pub use images::*;
pub use runtimes::*;
