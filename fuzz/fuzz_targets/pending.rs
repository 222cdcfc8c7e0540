#![no_main]
//! Fuzzes `folio_core::fuzzing::pending` (see that module).

libfuzzer_sys::fuzz_target!(|data: &[u8]| folio_core::fuzzing::pending(data));
