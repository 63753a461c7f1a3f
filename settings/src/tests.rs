//! The layers, the checks and the README table, tested without touching the process
//! environment.

use std::time::Duration;

use super::*;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A directory of files a test's settings read, removed when the test ends (passing or not).
/// Each is new: tests sharing a process (`cargo test`) never see another's files.
struct ConfigDir(std::path::PathBuf);

impl ConfigDir {
    fn with(files: &[(&str, &str)]) -> Self {
        static MADE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("settings-test-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, text) in files {
            std::fs::write(dir.join(name), text).unwrap();
        }
        Self(dir)
    }

    /// The directory, as `APP_CONFIG_DIR` takes it.
    fn path(&self) -> String {
        self.0.to_string_lossy().into_owned()
    }
}

impl Drop for ConfigDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

fn fixture_dir() -> ConfigDir {
    ConfigDir::with(&[(
        "k8s.toml",
        "[database]\nmax_connections = 40\n[rocketmq]\nname_server = \"rocketmq-namesrv:9876\"\n",
    )])
}

#[test]
fn defaults_work_locally_without_any_file_or_variable() {
    let s = Settings::from_env(env(&[("APP_CONFIG_DIR", "/nonexistent")])).unwrap();
    assert_eq!(s.stage(), Stage::Local);
    assert_eq!(s.rocketmq.name_server, "127.0.0.1:9876");
    assert_eq!(s.event_store.max_event_bytes, 1024 * 1024);
    assert!(s.database.url.expose_secret().contains("127.0.0.1"));
}

#[test]
fn stage_file_overrides_defaults_and_environment_overrides_the_file() {
    let config = fixture_dir();
    let dir = config.path();
    let s = Settings::from_env(env(&[
        ("APP_CONFIG_DIR", &dir),
        ("APP_STAGE", "k8s"),
        ("APP_DATABASE__MAX_CONNECTIONS", "7"),
        ("APP_EVENT_STORE__MAX_EVENT_BYTES", "2048"),
    ]))
    .unwrap();
    assert_eq!(s.stage(), Stage::K8s);
    assert_eq!(
        s.rocketmq.name_server, "rocketmq-namesrv:9876",
        "from the file"
    );
    assert_eq!(s.database.max_connections, 7, "environment beats the file");
    assert_eq!(s.event_store.max_event_bytes, 2048);
    assert_eq!(s.database.statement_timeout_ms, 30_000, "default kept");
}

fn fixture_dir_with_roles() -> ConfigDir {
    ConfigDir::with(&[(
        "prod.toml",
        "[database]\nmax_connections = 12\nidle_timeout_ms = 45000\nmin_connections = 1\n\
         [database.roles.commerce-relay]\nmax_connections = 3\n\
         [database.roles.commerce-command-order]\nmax_connections = 5\nmax_lifetime_ms = 60000\n",
    )])
}

#[test]
fn pools_default_to_shrinking_when_idle_and_to_a_generic_application_name() {
    let s = Settings::from_env(env(&[("APP_CONFIG_DIR", "/nonexistent")])).unwrap();
    let db = &s.database;
    assert_eq!(db.application_name, "commerce");
    assert_eq!(db.max_connections, 16);
    assert_eq!(db.min_connections, 0);
    assert_eq!(db.idle_timeout(), Some(Duration::from_secs(30)));
    assert_eq!(db.max_lifetime(), Some(Duration::from_secs(30 * 60)));
}

#[test]
fn pool_settings_layer_defaults_then_stage_file_then_environment() {
    let config = fixture_dir_with_roles();
    let dir = config.path();
    let s = Settings::from_env(env(&[
        ("APP_CONFIG_DIR", &dir),
        ("APP_STAGE", "prod"),
        ("APP_DATABASE__MAX_LIFETIME_MS", "0"),
        ("APP_DATABASE__APPLICATION_NAME", "commerce-query"),
    ]))
    .unwrap();
    let db = &s.database;
    assert_eq!(
        db.application_name, "commerce-query",
        "from the environment"
    );
    assert_eq!(
        db.max_connections, 12,
        "from the file: the role has no table"
    );
    assert_eq!(db.min_connections, 1, "from the file");
    assert_eq!(
        db.idle_timeout(),
        Some(Duration::from_secs(45)),
        "from the file"
    );
    assert_eq!(db.max_lifetime(), None, "0 from the environment: no limit");
    assert_eq!(db.acquire_timeout_ms, 5_000, "default kept");
}

