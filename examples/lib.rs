//! Shared helpers for the timbr examples.
