//! The `folio` command: parses arguments and hands over to `cli`.

mod cli;

/// mimalloc: a table's millions of small row values are allocated and freed
/// without glibc's consolidation stalls (D71).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // A panic inside the Parquet decoder on damaged input is caught and
    // reported as an error naming the file; it prints nothing itself.
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !folio_core::table::decoding_untrusted() {
            default(info);
        }
    }));
    cli::main()
}
