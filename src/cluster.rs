//! A throwaway local PostgreSQL cluster, for `credits demo` and the tests.
//!
//! initdb in a fresh temporary directory, the server on a free loopback port
//! with fsync off, run as the `postgres` OS user when we are root (PostgreSQL
//! refuses to run as root). A watchdog process stops the server and removes
//! the directory once the process that started it exits, however it exits
//! (panic, Ctrl-C, SIGKILL), so no cluster outlives its run.

use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::chown;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

pub struct LocalCluster {
    dir: PathBuf,
    port: u16,
    server: Child,
    watchdog: Option<Child>,
    bin: PathBuf,
    owner: Option<(u32, u32)>,
    settings: Vec<(String, String)>,
}

/// Settings for a cluster that differs from the default one (tests of TLS,
/// password authentication, a server restart).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Extra server settings, passed as `-c key=value`.
    pub settings: Vec<(String, String)>,
    /// Replaces pg_hba.conf. Keep a `local all all trust` line: readiness
    /// is checked, and [`LocalCluster::socket_conninfo`] connects, over the socket.
    pub hba: Option<String>,
    /// Files written into the data directory before the server starts,
    /// owned by the server's user with mode 0600 (certificates, keys).
    pub files: Vec<(String, Vec<u8>)>,
}

impl LocalCluster {
    /// Starts a new cluster. With `keep`, no watchdog is started: the server
    /// outlives this process until stopped with [`LocalCluster::stop_command`].
    pub fn start(keep: bool) -> Result<LocalCluster> {
        LocalCluster::start_with(keep, &Options::default())
    }

    /// Starts a new cluster with custom settings, pg_hba.conf and files.
    pub fn start_with(keep: bool, options: &Options) -> Result<LocalCluster> {
        let bin = server_bin_dir()?;
        let owner = server_owner()?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .subsec_nanos();
        let dir = std::env::temp_dir().join(format!("credits-pg-{}-{nanos}", std::process::id()));
        create_owned_dir(&dir, owner)?;
        let data = dir.join("data");
        let initdb = as_owner(Command::new(bin.join("initdb")), owner)
            .args([
                "--no-sync",
                "--no-instructions",
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
            ])
            .arg("--locale=C")
            .arg("-D")
            .arg(&data)
            .output()
            .context("running initdb")?;
        if !initdb.status.success() {
            bail!(
                "initdb failed: {}",
                String::from_utf8_lossy(&initdb.stderr).trim()
            );
        }

        if let Some(hba) = &options.hba {
            write_owned(&data.join("pg_hba.conf"), hba.as_bytes(), owner)?;
        }
        for (name, contents) in &options.files {
            write_owned(&data.join(name), contents, owner)?;
        }

        LocalCluster::launch(dir, bin, owner, options.settings.clone(), keep)
    }

    /// Starts the server of the data directory in `dir` on a free port,
    /// with a watchdog unless `keep`, and waits until it accepts connections.
    fn launch(
        dir: PathBuf,
        bin: PathBuf,
        owner: Option<(u32, u32)>,
        settings: Vec<(String, String)>,
        keep: bool,
    ) -> Result<LocalCluster> {
        let port = free_port()?;
        fs::File::create(dir.join("server.log"))?;
        if let Some((uid, gid)) = owner {
            chown(dir.join("server.log"), Some(uid), Some(gid))?;
        }
        let server = spawn_server(&bin, &dir, port, owner, &settings)?;
        let mut cluster = LocalCluster {
            dir,
            port,
            server,
            watchdog: None,
            bin,
            owner,
            settings,
        };
        if !keep {
            cluster.watchdog = Some(cluster.spawn_watchdog()?);
        }
        cluster.wait_ready()?;
        Ok(cluster)
    }

    /// A hot standby of this cluster, streaming from it: a base backup
    /// (`pg_basebackup -R`) started on its own port, removed like any other.
    pub fn start_standby(&self) -> Result<LocalCluster> {
        let dir = self.dir.with_file_name(format!(
            "{}-standby",
            self.dir
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("credits-pg")
        ));
        create_owned_dir(&dir, self.owner)?;
        let backup = as_owner(Command::new(self.bin.join("pg_basebackup")), self.owner)
            .arg("-D")
            .arg(dir.join("data"))
            .args(["-R", "-X", "stream", "--no-sync", "--checkpoint=fast"])
            .args(["-h", "127.0.0.1", "-U", "postgres"])
            .args(["-p", &self.port.to_string()])
            .output()
            .context("running pg_basebackup")?;
        if !backup.status.success() {
            bail!(
                "pg_basebackup failed: {}",
                String::from_utf8_lossy(&backup.stderr).trim()
            );
        }
        LocalCluster::launch(
            dir,
            self.bin.clone(),
            self.owner,
            self.settings.clone(),
            false,
        )
    }

