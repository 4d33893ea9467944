//! The `straddle` binary as users run it: start-up contract, admin commands,
//! crash durability, graceful shutdown and log hygiene.

#[path = "support/fresh_db.rs"]
mod fresh_db;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use straddle_server::security::secrets::Secrets;
use straddle_server::storage::db::Db;

const BIN: &str = env!("CARGO_BIN_EXE_straddle");

/// A scratch directory and database URL for one test.
fn scratch() -> (PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("straddle-cli-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = fresh_db::fresh_postgres()
        .unwrap_or_else(|| format!("sqlite://{}/straddle.db", dir.display()));
    (dir, url)
}

struct Server {
    child: Child,
    url: String,
    stdout_lines: Vec<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &Path, database_url: &str, extra_env: &[(&str, &str)]) -> Server {
    let mut command = Command::new(BIN);
    command
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--database-url",
            database_url,
        ])
        .env("STRADDLE_SECRETS_FILE", dir.join("secrets.json"))
        .stdout(Stdio::piped())
        .stderr(Stdio::from(
            std::fs::File::create(dir.join("stderr.log")).unwrap(),
        ));
    for (name, value) in extra_env {
        command.env(name, value);
    }
    let child = command.spawn().unwrap();
    // Owned by `Server` at once, so it is killed and reaped on every path.
    let mut server = Server {
        child,
        url: String::new(),
        stdout_lines: vec![],
    };
    let mut reader = BufReader::new(server.child.stdout.take().unwrap());
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            panic!("server exited before listening: {:?}", server.stdout_lines);
        }
        let line = line.trim_end().to_string();
        if let Some(url) = line.strip_prefix("listening on ") {
            server.url = url.to_string();
            server.stdout_lines.push(line);
            // Keep draining stdout so the server never blocks on it.
            std::thread::spawn(move || {
                let mut sink = String::new();
                let _ = reader.read_to_string(&mut sink);
            });
            return server;
        }
        server.stdout_lines.push(line);
    }
}