#[test]
fn role_table_of_the_stage_file_applies_to_that_role_only() {
    let config = fixture_dir_with_roles();
    let dir = config.path();
    let settings_of = |role: &str| {
        Settings::from_env(env(&[
            ("APP_CONFIG_DIR", &dir),
            ("APP_STAGE", "prod"),
            ("APP_DATABASE__APPLICATION_NAME", role),
        ]))
        .unwrap()
        .database
    };
    let relay = settings_of("commerce-relay");
    assert_eq!(
        relay.max_connections, 3,
        "the role's table beats [database]"
    );
    assert_eq!(
        relay.idle_timeout_ms, 45_000,
        "[database] kept where the role is silent"
    );
    let order = settings_of("commerce-command-order");
    assert_eq!(order.max_connections, 5);
    assert_eq!(order.max_lifetime(), Some(Duration::from_secs(60)));
    assert_eq!(settings_of("commerce-projections").max_connections, 12);
}

#[test]
fn environment_beats_the_role_table() {
    let config = fixture_dir_with_roles();
    let dir = config.path();
    let s = Settings::from_env(env(&[
        ("APP_CONFIG_DIR", &dir),
        ("APP_STAGE", "prod"),
        ("APP_DATABASE__APPLICATION_NAME", "commerce-relay"),
        ("APP_DATABASE__MAX_CONNECTIONS", "2"),
    ]))
    .unwrap();
    assert_eq!(s.database.max_connections, 2);
}

#[test]
fn local_stage_file_gives_each_role_its_own_pool() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/config");
    let pool_of = |role: &str| {
        Settings::from_env(env(&[
            ("APP_CONFIG_DIR", dir),
            ("APP_DATABASE__APPLICATION_NAME", role),
        ]))
        .unwrap()
        .database
        .max_connections
    };
    assert_eq!(pool_of("commerce-command-order"), 5);
    assert_eq!(pool_of("commerce-relay"), 3);
    assert_eq!(pool_of("commerce-query"), 8);
    assert_eq!(pool_of("commerce"), 16, "no role: the generic pool");
}

#[test]
fn unknown_stage_is_rejected() {
    let err = Settings::from_env(env(&[("APP_STAGE", "staging")])).unwrap_err();
    assert!(matches!(err, SettingsError::UnknownStage(s) if s == "staging"));
}

#[test]
fn malformed_value_is_a_clear_error() {
    let err = Settings::from_env(env(&[
        ("APP_CONFIG_DIR", "/nonexistent"),
        ("APP_DATABASE__MAX_CONNECTIONS", "many"),
    ]))
    .unwrap_err();
    assert!(err.to_string().contains("max_connections"), "{err}");
}

#[test]
fn secrets_never_appear_in_debug_output() {
    let s = Settings::from_env(env(&[
        ("APP_CONFIG_DIR", "/nonexistent"),
        ("APP_DATABASE__URL", "postgres://svc:hunter2@db/commerce"),
        ("APP_REDIS__URL", "redis://:s3cret@cache"),
    ]))
    .unwrap();
    let printed = format!("{s:?}");
    assert!(
        !printed.contains("hunter2") && !printed.contains("s3cret"),
        "{printed}"
    );
    assert_eq!(
        s.database.url.expose_secret(),
        "postgres://svc:hunter2@db/commerce"
    );
}
/// One setting of every section, with the value each layer gives it.
const ONE_PER_SECTION: [(&str, &str, &str); 10] = [
    ("database.statement_timeout_ms", "31000", "32000"),
    ("redis.url", "redis://file:6379", "redis://env:6379"),
    ("rocketmq.queues", "12", "16"),
    ("event_store.tail_batch_size", "100", "200"),
    ("relay.batch_size", "300", "400"),
    ("projections.batch_size", "32", "16"),
    ("auth.issuer", "file-issuer", "env-issuer"),
    ("command.max_attempts", "7", "9"),
    ("query.cache_ttl_ms", "1500", "2500"),
    ("http.query_timeout_ms", "6000", "7000"),
];

fn value_of(s: &Settings, key: &str) -> String {
    match key {
        "database.statement_timeout_ms" => s.database.statement_timeout_ms.to_string(),
        "redis.url" => s.redis.url.expose_secret().to_owned(),
        "rocketmq.queues" => s.rocketmq.queues.to_string(),
        "event_store.tail_batch_size" => s.event_store.tail_batch_size.to_string(),
        "relay.batch_size" => s.relay.batch_size.to_string(),
        "projections.batch_size" => s.projections.batch_size.to_string(),
        "auth.issuer" => s.auth.issuer.clone(),
        "command.max_attempts" => s.command.max_attempts.to_string(),
        "query.cache_ttl_ms" => s.query.cache_ttl_ms.to_string(),
        "http.query_timeout_ms" => s.http.query_timeout_ms.to_string(),
        other => panic!("no accessor for {other}"),
    }
}

