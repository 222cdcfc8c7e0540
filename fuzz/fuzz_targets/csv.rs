#![no_main]
//! Fuzzes `folio_core::fuzzing::csv` (see that module).

libfuzzer_sys::fuzz_target!(|data: &[u8]| folio_core::fuzzing::csv(data));
