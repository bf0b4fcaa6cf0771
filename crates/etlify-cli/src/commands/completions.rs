//! `etlify completions <shell>`: the shell's completion script, generated
//! by clap_complete from the same definition that parses the command line
//! (docs/DECISIONS.md, "Dependencies of the CLI").

use clap::CommandFactory;
use clap_complete::Shell;

use crate::error::{CliError, Completed};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The shell to complete in: bash, zsh, fish, powershell or elvish.
    shell: Shell,
}

/// Prints the completion script of `args.shell` on stdout.
pub(crate) fn run(args: Args) -> Result<Completed, CliError> {
    let mut command = crate::Cli::command();
    let name = command.get_name().to_owned();
    clap_complete::generate(args.shell, &mut command, name, &mut std::io::stdout());
    Ok(Completed::Ok)
}
