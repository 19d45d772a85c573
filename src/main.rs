fn main() {
    // An exercise's shell runs diyc's binary as `check` (a symlink).
    let name = std::env::args_os().next().unwrap_or_default();
    let called = std::path::Path::new(&name).file_name();
    if called == Some(std::ffi::OsStr::new("check")) {
        std::process::exit(diyc::check_main());
    }
    // Engines run it as an OCI runtime through a link of this name.
    if called == Some(std::ffi::OsStr::new("diyc-oci")) {
        std::process::exit(diyc::oci_main(std::env::args_os().collect()));
    }
    std::process::exit(diyc::main());
}
