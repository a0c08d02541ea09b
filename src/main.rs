use std::process::ExitCode;

use clap::Parser as _;
use mpp_registrar::cli::{
    Cli, Command, KeysCommand, ListsCommand, NotificationsCommand, RulesCommand, SimulateCommand,
    UserCommand,
};
use mpp_registrar::commands;
use mpp_registrar::db::notifications::RedriveFilter;
use mpp_registrar::protocol::keys;
use mpp_registrar::{startup, telemetry, triage_commands};

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
        Command::User { command } => tokio::task::spawn_blocking(move || user_command(command))
            .await
            .unwrap_or_else(|e| Err(e.into())),
        Command::Lists { command } => tokio::task::spawn_blocking(move || match command {
            ListsCommand::Load {
                name,
                kind,
                file,
                column,
                database,
            } => triage_commands::load_list(&name, kind, &file, column.as_deref(), &database),
            ListsCommand::Show { database } => triage_commands::show_lists(&database),
        })
        .await
        .unwrap_or_else(|e| Err(e.into())),
        Command::Rules {
            command:
                RulesCommand::Test {
                    file,
                    since,
                    database,
                },
        } => {
            return exit_code_of(move || triage_commands::test_rules(&file, &since, &database))
                .await;
        }
        Command::Psql { database, args } => {
            return exit_code_of(move || commands::psql(&database, &args)).await;
        }
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
            command: SimulateCommand::Policy { out, rules, names },
        } => write_policy(&out, rules, names),
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

/// Runs a command that sets its own exit code on a blocking thread; an
/// error is printed and exits 1.
async fn exit_code_of(work: impl FnOnce() -> anyhow::Result<u8> + Send + 'static) -> ExitCode {
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(code)) => ExitCode::from(code),
        Ok(Err(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `mpp-registrar simulate policy`.
fn write_policy(out: &std::path::Path, rules: usize, names: usize) -> anyhow::Result<()> {
    use mpp_registrar::simulate::policy;
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join("rules.toml"), policy::rules(rules))?;
    std::fs::write(
        out.join("names.txt"),
        policy::names(names).join("\n") + "\n",
    )?;
    println!(
        "wrote {0}/rules.toml ({rules} rules) and {0}/names.txt ({names} names)",
        out.display()
    );
    Ok(())
}

/// `mpp-registrar user ...`, on a blocking thread (database and terminal I/O).
fn user_command(command: UserCommand) -> anyhow::Result<()> {
    use mpp_registrar::accounts;
    match command {
        UserCommand::Add {
            username,
            role,
            database,
        } => accounts::add(&username, role, &database, &accounts::read_new_password()?),
        UserCommand::Unlock { username, database } => accounts::unlock(&username, &database),
        UserCommand::List { database } => accounts::list(&database),
        UserCommand::Disable { username, database } => {
            accounts::set_enabled(&username, false, &database)
        }
        UserCommand::Enable { username, database } => {
            accounts::set_enabled(&username, true, &database)
        }
        UserCommand::SetRole {
            username,
            role,
            database,
        } => accounts::set_role(&username, role, &database),
        UserCommand::ResetMfa { username, database } => accounts::reset_mfa(&username, &database),
        UserCommand::SetPassword { username, database } => {
            accounts::set_password(&username, &database, &accounts::read_new_password()?)
        }
    }
}
