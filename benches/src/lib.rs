//! Criterion benchmarks for consensio; see `benches/` and BENCHMARKS.md.
//!
//! Each hot path sits in one criterion group beside the best peer crate, so
//! the ratio comes from a single run. Peers are added as each family's
//! benchmark issue lands.
