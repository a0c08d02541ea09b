use std::process::ExitCode;

use clap::Parser as _;
use mpp_registrar::cli::{
    Cli, Command, KeysCommand, NotificationsCommand, SimulateCommand, UserCommand,
};
use mpp_registrar::commands;
use mpp_registrar::db::notifications::RedriveFilter;
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
        Command::Psql { database, args } => {
            return match tokio::task::spawn_blocking(move || commands::psql(&database, &args)).await
            {
                Ok(Ok(code)) => ExitCode::from(code),
                Ok(Err(e)) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        Command::User {
            command: UserCommand::Unlock { username, database },
        } => tokio::task::spawn_blocking(move || startup::unlock_user(&username, &database))
            .await
            .unwrap_or_else(|e| Err(e.into())),
        Command::Notifications {
            command:
                NotificationsCommand::Retry {
                    ids,
                    registration_request_id,
                    status,
                    target,
                    all,
                    database,
                },
        } => {
            let filter = RedriveFilter {
                ids,
                registration_request_id,
                status,
                target,
            };
            tokio::task::spawn_blocking(move || {
                commands::retry_notifications(filter, all, &database)
            })
            .await
            .unwrap_or_else(|e| Err(e.into()))
        }
        Command::Simulate {
            command: SimulateCommand::Alipay(args),
        } => commands::simulate_alipay(&args).await,
        Command::Simulate {
            command: SimulateCommand::Register(args),
        } => commands::simulate_register(&args).await,
        Command::Simulate {
            command: SimulateCommand::Inquiry(args),
        } => commands::simulate_inquiry(&args).await,
        Command::Simulate {
            command: SimulateCommand::Load(args),
        } => commands::simulate_load(&args).await,
        Command::Simulate {
            command:
                SimulateCommand::Fill {
                    registrations,
                    database_url,
                },
        } => tokio::task::spawn_blocking(move || {
            commands::simulate_fill(&database_url, registrations)
        })
        .await
        .unwrap_or_else(|e| Err(e.into())),
        Command::Simulate {
            command:
                SimulateCommand::Notifications {
                    decisions,
                    backlog,
                    gateway_listen,
                    database_url,
                    data_dir,
                },
        } => {
            commands::simulate_notifications(
                decisions,
                backlog,
                &gateway_listen,
                &database_url,
                &data_dir,
            )
            .await
        }
        Command::Simulate {
            command:
                SimulateCommand::Pages {
                    target,
                    requests,
                    database_url,
                    client_id,
                    data_dir,
                },
        } => {
            commands::simulate_pages(&target, requests, &database_url, &client_id, &data_dir).await
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
