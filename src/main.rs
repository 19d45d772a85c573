fn main() {
    std::process::exit(diyc::app::main());
}
