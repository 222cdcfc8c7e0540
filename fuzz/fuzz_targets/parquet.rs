#![no_main]
//! Fuzzes `folio_core::fuzzing::parquet` (see that module).
//!
//! folio catches the panics the `parquet` crate raises on damaged files
//! (D60) and reports them as errors; libfuzzer-sys turns every panic into
//! an abort, so panics inside that decoder are let through here, and any
//! other panic still aborts.

static HOOK: std::sync::Once = std::sync::Once::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    HOOK.call_once(|| {
        let abort = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !folio_core::table::decoding_untrusted() {
                abort(info);
            }
        }));
    });
    folio_core::fuzzing::parquet(data)
});
