//! Secrets as an operator meets them through the `straddle` binary: one
//! resolution order for `serve` and `admin`, refusals that name the secret
//! and its origin, environment-only start-up, `admin secrets` and `--help`.

#[path = "support/fresh_db.rs"]
mod fresh_db;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_straddle");

const SECRET_VARS: [&str; 5] = [
    "STRADDLE_JWT_SECRET",
    "STRADDLE_DATA_KEY",
    "STRADDLE_PREVIOUS_JWT_SECRETS",
    "STRADDLE_PREVIOUS_DATA_KEYS",
    "STRADDLE_SECRETS_FILE",
];

fn scratch() -> (PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("straddle-cli-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = fresh_db::fresh_postgres()
        .unwrap_or_else(|| format!("sqlite://{}/straddle.db", dir.display()));
    (dir, url)
}

/// Runs `straddle ARGS` with exactly the given secret variables.
fn straddle(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(BIN);
    command.args(args);
    for name in SECRET_VARS {
        command.env_remove(name);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn bootstrap(url: &str, file: &Path, env: &[(&str, &str)]) -> Output {
    let file = file.display().to_string();
    straddle(
        &[
            "admin",
            "bootstrap",
            "--database-url",
            url,
            "--secrets-file",
            &file,
            "--output",
            "json",
        ],
        env,
    )
}

/// `STRADDLE_JWT_SECRET=…` and `STRADDLE_DATA_KEY=…` from `admin secrets generate`.
fn generated() -> (String, String) {
    let output = straddle(&["admin", "secrets", "generate"], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8(output.stdout).unwrap();
    let value = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{name} in {text}"))
            .to_string()
    };
    (value("STRADDLE_JWT_SECRET"), value("STRADDLE_DATA_KEY"))
}

#[test]
fn admin_commands_elsewhere_refuse_instead_of_creating_new_secrets() {
    let (dir, url) = scratch();
    let first = dir.join("first.json");
    assert!(bootstrap(&url, &first, &[]).status.success());
    assert!(first.exists());

    let elsewhere = dir.join("elsewhere.json");
    let run = bootstrap(&url, &elsewhere, &[]);
    assert!(!run.status.success());
    let message = stderr(&run);
    assert!(
        message.contains("STRADDLE_JWT_SECRET is not set")
            && message.contains(&elsewhere.display().to_string())
            && message.contains("already has secrets"),
        "{message}"
    );
    assert!(!elsewhere.exists(), "no secrets were created");

    let (jwt, data) = generated();
    let run = bootstrap(
        &url,
        &first,
        &[("STRADDLE_JWT_SECRET", &jwt), ("STRADDLE_DATA_KEY", &data)],
    );
    assert!(!run.status.success());
    assert!(
        stderr(&run).contains(
            "the API-key signing secret read from environment variable STRADDLE_JWT_SECRET differs"
        ),
        "{}",
        stderr(&run)
    );
    let first_text = first.display().to_string();
    let check = straddle(
        &[
            "admin",
            "secrets",
            "check",
            "--database-url",
            &url,
            "--secrets-file",
            &first_text,
        ],
        &[],
    );
    assert!(check.status.success(), "{}", stderr(&check));
    let check = straddle(
        &[
            "admin",
            "secrets",
            "check",
            "--database-url",
            &url,
            "--secrets-file",
            &first_text,
        ],
        &[("STRADDLE_DATA_KEY", &data)],
    );
    assert!(!check.status.success());
    assert!(
        stderr(&check).contains("the data key read from environment variable STRADDLE_DATA_KEY"),
        "{}",
        stderr(&check)
    );
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn serve_starts_from_the_environment_alone_with_an_unwritable_secrets_path() {
    let (_dir, url) = scratch();
    let (jwt, data) = generated();
    let mut command = Command::new(BIN);
    for name in SECRET_VARS {
        command.env_remove(name);
    }
    let child = command
        .args(["serve", "--addr", "127.0.0.1:0", "--database-url", &url])
        .args(["--metrics-addr", "127.0.0.1:0"])
        .env(
            "STRADDLE_SECRETS_FILE",
            "/proc/straddle-read-only/secrets.json",
        )
        .env("STRADDLE_JWT_SECRET", &jwt)
        .env("STRADDLE_DATA_KEY", &data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = Server(child);
    let mut lines = BufReader::new(server.0.stdout.take().unwrap()).lines();
    let (mut base, mut metrics, mut key) = (None, None, None);
    while base.is_none() || metrics.is_none() {
        let line = lines
            .next()
            .expect("the server exited before listening")
            .unwrap();
        if line.starts_with("eyJ") {
            key = Some(line.clone());
        }
        if let Some(url) = line.strip_prefix("listening on ") {
            base = Some(url.to_string());
        }
        if let Some(url) = line.strip_prefix("metrics on ") {
            metrics = Some(url.to_string());
        }
    }
    let http = reqwest::Client::new();
    let ready = http
        .get(format!("{}/ready", base.clone().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let listed = http
        .get(format!("{}/v1/customers", base.unwrap()))
        .bearer_auth(key.expect("the first key is printed"))
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    let text = http
        .get(metrics.unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("straddle_http_requests_total"), "{text}");
}

#[test]
fn generate_writes_a_private_file_and_help_documents_the_order() {
    let (dir, _) = scratch();
    let file = dir.join("new.json");
    let file_text = file.display().to_string();
    let run = straddle(&["admin", "secrets", "generate", "--file", &file_text], &[]);
    assert!(run.status.success(), "{}", stderr(&run));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let again = straddle(&["admin", "secrets", "generate", "--file", &file_text], &[]);
    assert!(
        !again.status.success(),
        "an existing file is never replaced"
    );

    for args in [&["serve", "--help"][..], &["admin", "--help"][..]] {
        let help = String::from_utf8(straddle(args, &[]).stdout).unwrap();
        for needle in [
            "STRADDLE_JWT_SECRET",
            "STRADDLE_DATA_KEY",
            "STRADDLE_PREVIOUS_DATA_KEYS",
            "STRADDLE_PREVIOUS_JWT_SECRETS",
            "check value",
        ] {
            assert!(help.contains(needle), "{args:?} --help lacks {needle}");
        }
    }
    let help = String::from_utf8(straddle(&["serve", "--help"], &[]).stdout).unwrap();
    assert!(help.contains("--metrics-addr"));
}
