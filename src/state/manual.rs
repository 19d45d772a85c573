//! `diyc man DIR`: the manual pages, made from the command-line
//! definitions themselves (clap_mangen), so they say what `--help` says:
//! diyc.1, and diyc-COMMAND.1 for each command, as git's are.

use std::path::Path;

use crate::error::{Error, Result};

fn page(command: clap::Command) -> Result<Vec<u8>> {
    let mut roff = Vec::new();
    clap_mangen::Man::new(command)
        .render(&mut roff)
        .map_err(|e| Error::invalid(format!("cannot render a manual page: {e}")))?;
    Ok(roff)
}

/// Write every page into `dir`, which must exist.
pub fn write(dir: &Path, diyc: clap::Command) -> Result<()> {
    if !dir.is_dir() {
        return Err(Error::invalid(format!(
            "{} is not a directory: make it first",
            super::import::shown(&dir.display().to_string())
        )));
    }
    for sub in diyc.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("diyc-{}", sub.get_name());
        let page = page(sub.clone().name(name.clone()))?;
        super::write_user_file(&dir.join(format!("{name}.1")), &page)?;
    }
    super::write_user_file(&dir.join("diyc.1"), &page(diyc)?)
}
