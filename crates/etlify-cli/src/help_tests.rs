//! `--help` explains every flag and argument of every command.

use clap::CommandFactory;

/// Issue 26 (15): `--help` explains every flag and argument of every
/// command.
#[test]
fn probe_every_flag_of_every_command_has_help() {
    let cli = crate::Cli::command();
    let mut undocumented = Vec::new();
    let mut commands = vec![(String::new(), &cli)];
    while let Some((path, command)) = commands.pop() {
        for arg in command.get_arguments() {
            if arg.get_help().is_none() && !["help", "version"].contains(&arg.get_id().as_str()) {
                undocumented.push(format!("{path} {}", arg.get_id()));
            }
        }
        for sub in command.get_subcommands() {
            commands.push((format!("{path} {}", sub.get_name()), sub));
        }
    }
    assert!(
        undocumented.is_empty(),
        "flags without help: {undocumented:?}"
    );
}