#[test]
fn every_section_is_set_by_the_default_then_the_stage_file_then_the_environment() {
    let mut file = String::new();
    for (key, from_file, _) in ONE_PER_SECTION {
        let (section, name) = key.split_once('.').unwrap();
        let value = if from_file.parse::<u64>().is_ok() {
            from_file.to_owned()
        } else {
            format!("{from_file:?}")
        };
        file.push_str(&format!("[{section}]\n{name} = {value}\n"));
    }
    let config = ConfigDir::with(&[("local.toml", &file)]);
    let dir = config.path();
    let defaults = Settings::default();
    let without_file = Settings::from_env(env(&[("APP_CONFIG_DIR", "/nonexistent")])).unwrap();
    let with_file = Settings::from_env(env(&[("APP_CONFIG_DIR", &dir)])).unwrap();
    for (key, from_file, from_env) in ONE_PER_SECTION {
        assert_eq!(
            value_of(&without_file, key),
            value_of(&defaults, key),
            "{key}: the default"
        );
        assert_ne!(value_of(&defaults, key), from_file, "{key}: a real change");
        assert_eq!(value_of(&with_file, key), from_file, "{key}: the file");
        let variable = variable_of(key);
        let with_env = Settings::from_env(env(&[
            ("APP_CONFIG_DIR", &dir),
            (variable.as_str(), from_env),
        ]))
        .unwrap();
        assert_eq!(
            value_of(&with_env, key),
            from_env,
            "{variable} beats the file"
        );
    }
}

#[test]
fn the_repositorys_stage_files_load_and_validate() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/config");
    for stage in ["local", "k8s", "prod"] {
        let settings = Settings::from_env(env(&[
            ("APP_CONFIG_DIR", dir),
            ("APP_STAGE", stage),
            (
                "APP_AUTH__JWT_SECRET",
                "a-very-long-production-secret-of-forty-bytes",
            ),
        ]));
        assert!(settings.is_ok(), "{stage}: {settings:?}");
    }
}

#[test]
fn a_secret_may_come_from_a_file_named_by_the_variable_with_file_appended() {
    let dir = ConfigDir::with(&[("database-url", "postgres://svc:from-a-file@db/commerce\n")]);
    let path = format!("{}/database-url", dir.path());
    let s = Settings::from_env(env(&[
        ("APP_CONFIG_DIR", "/nonexistent"),
        ("APP_DATABASE__URL_FILE", &path),
    ]))
    .unwrap();
    assert_eq!(
        s.database.url.expose_secret(),
        "postgres://svc:from-a-file@db/commerce",
        "one trailing newline trimmed"
    );
    assert!(!format!("{s:?}").contains("from-a-file"));

    let both = Settings::from_env(env(&[
        ("APP_CONFIG_DIR", "/nonexistent"),
        ("APP_DATABASE__URL_FILE", &path),
        ("APP_DATABASE__URL", "postgres://other"),
    ]))
    .unwrap_err();
    assert!(
        both.to_string().contains("APP_DATABASE__URL_FILE"),
        "{both}"
    );
    let missing = Settings::from_env(env(&[
        ("APP_CONFIG_DIR", "/nonexistent"),
        ("APP_AUTH__JWT_SECRET_FILE", "/nonexistent/jwt-secret"),
    ]))
    .unwrap_err();
    assert!(
        missing.to_string().contains("APP_AUTH__JWT_SECRET_FILE"),
        "{missing}"
    );
}

#[test]
fn the_jwt_secret_is_long_and_not_the_development_one_outside_the_local_stage() {
    let secret = "a-very-long-production-secret-of-forty-bytes";
    let with = |pairs: &[(&str, &str)]| {
        let mut all = vec![("APP_CONFIG_DIR", "/nonexistent")];
        all.extend_from_slice(pairs);
        Settings::from_env(env(&all)).and_then(|s| s.require_auth().map(|()| s))
    };
    assert!(with(&[("APP_AUTH__JWT_SECRET", secret)]).is_ok());
    assert!(with(&[("APP_STAGE", "prod"), ("APP_AUTH__JWT_SECRET", secret)]).is_ok());
    for error in [
        with(&[("APP_STAGE", "prod")]).unwrap_err(),
        with(&[("APP_AUTH__JWT_SECRET", "short")]).unwrap_err(),
    ] {
        assert!(
            error.to_string().contains("APP_AUTH__JWT_SECRET"),
            "{error}"
        );
    }
    assert!(with(&[]).unwrap().auth.uses_development_secret());
}

