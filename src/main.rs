use std::process::ExitCode;

use clap::Parser as _;
use mpp_registrar::cli::{Cli, Command, KeysCommand, UserCommand};
use mpp_registrar::protocol::keys;
use mpp_registrar::{startup, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.log_format);
    let result = match cli.command {
        Command::Serve(args) => startup::serve(&args).await,
        Command::Migrate(args) => tokio::task::spawn_blocking(move || startup::migrate(&args))
            .await
            .unwrap_or_else(|e| Err(e.into())),
        Command::Keys {
            command: KeysCommand::Generate { out },
        } => generate_keys(&out),
        Command::User {
            command:
                UserCommand::Add {
                    username,
                    role,
                    database,
                },
        } => {
            let mut line = String::new();
            match std::io::stdin().read_line(&mut line) {
                Ok(_) => tokio::task::spawn_blocking(move || {
                    startup::add_user(&username, role, &database, &line)
                })
                .await
                .unwrap_or_else(|e| Err(e.into())),
                Err(e) => Err(anyhow::anyhow!(
                    "cannot read the password from standard input: {e}"
                )),
            }
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn generate_keys(out: &std::path::Path) -> anyhow::Result<()> {
    let pair = keys::generate_key_pair()?;
    keys::write_key_pair(out, &pair, "private_key.pem", "public_key.pem")?;
    println!(
        "wrote {0}/private_key.pem (PKCS#8) and {0}/public_key.pem (SPKI)",
        out.display()
    );
    Ok(())
}
