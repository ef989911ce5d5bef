//! Helpers shared by the command-line tests: where the vectors are, a fresh
//! scratch folder per test, and running the built `capf` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The project's copy of the test vectors.
pub fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors")
}

/// A fresh, empty folder for one test of one suite.
pub fn scratch(suite: &str, test: &str) -> PathBuf {
    let folder =
        std::env::temp_dir().join(format!("capf-cli-{suite}-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).unwrap();
    folder
}

/// Runs `capf` with `args` and collects its output.
pub fn capf(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_capf"))
        .args(args)
        .output()
        .unwrap()
}

/// Bytes as text, for messages and assertions.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A port nobody listens on right now on `host` (`127.0.0.1`, `[::1]`).
pub fn free_port(host: &str) -> u16 {
    std::net::TcpListener::bind(format!("{host}:0"))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Longest wait for `capf serve` to start or stop before the test fails.
const SERVE_HANG: std::time::Duration = std::time::Duration::from_secs(30);

/// A running `capf serve` (stderr to a log file); killed on drop.
pub struct ServeProcess {
    child: std::process::Child,
    log: PathBuf,
}

impl ServeProcess {
    /// Starts `capf` with `args` (`serve …`), its stderr in `log`, and waits
    /// until `address` accepts connections. NO_COLOR is removed so that a
    /// plain log shows the terminal check at work.
    pub fn start<S: AsRef<std::ffi::OsStr>>(args: &[S], address: &str, log: &Path) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_capf"))
            .args(args)
            .env_remove("NO_COLOR")
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap();
        let server = Self {
            child,
            log: log.to_owned(),
        };
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(address).is_err() {
            assert!(
                started.elapsed() < SERVE_HANG,
                "capf serve did not start: {}",
                server.log()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        server
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends a signal by name (`TERM`, `INT`) with kill(1).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit (a hang fails the test).
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        let started = std::time::Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                started.elapsed() < SERVE_HANG,
                "capf serve did not exit: {}",
                self.log()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