#[test]
fn refused_and_malformed_values_name_their_variable() {
    for (variable, value) in [
        ("APP_COMMAND__LISTEN", "not an address"),
        ("APP_COMMAND__PRODUCT_ENDPOINT", "product:50052"),
        ("APP_COMMAND__PRODUCT_ENDPOINT", "ftp://product"),
        ("APP_COMMAND__DEPENDENCY_TIMEOUT_MS", "0"),
        ("APP_COMMAND__DEPENDENCY_TIMEOUT_MS", "soon"),
        ("APP_QUERY__CONSISTENCY_WAIT_MS", "soon"),
        ("APP_QUERY__CONSISTENCY_WAIT_MS", "60000"),
        ("APP_QUERY__LISTEN", "nowhere"),
        ("APP_HTTP__LISTEN", "not an address"),
        ("APP_HTTP__QUERY_ENDPOINT", "query:50060"),
        ("APP_HTTP__QUERY_TIMEOUT_MS", "2000"),
        ("APP_RELAY__BATCH_SIZE", "many"),
    ] {
        let error = Settings::from_env(env(&[
            ("APP_CONFIG_DIR", "/nonexistent"),
            (variable, value),
        ]))
        .unwrap_err();
        assert!(error.to_string().contains(variable), "{value}: {error}");
    }
}

#[test]
fn endpoints_are_http_urls_with_a_host() {
    for good in [
        "http://127.0.0.1:50052",
        "http://product:50052",
        "http://query",
    ] {
        assert!(http_endpoint("http.query_endpoint", good).is_ok(), "{good}");
    }
    for bad in [
        "product:50052",
        "https://product:1",
        "http://",
        "http://:50052",
        "http://host:port",
        "http://a b:1",
    ] {
        assert!(http_endpoint("http.query_endpoint", bad).is_err(), "{bad}");
    }
}

/// Every `APP_…` variable of the settings, from their serialized form.
fn every_variable() -> std::collections::BTreeSet<String> {
    fn walk(prefix: &str, value: &serde_json::Value, out: &mut std::collections::BTreeSet<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, value) in map {
                    let key = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}.{key}")
                    };
                    walk(&key, value, out);
                }
            }
            _ => {
                out.insert(variable_of(prefix));
            }
        }
    }
    let mut out = std::collections::BTreeSet::new();
    walk(
        "",
        &serde_json::to_value(Settings::default()).unwrap(),
        &mut out,
    );
    // A map whose keys are the roles: empty by default, so the walk cannot see it.
    out.insert("APP_DATABASE__LOGINS__<ROLE>".to_owned());
    out
}

#[test]
fn the_readme_tables_every_variable_and_no_other() {
    let readme = include_str!("../../README.md");
    let start = readme.find("\n## Settings").expect("a Settings section");
    let section = &readme[start..];
    let section = &section[..section[1..]
        .find("\n## ")
        .map_or(section.len(), |end| end + 1)];
    let tabled: std::collections::BTreeSet<String> = section
        .lines()
        .filter_map(|line| line.strip_prefix("| `APP_"))
        .filter_map(|rest| rest.split_once('`'))
        .map(|(name, _)| format!("APP_{name}"))
        .collect();
    let expected = every_variable();
    let missing: Vec<_> = expected.difference(&tabled).collect();
    let unknown: Vec<_> = tabled.difference(&expected).collect();
    assert!(
        missing.is_empty(),
        "README's settings table lacks {missing:?}"
    );
    assert!(
        unknown.is_empty(),
        "README's settings table names unknown {unknown:?}"
    );
}

#[test]
fn secrets_serialize_redacted() {
    let s = Settings::from_env(env(&[
        ("APP_CONFIG_DIR", "/nonexistent"),
        ("APP_DATABASE__URL", "postgres://svc:hunter2@db/commerce"),
    ]))
    .unwrap();
    let json = serde_json::to_string(&s).unwrap();
    assert!(
        !json.contains("hunter2") && !json.contains(DEVELOPMENT_JWT_SECRET),
        "{json}"
    );
}
