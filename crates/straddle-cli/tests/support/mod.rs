//! Harness for the API command tests: the real `straddle serve` on port 0
//! with bootstrapped keys, and the real `straddle` binary as the client.

#![allow(dead_code)] // Each test binary uses a different part of the harness.

pub mod fresh_db;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_straddle");

/// The customer id the published examples use.
pub const SEED_CUSTOMER: &str = "182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e";

/// A running server and the keys of two platform accounts.
pub struct Server {
    process: Process,
    pub dir: PathBuf,
    pub database_url: String,
    pub url: String,
    /// Key of a platform account.
    pub key: String,
    pub account_id: String,
    /// Key of another platform account, allowed to call the unmasked endpoints.
    pub unmask_key: String,
}

/// A child process, killed and reaped when dropped (on every path, panics included).
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Server {
    /// Bootstraps two accounts in a fresh database and starts serving it.
    pub fn start() -> Server {
        let dir = std::env::temp_dir().join(format!("straddle-cli-api-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let database_url = self::fresh_db::fresh_postgres()
            .unwrap_or_else(|| format!("sqlite://{}/straddle.db", dir.display()));
        let platform = admin(&dir, &["bootstrap", "--database-url", &database_url]);
        let unmasking = admin(
            &dir,
            &[
                "bootstrap",
                "--database-url",
                &database_url,
                "--allow-unmask",
            ],
        );
        let (process, url) = serve(&dir, &database_url);
        Server {
            process,
            dir,
            database_url,
            url,
            key: platform["api_key"].as_str().unwrap().into(),
            account_id: platform["account_id"].as_str().unwrap().into(),
            unmask_key: unmasking["api_key"].as_str().unwrap().into(),
        }
    }

    /// Runs `straddle ARGS` against this server with the platform key.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_as(&self.key, args)
    }

    /// Runs `straddle ARGS` against this server with `key`.
    pub fn run_as(&self, key: &str, args: &[&str]) -> Run {
        let mut command = straddle(&self.url);
        command.env("STRADDLE_API_KEY", key).args(args);
        Run::from(command.output().unwrap())
    }

    /// Runs `script` with `sh`, `straddle` on the PATH and only
    /// `STRADDLE_BASE_URL` set: the published examples, verbatim.
    pub fn shell(&self, script: &str) -> Run {
        let bin_dir = Path::new(BIN).parent().unwrap();
        let path = format!(
            "{}:{}",
            bin_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut command = Command::new("sh");
        command
            .args(["-c", script])
            .env("PATH", path)
            .env("STRADDLE_BASE_URL", &self.url)
            .env_remove("STRADDLE_API_KEY")
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR_FORCE");
        Run::from(command.output().unwrap())
    }

    /// An embedded account of the platform account.
    pub fn embedded_account(&self) -> String {
        let created = admin(
            &self.dir,
            &[
                "accounts",
                "create",
                "--database-url",
                &self.database_url,
                "--name",
                "Shop",
                "--parent",
                &self.account_id,
            ],
        );
        created["account_id"].as_str().unwrap().into()
    }

    /// Creates a customer and returns its id.
    pub fn customer(&self, name: &str) -> String {
        let email = format!("{}@example.com", uuid::Uuid::now_v7());
        let created = self.run(&[
            "customers",
            "create",
            "--name",
            name,
            "--type",
            "individual",
            "--email",
            &email,
            "--phone",
            "+12128675309",
            "--device.ip-address",
            "203.0.113.7",
            "--compliance-profile",
            r#"{"dob":"1980-02-29","ssn":"123-45-6789"}"#,
        ]);
        created.ok().json()["data"]["id"].as_str().unwrap().into()
    }

    /// Links a bank account for `customer` and returns the paykey's `data`.
    pub fn bank_paykey(&self, customer: &str, outcome: &str) -> Value {
        let linked = self.run(&[
            "bridge:link",
            "bank-account",
            "--customer-id",
            customer,
            "--account-number",
            "004417253381",
            "--account-type",
            "checking",
            "--routing-number",
            "026009593",
            "--config.sandbox-outcome",
            outcome,
        ]);
        linked.ok().json()["data"].clone()
    }
}

/// `straddle` pointed at `base_url`, with no key and no colour settings
/// inherited from the test's environment.
pub fn straddle(base_url: &str) -> Command {
    let mut command = Command::new(BIN);
    command
        .env("STRADDLE_BASE_URL", base_url)
        .env_remove("STRADDLE_API_KEY")
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .stdin(Stdio::null());
    command
}

/// `straddle admin ARGS --output json` with the secrets file in `dir`.
pub fn admin(dir: &Path, args: &[&str]) -> Value {
    let output = Command::new(BIN)
        .arg("admin")
        .args(args)
        .args(["--output", "json"])
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

fn serve(dir: &Path, database_url: &str) -> (Process, String) {
    serve_with(dir, database_url, &[])
}

/// `straddle serve` on port 0 with the secrets file in `dir` and the extra
/// environment `env`; the process and its URL once it is listening.
pub fn serve_with(dir: &Path, database_url: &str, env: &[(&str, &str)]) -> (Process, String) {
    let mut process = Process(
        Command::new(BIN)
            .args([
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--database-url",
                database_url,
                "--rate-limit",
                "0",
            ])
            .env("STRADDLE_SECRETS_FILE", dir.join("secrets.json"))
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(
                std::fs::File::create(dir.join("server.log")).unwrap(),
            ))
            .spawn()
            .unwrap(),
    );
    let mut reader = BufReader::new(process.0.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            panic!("the server exited before listening");
        }
        if let Some(url) = line.trim_end().strip_prefix("listening on ") {
            let url = url.to_string();
            // Keep draining stdout so the server never blocks on it.
            std::thread::spawn(move || {
                let _ = reader.read_to_string(&mut String::new());
            });
            return (process, url);
        }
    }
}

/// What a `straddle` run did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Run {
            code: output.status.code().expect("exited, not killed"),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }
}

impl Run {
    /// Asserts success with nothing on stderr.
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "{self:?}");
        assert!(self.stderr.is_empty(), "{self:?}");
        self
    }

    /// Asserts a failure with `code`, nothing on stdout, and a report on stderr.
    pub fn fails(self, code: i32) -> Run {
        assert_eq!(self.code, code, "{self:?}");
        assert!(self.stdout.is_empty(), "{self:?}");
        assert!(self.stderr.starts_with("error: "), "{self:?}");
        assert!(self.stderr.contains("\nnext: ") || code == 2, "{self:?}");
        self
    }

    /// stdout as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }
}
