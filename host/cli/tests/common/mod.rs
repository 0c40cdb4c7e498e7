//! The harness the CLI tests drive `vdr` with: a temporary working
//! directory, a private compile cache, none of the caller's secrets, and an
//! age identity or a passphrase file when the test wants one.
// Each test file uses a different part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Variables a test never inherits from the environment it runs in.
const SCRUBBED: &[&str] = &[
    "VDR_IDENTITY",
    "VDR_PASSPHRASE_FILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
];

pub struct Vdr {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Vdr {
    /// No key: for commands that open no repository.
    pub fn new() -> Vdr {
        Vdr { dir: tempfile::tempdir().unwrap(), env: Vec::new() }
    }

    /// With a fresh age identity in `key.txt` as `VDR_IDENTITY`.
    pub fn with_identity() -> Vdr {
        let v = Vdr::new();
        write_identity(&v.path("key.txt"));
        let key = v.path("key.txt").display().to_string();
        v.env("VDR_IDENTITY", &key)
    }

    /// With `passphrase` in the file `pass` as `VDR_PASSPHRASE_FILE`.
    pub fn with_passphrase(passphrase: &str) -> Vdr {
        let v = Vdr::new();
        std::fs::write(v.path("pass"), format!("{passphrase}\n")).unwrap();
        let file = v.path("pass").display().to_string();
        v.env("VDR_PASSPHRASE_FILE", &file)
    }

    /// One more variable for every command.
    pub fn env(mut self, key: &str, value: &str) -> Vdr {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_vdr"));
        c.args(args).current_dir(self.dir.path());
        for v in SCRUBBED {
            c.env_remove(v);
        }
        c.env("VDR_CACHE_DIR", self.path("cache"));
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    pub fn vdr(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Run, insist on success, return stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.vdr(args);
        assert!(
            out.status.success(),
            "vdr {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `vdr collection create --sample N --dim DIM` of `collection` in `db`.
    pub fn create_sample(&self, db: &str, collection: &str, n: &str, dim: &str) {
        let args = ["collection", "create", "--db", db, "--collection", collection];
        self.ok(&[&args[..], &["--sample", n, "--dim", dim]].concat());
    }

    /// Open a `local` store under this directory in this process (the same
    /// plugin the binary runs), e.g. to delete points the CLI cannot.
    pub fn database(&self, store: &str) -> Box<dyn vdr_model::Database> {
        use clap::Parser;
        let cli = vdr::cli::Cli::try_parse_from(["vdr", "plugin", "list"]).unwrap();
        // SAFETY: set before any thread of this test reads the environment.
        unsafe { std::env::set_var("VDR_CACHE_DIR", self.path("cache")) };
        let ctx = vdr::commands::Ctx::new(&cli).unwrap();
        ctx.database(&format!("local://{}", self.path(store).display()), true).unwrap()
    }

    /// `vdr --json ARGS`, parsed.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.ok(&all)).unwrap()
    }
}

/// Write a new age X25519 identity to `path`; returns its recipient.
pub fn write_identity(path: &Path) -> String {
    use age::secrecy::ExposeSecret;
    let id = age::x25519::Identity::generate();
    std::fs::write(path, format!("{}\n", id.to_string().expose_secret())).unwrap();
    id.to_public().to_string()
}

/// The recipient of the identity in `path`.
pub fn public_key(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    text.trim().parse::<age::x25519::Identity>().unwrap().to_public().to_string()
}
