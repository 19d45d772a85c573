fn main() {
    std::process::exit(diyc::main());
}
