//! Shared helpers for the side-by-side benches in `benches/`. See BENCHMARKS.md.