fn admin(dir: &Path, args: &[&str]) -> Value {
    let output = Command::new(BIN)
        .args(args)
        .env("STRADDLE_SECRETS_FILE", dir.join("secrets.json"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([name, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn customer(email: &str) -> Value {
    json!({"name": "Ron Swanson", "type": "individual", "email": email, "phone": "+12128675309",
           "device": {"ip_address": "203.0.113.77"}, "compliance_profile": {"dob": "1971-05-06", "ssn": "987-65-4321"}})
}

#[tokio::test]
async fn an_empty_database_gets_an_account_and_a_key_printed_once() {
    let (dir, _) = scratch();
    let url = format!("sqlite://{}/fresh.db", dir.display());
    let mut server = serve(&dir, &url, &[]);
    assert_eq!(
        server
            .stdout_lines
            .iter()
            .filter(|l| l.starts_with("listening on http://127.0.0.1:"))
            .count(),
        1
    );
    let key = server
        .stdout_lines
        .iter()
        .find(|l| l.starts_with("eyJ"))
        .expect("the API key is printed")
        .clone();
    assert!(server.stdout_lines[0].contains("shown only this once"));
    let reply = reqwest::Client::new()
        .get(format!("{}/v1/customers", server.url))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("secrets.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let database = std::fs::read(dir.join("fresh.db")).unwrap();
        let secrets = std::fs::read_to_string(dir.join("secrets.json")).unwrap();
        let jwt_key: Value = serde_json::from_str(&secrets).unwrap();
        let needle = jwt_key["jwt_key"].as_str().unwrap().as_bytes();
        assert!(
            !database.windows(needle.len()).any(|w| w == needle),
            "secrets are not stored in the database"
        );
    }
    signal(&server.child, "-TERM");
    assert!(
        server.child.wait().unwrap().success(),
        "SIGTERM is a clean shutdown"
    );
    // A second start on the same database prints no new key.
    let mut again = serve(&dir, &url, &[]);
    assert!(!again.stdout_lines.iter().any(|l| l.starts_with("eyJ")));
    again.child.kill().unwrap();
}

/// "listening" is the readiness line: from then on SIGTERM and SIGINT
/// shut down cleanly, even before the first request is accepted.
#[test]
fn a_signal_right_after_listening_is_a_clean_shutdown() {
    for name in ["-TERM", "-INT"] {
        let (dir, url) = scratch();
        let mut server = serve(&dir, &url, &[]);
        signal(&server.child, name);
        let status = server.child.wait().unwrap();
        let logs = std::fs::read_to_string(dir.join("stderr.log")).unwrap();
        assert!(status.success(), "{name}: {status}; stderr: {logs}");
        assert!(logs.contains("server stopped"), "{name}: {logs}");
    }
}

#[tokio::test]
async fn admin_commands_manage_accounts_and_keys() {
    let (dir, url) = scratch();
    let platform = admin(
        &dir,
        &[
            "admin",
            "bootstrap",
            "--database-url",
            &url,
            "--output",
            "json",
        ],
    );
    let platform_id = platform["account_id"].as_str().unwrap();
    let child = admin(
        &dir,
        &[
            "admin",
            "accounts",
            "create",
            "--database-url",
            &url,
            "--name",
            "Shop",
            "--parent",
            platform_id,
            "--output",
            "json",
        ],
    );
    let child_id = child["account_id"].as_str().unwrap();
    let key = admin(
        &dir,
        &[
            "admin",
            "keys",
            "create",
            "--database-url",
            &url,
            "--account",
            platform_id,
            "--output",
            "json",
        ],
    );
    let mut server = serve(&dir, &url, &[]);
    let http = reqwest::Client::new();
    let list = |api_key: String, account: Option<String>| {
        let mut request = http
            .get(format!("{}/v1/customers", server.url))
            .bearer_auth(api_key);
        if let Some(account) = account {
            request = request.header("Straddle-Account-Id", account);
        }
        request.send()
    };
    let api_key = key["api_key"].as_str().unwrap().to_string();
    assert_eq!(
        list(api_key.clone(), Some(child_id.to_string()))
            .await
            .unwrap()
            .status(),
        200
    );
    let revoke = Command::new(BIN)
        .args([
            "admin",
            "keys",
            "revoke",
            "--database-url",
            &url,
            "--key-id",
            key["key_id"].as_str().unwrap(),
        ])
        .env("STRADDLE_SECRETS_FILE", dir.join("secrets.json"))
        .output()
        .unwrap();
    assert!(revoke.status.success());
    let mut status = 200;
    for _ in 0..60 {
        status = list(api_key.clone(), None).await.unwrap().status().as_u16();
        if status == 401 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        status, 401,
        "a revoked key is refused by a running server within seconds"
    );
    let bootstrap_key = platform["api_key"].as_str().unwrap().to_string();
    assert_eq!(list(bootstrap_key, None).await.unwrap().status(), 200);
    server.child.kill().unwrap();
}

#[tokio::test]
async fn acknowledged_writes_survive_kill_9() {
    let (dir, url) = scratch();
    let platform = admin(
        &dir,
        &[
            "admin",
            "bootstrap",
            "--database-url",
            &url,
            "--output",
            "json",
        ],
    );
    let key = platform["api_key"].as_str().unwrap().to_string();
    let mut server = serve(&dir, &url, &[]);
    let http = reqwest::Client::new();
    let creates = (0..40).map(|i| {
        http.post(format!("{}/v1/customers", server.url))
            .bearer_auth(&key)
            .json(&customer(&format!("ron{i}@pawnee.com")))
            .send()
    });
    let mut ids = vec![];
    for reply in futures::future::join_all(creates).await {
        let reply = reply.unwrap();
        assert_eq!(reply.status(), 201);
        let body: Value = reply.json().await.unwrap();
        ids.push(body["data"]["id"].as_str().unwrap().to_string());
    }
    server.child.kill().unwrap(); // SIGKILL: no shutdown path runs.
    server.child.wait().unwrap();
    let mut restarted = serve(&dir, &url, &[]);
    for id in &ids {
        let reply = http
            .get(format!("{}/v1/customers/{id}", restarted.url))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(
            reply.status(),
            200,
            "customer {id} acknowledged before the crash is lost"
        );
    }
    restarted.child.kill().unwrap();
}

#[tokio::test]
async fn logs_carry_request_ids_but_never_keys_or_pii() {
    let (dir, url) = scratch();
    let platform = admin(
        &dir,
        &[
            "admin",
            "bootstrap",
            "--database-url",
            &url,
            "--output",
            "json",
        ],
    );
    let key = platform["api_key"].as_str().unwrap().to_string();
    let mut server = serve(&dir, &url, &[("RUST_LOG", "trace")]);
    let http = reqwest::Client::new();
    let reply = http
        .post(format!("{}/v1/customers", server.url))
        .bearer_auth(&key)
        .header("Request-Id", "trace-me-123")
        .json(&customer("leak@pawnee.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201);
    let _ = http
        .get(format!("{}/v1/customers", server.url))
        .bearer_auth("forged.key.value")
        .send()
        .await
        .unwrap();
    signal(&server.child, "-TERM");
    server.child.wait().unwrap();
    let logs = std::fs::read_to_string(dir.join("stderr.log")).unwrap();
    assert!(
        logs.contains("trace-me-123"),
        "the request's span carries Request-Id"
    );
    for secret in [
        key.as_str(),
        "987-65-4321",
        "1971-05-06",
        "203.0.113.77",
        "forged.key.value",
    ] {
        assert!(!logs.contains(secret), "logs leak {secret}");
    }
}

#[tokio::test]
async fn a_flood_of_invalid_keys_does_not_flood_the_log() {
    let (dir, url) = scratch();
    let env = [("RUST_LOG", "info"), ("STRADDLE_LOG_FORMAT", "json")];
    let mut server = serve(&dir, &url, &env);
    let http = reqwest::Client::new();
    let health = http
        .get(format!("{}/health", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let before = std::fs::metadata(dir.join("stderr.log")).unwrap().len();
    for i in 0..500 {
        let reply = http
            .get(format!("{}/v1/customers", server.url))
            .bearer_auth(format!("forged.key.{i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 401);
    }
    let after = std::fs::metadata(dir.join("stderr.log")).unwrap().len();
    signal(&server.child, "-TERM");
    server.child.wait().unwrap();
    let logs = std::fs::read_to_string(dir.join("stderr.log")).unwrap();
    assert!(
        logs.contains(r#""status":200"#),
        "ordinary responses are logged"
    );
    assert!(
        !logs.contains(r#""status":401"#),
        "one line per failed authentication"
    );
    assert!(
        after - before < 1_000,
        "{} bytes logged for 500 401s",
        after - before
    );
}

/// The lines one `straddle serve` prints up to `listening on` (or until it
/// exits), and whether it got there.
fn start_output(child: &mut Child) -> std::sync::mpsc::Receiver<(Vec<String>, bool)> {
    let (tx, rx) = std::sync::mpsc::channel();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    std::thread::spawn(move || {
        let mut lines = vec![];
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                let _ = tx.send((lines, false));
                return;
            }
            let line = line.trim_end().to_string();
            let listening = line.starts_with("listening on ");
            lines.push(line);
            if listening {
                let _ = tx.send((lines, true));
                // Keep draining stdout so the server never blocks on it.
                let mut sink = String::new();
                let _ = reader.read_to_string(&mut sink);
                return;
            }
        }
    });
    rx
}

/// A child process, killed and reaped when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn first_start_creates_one_account() {
    const ROUNDS: usize = 5;
    const PROCESSES: usize = 3;
    let (mut not_started, mut bad_rounds) = (0, 0);
    let (mut keys_printed, mut account_counts) = (vec![], vec![]);
    for _ in 0..ROUNDS {
        let (dir, url) = scratch();
        // Provisioned once, as every instance of a deployment must share it.
        let secrets = dir.join("secrets.json");
        Secrets::load_or_create(&secrets).unwrap();
        let mut children = vec![];
        for i in 0..PROCESSES {
            let stderr = std::fs::File::create(dir.join(format!("stderr-{i}.log"))).unwrap();
            let child = Command::new(BIN)
                .args(["serve", "--addr", "127.0.0.1:0", "--database-url", &url])
                .arg("--secrets-file")
                .arg(&secrets)
                .stdout(Stdio::piped())
                .stderr(Stdio::from(stderr))
                .spawn()
                .unwrap();
            children.push(Killed(child));
        }
        let outputs: Vec<_> = children
            .iter_mut()
            .map(|c| start_output(&mut c.0))
            .collect();
        let (mut started, mut keys) = (0, 0);
        for output in outputs {
            let (lines, listening) = output
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_default();
            started += usize::from(listening);
            keys += lines.iter().filter(|l| l.starts_with("eyJ")).count();
        }
        let db = Db::connect(&url).await.unwrap();
        let count = {
            let mut reader = db.reader().await.unwrap();
            reader
                .conn()
                .fetch_one("SELECT COUNT(*) AS n FROM account", vec![])
                .await
                .unwrap()
                .int("n")
                .unwrap()
        };
        db.close().await;
        drop(children);
        not_started += PROCESSES - started;
        bad_rounds += usize::from(started != PROCESSES || keys != 1 || count != 1);
        keys_printed.push(keys);
        account_counts.push(count);
    }
    eprintln!(
        "first start, {PROCESSES} processes x {ROUNDS} rounds: keys printed {keys_printed:?}, \
         accounts {account_counts:?}, {not_started} processes never listened"
    );
    assert_eq!(not_started, 0, "every process starts");
    assert_eq!(
        bad_rounds, 0,
        "exactly one key printed and one account per round"
    );
}

/// PostgreSQL only: `--db-max-lifetime-ms` (here its environment variable)
/// replaces the server's sessions while the background work keeps them busy.
#[tokio::test]
async fn postgresql_sessions_are_replaced_after_the_configured_lifetime() {
    use sqlx::Connection;
    let (dir, url) = scratch();
    if !url.starts_with("postgres") {
        eprintln!("PostgreSQL only; skipped on SQLite");
        return;
    }
    let instance = format!("lifetime-{}", uuid::Uuid::now_v7().simple());
    let _server = serve(
        &dir,
        &url,
        &[
            ("STRADDLE_INSTANCE_ID", instance.as_str()),
            ("STRADDLE_DB_POOL_SIZE", "1"),
            ("STRADDLE_DB_MAX_LIFETIME_MS", "200"),
        ],
    );
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    let sessions = "SELECT pid FROM pg_stat_activity WHERE application_name = $1 ORDER BY pid";
    let mut first: Vec<(i32,)> = Vec::new();
    let mut replaced = false;
    for _ in 0..100 {
        let now: Vec<(i32,)> = sqlx::query_as(sessions)
            .bind(&instance)
            .fetch_all(&mut admin)
            .await
            .unwrap();
        if first.is_empty() {
            first = now;
        } else if !now.is_empty() && now.iter().all(|pid| !first.contains(pid)) {
            replaced = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!first.is_empty(), "the server holds a session");
    assert!(
        replaced,
        "its sessions are replaced after 200 ms: {first:?}"
    );
}
