//! `commerce-migrate`: creates the database named in the settings if it is missing, applies
//! every migration in the workspace's `migrations/` folder, then creates or updates the services'
//! login roles whose passwords the settings give (`APP_DATABASE__LOGINS__<ROLE>`;
//! `docs/database-roles.md`). Connects as the owner role. Idempotent; run by `scripts/setup` and
//! by the Kubernetes migrations Job. `commerce-migrate --roles` only prints the service roles, one
//! per line (scripts/setup makes a password for each).

use anyhow::Context;
use event_store::{MIGRATOR, connect_options};
use sqlx::{ConnectOptions, Connection, Executor, PgConnection};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    if std::env::args().nth(1).as_deref() == Some("--roles") {
        println!("{}", event_store::roles::SERVICE_ROLES.join("\n"));
        return Ok(());
    }
    let settings = settings::Settings::load().context("loading settings")?;
    let options = connect_options(&settings.database).context("parsing the database url")?;
    let database = options
        .get_database()
        .context("the database url names no database")?
        .to_owned();

    let mut server = PgConnection::connect_with(&options.clone().database("postgres"))
        .await
        .context("connecting to PostgreSQL")?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&database)
            .fetch_one(&mut server)
            .await?;
    if !exists {
        server
            .execute(format!("CREATE DATABASE \"{}\"", database.replace('"', "\"\"")).as_str())
            .await
            .with_context(|| format!("creating database {database}"))?;
        println!("created database {database}");
    }
    server.close().await?;

    let mut conn = options
        .connect()
        .await
        .context("connecting to the database")?;
    MIGRATOR
        .run(&mut conn)
        .await
        .context("applying migrations")?;
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&mut conn)
        .await?;
    println!("database {database}: {applied} migrations applied, schema up to date");
    let logins = event_store::roles::ensure_logins(&mut conn, &settings.database.logins)
        .await
        .context("making the services' login roles")?;
    if !logins.is_empty() {
        println!("login roles up to date: {}", logins.join(", "));
    }
    Ok(())
}
