//! Etlify
