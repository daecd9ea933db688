//! Shared helpers for the timbr benches.
