//! A deterministic GitHub-Actions-style raw log generator, for the benchmark.
