//! The `conclave` binary's configuration, as a library so that the fuzz targets in `fuzz/` can
//! reach the configuration-file parser; everything else lives in `main.rs`.

pub mod config;