    /// A libpq connection string for `dbname` on this cluster.
    pub fn conninfo(&self, dbname: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname={dbname} sslmode=disable",
            self.port
        )
    }

    /// A connection string over the Unix socket (trusted by the default
    /// pg_hba.conf), for setting up a cluster whose TCP access needs TLS or a password.
    pub fn socket_conninfo(&self, dbname: &str) -> String {
        format!(
            "host={} port={} user=postgres dbname={dbname}",
            self.dir.display(),
            self.port
        )
    }

    /// The TCP port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server with a fast shutdown (open sessions are cut off, as
    /// when a managed database restarts) and starts it again on the same port.
    pub fn restart_fast(&mut self) -> Result<()> {
        let _ = Command::new("kill")
            .args(["-INT", &self.server.id().to_string()])
            .status();
        self.server.wait()?;
        self.server = spawn_server(&self.bin, &self.dir, self.port, self.owner, &self.settings)?;
        // The watchdog watches the server's process id: watch the new one.
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
            self.watchdog = Some(self.spawn_watchdog()?);
        }
        self.wait_ready()
    }

    /// The cluster's own directory, removed with it.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// The shell command that stops a kept cluster and removes its files.
    pub fn stop_command(&self) -> String {
        let user = if self.owner.is_some() {
            "runuser -u postgres -- "
        } else {
            ""
        };
        format!(
            "{user}{} stop -D {} -m fast && rm -rf {}",
            self.bin.join("pg_ctl").display(),
            self.dir.join("data").display(),
            self.dir.display()
        )
    }

    /// Leaves the server running after this value is dropped.
    pub fn keep(mut self) {
        self.watchdog = None;
        std::mem::forget(self);
    }

    fn spawn_watchdog(&self) -> Result<Child> {
        // Polls the parent; when it is gone, a fast shutdown, then cleanup.
        let script = r#"while kill -0 "$1" 2>/dev/null; do sleep 1; done
kill -INT "$2" 2>/dev/null
while kill -0 "$2" 2>/dev/null; do sleep 0.2; done
rm -rf "$3""#;
        Command::new("sh")
            .args(["-c", script, "credits-cluster-watchdog"])
            .arg(std::process::id().to_string())
            .arg(self.server.id().to_string())
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .context("starting the cluster watchdog")
    }

    fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.server.try_wait()? {
                bail!(
                    "postgres exited ({status}) during startup: {}",
                    self.log_tail()
                );
            }
            if postgres::Client::connect(&self.socket_conninfo("postgres"), postgres::NoTls).is_ok()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "postgres did not accept connections within 60 s: {}",
                    self.log_tail()
                );
            }
            sleep(Duration::from_millis(100));
        }
    }

    fn log_tail(&self) -> String {
        let log = fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(10)..].join("\n")
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
        // SIGINT is PostgreSQL's fast shutdown.
        let _ = Command::new("kill")
            .args(["-INT", &self.server.id().to_string()])
            .status();
        let _ = self.server.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// The directory with `initdb` and `postgres`: on PATH, or Debian's
/// /usr/lib/postgresql/<version>/bin (newest first).
fn server_bin_dir() -> Result<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    let mut debian: Vec<PathBuf> = fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    debian.sort_by_key(|dir| {
        let version = dir
            .parent()
            .and_then(Path::file_name)
            .and_then(|v| v.to_str());
        std::cmp::Reverse(version.and_then(|v| v.parse::<u32>().ok()).unwrap_or(0))
    });
    let found = on_path
        .into_iter()
        .chain(debian)
        .find(|dir| dir.join("initdb").is_file() && dir.join("postgres").is_file())
        .context(
            "PostgreSQL server programs (initdb, postgres) were not found on PATH or in \
             /usr/lib/postgresql/*/bin; install them (Debian: apt-get install -y postgresql)",
        )?;
    // Where initdb really is: a PATH entry may hold links to a few of the
    // programs only, and the standby needs pg_basebackup from beside them.
    Ok(fs::canonicalize(found.join("initdb"))?
        .parent()
        .map_or(found, Path::to_path_buf))
}

/// The uid/gid to run the server as: the `postgres` user when we are root.
fn server_owner() -> Result<Option<(u32, u32)>> {
    let uid = String::from_utf8(Command::new("id").arg("-u").output()?.stdout)?;
    if uid.trim() != "0" {
        return Ok(None);
    }
    let passwd = fs::read_to_string("/etc/passwd")?;
    let entry = passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.first() == Some(&"postgres") && fields.len() > 3)
        .context(
            "running as root, and PostgreSQL refuses to run as root: create a `postgres` \
             OS user (Debian's postgresql package does) or run as another user",
        )?;
    Ok(Some((entry[2].parse()?, entry[3].parse()?)))
}

fn as_owner(mut command: Command, owner: Option<(u32, u32)>) -> Command {
    if let Some((uid, gid)) = owner {
        command.uid(uid).gid(gid);
    }
    command
}

fn spawn_server(
    bin: &Path,
    dir: &Path,
    port: u16,
    owner: Option<(u32, u32)>,
    settings: &[(String, String)],
) -> Result<Child> {
    let log = fs::OpenOptions::new()
        .append(true)
        .open(dir.join("server.log"))?;
    let mut command = as_owner(Command::new(bin.join("postgres")), owner);
    command
        .arg("-D")
        .arg(dir.join("data"))
        .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1"])
        .arg("-k")
        .arg(dir)
        .args([
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ])
        .args(["-c", "max_connections=200"]);
    for (key, value) in settings {
        command.arg("-c").arg(format!("{key}={value}"));
    }
    command
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        // Its own process group: a Ctrl-C at the terminal reaches us, and
        // the watchdog then shuts the server down in order.
        .process_group(0)
        .spawn()
        .context("starting postgres")
}

/// Creates `dir`, owned by the server's user.
fn create_owned_dir(dir: &Path, owner: Option<(u32, u32)>) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    if let Some((uid, gid)) = owner {
        chown(dir, Some(uid), Some(gid))?;
    }
    Ok(())
}

/// Writes a file only the server's user can read (PostgreSQL insists on
/// that for the TLS key).
fn write_owned(path: &Path, contents: &[u8], owner: Option<(u32, u32)>) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::write(path, contents).with_context(|| format!("writing {}", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))?;
    if let Some((uid, gid)) = owner {
        chown(path, Some(uid), Some(gid))?;
    }
    Ok(())
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
