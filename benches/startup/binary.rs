//! Which kind of diyc is measured: the static-pie build that
//! `scripts/cargo-static` makes and `scripts/install` installs, or a
//! plain `cargo bench` build, which the dynamic loader starts (about half
//! a millisecond more for every process, and three processes an OCI
//! cycle).

use std::path::Path;

/// A program header that names a program interpreter (ld.so).
const PT_INTERP: u32 = 3;

/// One line for the report.
pub fn describe(diyc: &Path) -> String {
    match interpreter(diyc) {
        Ok(false) => "diyc measured: static-pie (no program interpreter), as installed".into(),
        Ok(true) => "diyc measured: dynamically linked; `scripts/cargo-static bench --bench startup` measures the static build scripts/install installs".into(),
        Err(e) => format!("diyc measured: cannot tell how it is linked ({e})"),
    }
}

/// Whether the ELF file has a PT_INTERP header: from its header's table
/// offset, entry size and count (64-bit, little-endian, as diyc's
/// targets are).
fn interpreter(path: &Path) -> Result<bool, String> {
    // The program headers follow the ELF header; 64 KiB holds both.
    let mut elf = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| std::io::Read::read_to_end(&mut std::io::Read::take(f, 64 << 10), &mut elf))
        .map_err(|e| e.to_string())?;
    let field = |at: usize, len: usize| -> Result<u64, String> {
        let bytes = elf.get(at..at + len).ok_or("a short ELF file")?;
        Ok(bytes
            .iter()
            .rev()
            .fold(0u64, |n, b| (n << 8) | u64::from(*b)))
    };
    if elf.get(..4) != Some(b"\x7fELF") || elf.get(4) != Some(&2) {
        return Err("not a 64-bit ELF file".into());
    }
    let (table, size, count) = (field(0x20, 8)?, field(0x36, 2)?, field(0x38, 2)?);
    for k in 0..count {
        let at = usize::try_from(table + k * size).map_err(|e| e.to_string())?;
        if field(at, 4)? == u64::from(PT_INTERP) {
            return Ok(true);
        }
    }
    Ok(false)
}
