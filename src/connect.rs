//! Connecting to PostgreSQL the way psql users expect: libpq's connection
//! string forms, environment variables, defaults, password file and sslmode
//! rules, with every failure explained in a line or two.
//!
//! The connection string is resolved here instead of by
//! `postgres::Config::from_str` because that parser knows neither
//! `sslrootcert` nor `verify-ca`/`verify-full`, and libpq's precedence
//! (connection string, then `PG*` variables, then defaults) lives nowhere else.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::Duration;

use anyhow::Result;
use percent_encoding::percent_decode_str;
use postgres::config::SslMode as WireSslMode;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::exit::{Code, fail};

/// Seconds to wait when `connect_timeout` is unset or 0, where libpq would wait forever.
const DEFAULT_CONNECT_TIMEOUT: u64 = 10;

/// Where the connection string comes from, for error messages.
const CONNINFO_SOURCE: &str = "--database-url / DATABASE_URL";

/// Where and how to connect, with the password left out so it can be printed.
#[derive(Debug, Clone)]
pub struct Target {
    /// A name or address, or a socket directory when it starts with `/`.
    pub host: String,
    pub port: u16,
    pub user: String,
    pub dbname: String,
    /// The mode in effect, which may differ from the one asked for (see `Settings`).
    pub sslmode: SslMode,
}

impl Target {
    /// What was dialled, for error messages: `host:port` or the socket file.
    fn address(&self) -> String {
        if is_socket_dir(&self.host) {
            format!("socket {}/.s.PGSQL.{}", self.host, self.port)
        } else {
            self.host_port()
        }
    }

    /// `host:port`, bracketing IPv6 addresses so the port stays readable.
    fn host_port(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}@{}/{} (sslmode={})",
            self.user,
            self.host_port(),
            self.dbname,
            self.sslmode
        )
    }
}

/// libpq's sslmode values, except `allow`, which has no equivalent in `postgres`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Result<SslMode> {
        Ok(match value {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            "allow" => {
                return Err(settings_error(
                    "sslmode=allow is not supported: use sslmode=prefer (TLS when the server offers it) or sslmode=disable",
                ));
            }
            other => {
                return Err(settings_error(format!(
                    "invalid sslmode \"{other}\": use disable, prefer, require, verify-ca or verify-full"
                )));
            }
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A password and where it came from, so an authentication failure can say
/// which one was wrong.
struct Password {
    value: String,
    origin: String,
}

/// Fully resolved connection parameters.
pub struct Settings {
    /// A name or address, or a socket directory when it starts with `/`.
    host: String,
    port: u16,
    user: String,
    dbname: String,
    password: Option<Password>,
    /// The mode in effect: `require` with a root certificate is `verify-ca`,
    /// and sockets never use TLS, as in libpq.
    sslmode: SslMode,
    /// A PEM file, or `system` for the system's trusted roots.
    sslrootcert: Option<String>,
    connect_timeout: Duration,
}

impl Settings {
    /// Resolve like libpq: `conninfo` is --database-url / DATABASE_URL (URL
    /// `postgres://` or `postgresql://`, or `key=value` conninfo string), may be None.
    /// `env` is a lookup function for environment variables (so tests can
    /// inject; production passes `|k| std::env::var(k).ok()`).
    ///
    /// Empty values count as unset, as they mostly do in libpq.
    pub fn resolve(
        conninfo: Option<&str>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Settings> {
        let params = conninfo.map(Params::parse).transpose()?.unwrap_or_default();
        let env = |key: &str| env(key).filter(|value| !value.is_empty());
        let pick = |given: Option<String>, key: &str| given.or_else(|| env(key));

        let port = pick(params.port, "PGPORT")
            .map(|port| parse_port(&port))
            .transpose()?
            .unwrap_or(5432);
        let host = params
            .host
            .or(params.hostaddr)
            .or_else(|| env("PGHOST"))
            .or_else(|| env("PGHOSTADDR"))
            .unwrap_or_else(|| default_host(port));
        if host.contains(',') {
            return Err(multiple_hosts());
        }
        let user = pick(params.user, "PGUSER")
            .or_else(|| env("USER"))
            .unwrap_or_else(|| "postgres".to_owned());
        let dbname = pick(params.dbname, "PGDATABASE").unwrap_or_else(|| user.clone());
        let sslrootcert = pick(params.sslrootcert, "PGSSLROOTCERT");
        let requested = pick(params.sslmode, "PGSSLMODE")
            .map(|mode| SslMode::parse(&mode))
            .transpose()?
            .unwrap_or(SslMode::Prefer);
        let sslmode = match requested {
            _ if is_socket_dir(&host) => SslMode::Disable,
            SslMode::Require if sslrootcert.is_some() => SslMode::VerifyCa,
            mode => mode,
        };
        let connect_timeout = pick(params.connect_timeout, "PGCONNECT_TIMEOUT")
            .map(|seconds| parse_connect_timeout(&seconds))
            .transpose()?
            .unwrap_or(Duration::from_secs(DEFAULT_CONNECT_TIMEOUT));

        let password = match (params.password, env("PGPASSWORD")) {
            (Some(value), _) => Some(Password {
                value,
                origin: "the connection string".to_owned(),
            }),
            (None, Some(value)) => Some(Password {
                value,
                origin: "PGPASSWORD".to_owned(),
            }),
            (None, None) => env("PGPASSFILE")
                .map(PathBuf::from)
                .or_else(|| env("HOME").map(|home| Path::new(&home).join(".pgpass")))
                .and_then(|file| {
                    // libpq matches a socket connection as "localhost".
                    let host = if is_socket_dir(&host) {
                        "localhost"
                    } else {
                        &host
                    };
                    let entry = Entry {
                        host,
                        port: &port.to_string(),
                        dbname: &dbname,
                        user: &user,
                    };
                    let value = password_from_file(&file, &entry)?;
                    Some(Password {
                        value,
                        origin: format!("the password file {}", file.display()),
                    })
                }),
        };

        Ok(Settings {
            host,
            port,
            user,
            dbname,
            password,
            sslmode,
            sslrootcert,
            connect_timeout,
        })
    }

    /// Where this connects, printable because it leaves out the password.
    pub fn target(&self) -> Target {
        Target {
            host: self.host.clone(),
            port: self.port,
            user: self.user.clone(),
            dbname: self.dbname.clone(),
            sslmode: self.sslmode,
        }
    }

    /// Connects, explaining any failure with exit code 3.
    ///
    /// `postgres` applies `connect_timeout` to the TCP connect only. The whole
    /// attempt (name lookup, TLS, authentication) gets twice as long on a
    /// watchdog thread, so a port that accepts but never speaks PostgreSQL
    /// cannot hang the CLI.
    pub fn connect(&self) -> Result<postgres::Client> {
        let mut config = postgres::Config::new();
        if is_socket_dir(&self.host) {
            config.host_path(&self.host);
        } else {
            config.host(&self.host);
        }
        config
            .port(self.port)
            .user(&self.user)
            .dbname(&self.dbname)
            .application_name("credits")
            .connect_timeout(self.connect_timeout)
            .ssl_mode(match self.sslmode {
                SslMode::Disable => WireSslMode::Disable,
                SslMode::Prefer => WireSslMode::Prefer,
                SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => WireSslMode::Require,
            });
        if let Some(password) = &self.password {
            config.password(&password.value);
        }
        let tls = self.tls_config()?;

        let (done, outcome) = mpsc::channel();
        thread::spawn(move || {
            let result = match tls {
                None => config.connect(postgres::NoTls),
                Some(tls) => config.connect(MakeRustlsConnect::new(tls)),
            };
            // After the deadline nobody listens any more; dropping the
            // client then closes the late connection.
            let _ = done.send(result);
        });
        let deadline = self.connect_timeout * 2;
        match outcome.recv_timeout(deadline) {
            Ok(result) => result.map_err(|error| self.explain(&error)),
            Err(mpsc::RecvTimeoutError::Timeout) => Err(self.failure(format!(
                "{} did not complete the connection within {} s. Is a PostgreSQL server listening there, not another service? Check host and port (Supabase: port 5432 direct, 6543 transaction pooler).",
                self.target().address(),
                deadline.as_secs()
            ))),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(self.failure(format!(
                "the connection attempt to {} stopped unexpectedly (see the message above)",
                self.target().address()
            ))),
        }
    }

    /// The rustls configuration for the sslmode, or `None` for plain text.
    fn tls_config(&self) -> Result<Option<ClientConfig>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|error| database_error(format!("could not set up TLS: {error}")))?;
        let builder = match self.sslmode {
            SslMode::Disable => return Ok(None),
            SslMode::Prefer | SslMode::Require => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerification(provider))),
            SslMode::VerifyCa => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(ChainOnly(self.verifier(provider)?))),
            SslMode::VerifyFull => builder.with_webpki_verifier(self.verifier(provider)?),
        };
        Ok(Some(builder.with_no_client_auth()))
    }

    fn verifier(&self, provider: Arc<CryptoProvider>) -> Result<Arc<WebPkiServerVerifier>> {
        WebPkiServerVerifier::builder_with_provider(Arc::new(self.root_store()?), provider)
            .build()
            .map_err(|error| database_error(format!("could not set up TLS verification: {error}")))
    }

    /// The trust anchors for verify-ca/verify-full: the `sslrootcert` PEM file,
    /// or the system's roots when it is absent or `system`.
    fn root_store(&self) -> Result<RootCertStore> {
        let mut roots = RootCertStore::empty();
        match self.sslrootcert.as_deref() {
            None | Some("system") => {
                let found = rustls_native_certs::load_native_certs();
                let errors: Vec<String> = found.errors.iter().map(ToString::to_string).collect();
                let (added, _) = roots.add_parsable_certificates(found.certs);
                if added == 0 {
                    return Err(settings_error(format!(
                        "no trusted root certificates found on this system{}; give sslrootcert=/path/to/ca.crt",
                        if errors.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", errors.join("; "))
                        }
                    )));
                }
            }
            Some(file) => {
                let unreadable = |error: &dyn fmt::Display| {
                    settings_error(format!("could not read sslrootcert \"{file}\": {error}"))
                };
                let certs = CertificateDer::pem_file_iter(file)
                    .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                    .map_err(|error| unreadable(&error))?;
                if certs.is_empty() {
                    return Err(unreadable(&"it holds no PEM certificates"));
                }
                for cert in certs {
                    roots.add(cert).map_err(|error| unreadable(&error))?;
                }
            }
        }
        Ok(roots)
    }

    /// Turns a connect error into a message saying what failed and what to try.
    fn explain(&self, error: &postgres::Error) -> anyhow::Error {
        let at = self.target().address();
        let message = if let Some(db) = error.as_db_error() {
            match db.code().code() {
                "28P01" => format!(
                    "password authentication failed for user \"{}\" at {at}{}. Check the password in {CONNINFO_SOURCE}, PGPASSWORD or the password file (~/.pgpass).",
                    self.user,
                    self.password
                        .as_ref()
                        .map_or(String::new(), |p| format!(" (password from {})", p.origin)),
                ),
                "28000"
                    if self.sslmode == SslMode::Disable
                        && db.message().contains("no encryption") =>
                {
                    format!(
                        "{}. The server may require TLS: try sslmode=require; otherwise check pg_hba.conf / the user name.",
                        db.message()
                    )
                }
                "28000" => format!("{}. Check pg_hba.conf / the user name.", db.message()),
                "3D000" => format!(
                    "database \"{}\" does not exist on {at}. Check dbname in {CONNINFO_SOURCE} or PGDATABASE (it defaults to the user name).",
                    self.dbname
                ),
                code => format!(
                    "the server at {at} refused the connection: {} ({code})",
                    db.message()
                ),
            }
        } else if let Some(tls) = find::<rustls::Error>(error) {
            self.explain_tls(tls)
        } else if has_message(error, "server does not support TLS") {
            format!(
                "the server at {at} does not accept TLS connections, but sslmode={} asks for TLS; use sslmode=prefer or disable, or enable ssl on the server.",
                self.sslmode
            )
        } else if has_message(error, "password missing") {
            format!(
                "the server at {at} asks for a password for user \"{}\", but none was given: put it in {CONNINFO_SOURCE}, PGPASSWORD or the password file (~/.pgpass).",
                self.user
            )
        } else if [
            "bytes remaining on stream",
            "unexpected message from server",
            "error parsing response from server",
        ]
        .iter()
        .any(|text| has_message(error, text))
        {
            format!(
                "{at} did not answer like a PostgreSQL server ({}). Check host and port (Supabase: port 5432 direct, 6543 transaction pooler).",
                describe(error)
            )
        } else if let Some(io) = find::<io::Error>(error) {
            match io.kind() {
                io::ErrorKind::ConnectionRefused | io::ErrorKind::NotFound
                    if is_socket_dir(&self.host) =>
                {
                    format!(
                        "could not connect to {at}: {io}. Is PostgreSQL running on this machine? Otherwise set host / PGHOST to the server's address."
                    )
                }
                io::ErrorKind::ConnectionRefused => format!(
                    "could not connect to {at}: connection refused. Is PostgreSQL running there and accepting TCP connections? Check host and port (Supabase: port 5432 direct, 6543 transaction pooler)."
                ),
                io::ErrorKind::TimedOut => format!(
                    "no answer from {at} within {} s (connect_timeout). Check the host name, firewall, and network.",
                    self.connect_timeout.as_secs()
                ),
                _ if has_message(error, "failed to lookup address")
                    || has_message(error, "could not resolve any addresses") =>
                {
                    format!(
                        "could not resolve host \"{}\". Check the host name (Supabase: db.<project-ref>.supabase.co).",
                        self.host
                    )
                }
                _ => format!("could not connect to {at}: {}", describe(error)),
            }
        } else {
            format!("could not connect to {at}: {}", describe(error))
        };
        self.failure(message)
    }

    fn explain_tls(&self, error: &rustls::Error) -> String {
        let host = &self.host;
        let rustls::Error::InvalidCertificate(problem) = error else {
            return format!(
                "TLS handshake with {} failed: {error}",
                self.target().address()
            );
        };
        match problem {
            CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                let why = match (problem, self.sslrootcert.as_deref()) {
                    (CertificateError::BadSignature, _) => {
                        "a signature in it does not verify".to_owned()
                    }
                    (_, None | Some("system")) => {
                        "its issuer is not among the system's trusted roots".to_owned()
                    }
                    (_, Some(file)) => format!("its issuer is not in sslrootcert \"{file}\""),
                };
                format!(
                    "TLS verification failed for {host}: the server's certificate chain is not trusted ({why}). Supabase certificates chain to Supabase's own root CA: download it from the project's Database settings and use sslmode=verify-full sslrootcert=/path/to/prod-ca-2021.crt, or sslmode=require to encrypt without verifying."
                )
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                let presented = match problem {
                    CertificateError::NotValidForNameContext { presented, .. }
                        if !presented.is_empty() =>
                    {
                        let names: Vec<&str> =
                            presented.iter().map(|name| plain_name(name)).collect();
                        format!(" (it is for {})", names.join(", "))
                    }
                    _ => String::new(),
                };
                format!(
                    "TLS verification failed for {host}: the server's certificate does not match the host name \"{host}\"{presented}. Connect using a name on the certificate, or use sslmode=verify-ca to check only the chain."
                )
            }
            _ => format!("TLS verification failed for {host}: {error}"),
        }
    }

    /// A connection failure: the message, then where we tried to connect.
    fn failure(&self, message: String) -> anyhow::Error {
        database_error(format!("{message}\n  target: {}", self.target()))
    }
}

/// `localhost` from rustls's `DnsName("localhost")`, `127.0.0.1` from `IpAddress(127.0.0.1)`.
fn plain_name(presented: &str) -> &str {
    presented
        .strip_prefix("DnsName(\"")
        .and_then(|name| name.strip_suffix("\")"))
        .or_else(|| {
            presented
                .strip_prefix("IpAddress(")
                .and_then(|name| name.strip_suffix(')'))
        })
        .unwrap_or(presented)
}

/// Convenience used by main: resolve with the real environment, then connect.
pub fn connect(conninfo: Option<&str>) -> Result<(postgres::Client, Target)> {
    let settings = Settings::resolve(conninfo, &|key| std::env::var(key).ok())?;
    let client = settings.connect().map_err(|error| {
        // Nothing named a database: libpq's defaults were tried, which is
        // rarely what the operator meant (a pasted line without `export`).
        if conninfo.is_none() && std::env::var_os("PGHOST").is_none() {
            error.context(
                "DATABASE_URL is not set (nor --database-url, nor PGHOST), so credits tried libpq's \
                 defaults. Set it with: export DATABASE_URL='postgresql://...'",
            )
        } else {
            error
        }
    })?;
    Ok((client, settings.target()))
}

/// libpq's rule: a host starting with `/` is the directory of a Unix socket.
fn is_socket_dir(host: &str) -> bool {
    host.starts_with('/')
}

fn database_error(message: impl Into<String>) -> anyhow::Error {
    fail(Code::Database, message)
}

/// A connection string, environment variable or file that cannot be used as
/// given: the operator's input to correct, so a usage error (exit 2).
fn settings_error(message: impl Into<String>) -> anyhow::Error {
    fail(Code::Usage, message)
}

fn multiple_hosts() -> anyhow::Error {
    settings_error(format!(
        "multiple hosts or ports are not supported: give a single host and port in {CONNINFO_SOURCE} or PGHOST / PGPORT"
    ))
}

fn parse_port(value: &str) -> Result<u16> {
    if value.contains(',') {
        return Err(multiple_hosts());
    }
    value
        .trim()
        .parse()
        .ok()
        .filter(|&port| port != 0)
        .ok_or_else(|| settings_error(format!("invalid port \"{value}\": expected 1-65535")))
}

/// libpq semantics, with our default for 0: at least 2 s, since shorter
/// timeouts fail spuriously.
fn parse_connect_timeout(value: &str) -> Result<Duration> {
    let seconds: i64 = value.trim().parse().map_err(|_| {
        settings_error(format!(
            "invalid connect_timeout \"{value}\": expected whole seconds"
        ))
    })?;
    let seconds = u64::try_from(seconds)
        .ok()
        .filter(|&seconds| seconds > 0)
        .map_or(DEFAULT_CONNECT_TIMEOUT, |seconds| seconds.max(2));
    Ok(Duration::from_secs(seconds))
}

/// The first of libpq's usual socket directories where a server listens on
/// `port`, else `localhost`.
fn default_host(port: u16) -> String {
    ["/var/run/postgresql", "/tmp"]
        .into_iter()
        .find(|dir| Path::new(dir).join(format!(".s.PGSQL.{port}")).exists())
        .unwrap_or("localhost")
        .to_owned()
}

/// Parameters given in the connection string, before the environment and
/// defaults fill the gaps.
#[derive(Default)]
struct Params {
    host: Option<String>,
    hostaddr: Option<String>,
    port: Option<String>,
    user: Option<String>,
    password: Option<String>,
    dbname: Option<String>,
    sslmode: Option<String>,
    sslrootcert: Option<String>,
    connect_timeout: Option<String>,
}

impl Params {
    fn parse(conninfo: &str) -> Result<Params> {
        let mut params = Params::default();
        if let Some(rest) = ["postgresql://", "postgres://"]
            .into_iter()
            .find_map(|prefix| conninfo.strip_prefix(prefix))
        {
            params.parse_url(rest)?;
        } else if let Some((scheme, _)) = conninfo.split_once("://") {
            return Err(settings_error(format!(
                "unsupported URL scheme \"{scheme}\" in {CONNINFO_SOURCE}: use postgres://user:password@host:port/dbname or key=value pairs"
            )));
        } else {
            params.parse_keywords(conninfo)?;
        }
        Ok(params)
    }

    /// `[user[:password]@][host][:port][/dbname][?param=value&...]`, after the scheme.
    fn parse_url(&mut self, url: &str) -> Result<()> {
        let (authority, rest) = url.split_at(url.find(['/', '?']).unwrap_or(url.len()));
        // The last `@` ends the user info, which tolerates an unencoded `@` in a password.
        let host_port = match authority.rsplit_once('@') {
            Some((user_info, host_port)) => {
                let (user, password) = match user_info.split_once(':') {
                    Some((user, password)) => (user, Some(password)),
                    None => (user_info, None),
                };
                self.set("user", decode(user, "user name")?)?;
                if let Some(password) = password {
                    self.set("password", decode(password, "password")?)?;
                }
                host_port
            }
            None => authority,
        };
        if host_port.contains(',') {
            return Err(multiple_hosts());
        }
        let (host, port) = match host_port.strip_prefix('[') {
            Some(bracketed) => {
                let (host, after) = bracketed.split_once(']').ok_or_else(|| {
                    settings_error(format!(
                        "unterminated IPv6 address \"[{bracketed}\" in the database URL"
                    ))
                })?;
                let port = match after {
                    "" => None,
                    _ => Some(after.strip_prefix(':').ok_or_else(|| {
                        settings_error(format!(
                            "unexpected \"{after}\" after the IPv6 address in the database URL"
                        ))
                    })?),
                };
                (host, port)
            }
            None => match host_port.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (host_port, None),
            },
        };
        self.set("host", decode(host, "host")?)?;
        if let Some(port) = port {
            self.set("port", port.to_owned())?;
        }

        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        if let Some(dbname) = path.strip_prefix('/') {
            self.set("dbname", decode(dbname, "database name")?)?;
        }
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (key, value) = pair.split_once('=').ok_or_else(|| {
                settings_error(format!(
                    "missing \"=\" in URL parameter \"{}\"",
                    decode(pair, "parameter").unwrap_or_default()
                ))
            })?;
            self.set(
                &decode(key, "parameter name")?,
                decode(value, "parameter value")?,
            )?;
        }
        Ok(())
    }

    /// libpq's `key = value` pairs: whitespace separated, values optionally
    /// single-quoted, `\` escaping the next character.
    fn parse_keywords(&mut self, conninfo: &str) -> Result<()> {
        let mut chars = conninfo.chars().peekable();
        let skip_whitespace = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| {
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
        };
        loop {
            skip_whitespace(&mut chars);
            if chars.peek().is_none() {
                return Ok(());
            }
            let mut key = String::new();
            while let Some(c) = chars.next_if(|&c| c != '=' && !c.is_whitespace()) {
                key.push(c);
            }
            skip_whitespace(&mut chars);
            if chars.next() != Some('=') {
                return Err(settings_error(format!(
                    "missing \"=\" after \"{key}\" in {CONNINFO_SOURCE} (expected a postgres:// URL or key=value pairs)"
                )));
            }
            skip_whitespace(&mut chars);
            let mut value = String::new();
            if chars.next_if_eq(&'\'').is_some() {
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some('\\') => value.extend(chars.next()),
                        Some(c) => value.push(c),
                        None => {
                            return Err(settings_error(format!(
                                "unterminated quoted value for \"{key}\" in {CONNINFO_SOURCE}"
                            )));
                        }
                    }
                }
            } else {
                while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                    if c == '\\' {
                        value.extend(chars.next());
                    } else {
                        value.push(c);
                    }
                }
            }
            self.set(&key, value)?;
        }
    }

    fn set(&mut self, key: &str, value: String) -> Result<()> {
        let slot = match key {
            "host" => &mut self.host,
            "hostaddr" => &mut self.hostaddr,
            "port" => &mut self.port,
            "user" => &mut self.user,
            "password" => &mut self.password,
            "dbname" => &mut self.dbname,
            "sslmode" => &mut self.sslmode,
            "sslrootcert" => &mut self.sslrootcert,
            "connect_timeout" => &mut self.connect_timeout,
            // Accepted for compatibility with other tools' connection strings;
            // the application name is always "credits".
            "options"
            | "application_name"
            | "target_session_attrs"
            | "channel_binding"
            | "gssencmode" => return Ok(()),
            _ if key.starts_with("keepalives") => return Ok(()),
            "sslcert" | "sslkey" => {
                return Err(settings_error(format!(
                    "{key}: client certificates are not supported; remove {key} from {CONNINFO_SOURCE}"
                )));
            }
            _ => {
                return Err(settings_error(format!(
                    "unknown connection parameter \"{key}\" in {CONNINFO_SOURCE}"
                )));
            }
        };
        *slot = Some(value).filter(|value| !value.is_empty());
        Ok(())
    }
}

/// Percent-decodes one part of a database URL; `what` names it in errors
/// without echoing it, since it may be the password.
fn decode(part: &str, what: &str) -> Result<String> {
    percent_decode_str(part)
        .decode_utf8()
        .map(Cow::into_owned)
        .map_err(|_| {
            settings_error(format!(
                "the {what} in the database URL is not valid UTF-8 after percent-decoding"
            ))
        })
}

/// The connection a password-file line must match.
struct Entry<'a> {
    host: &'a str,
    port: &'a str,
    dbname: &'a str,
    user: &'a str,
}

/// The password for `entry` from a libpq password file, ignoring the file,
/// with libpq's warning, if others may read it.
fn password_from_file(file: &Path, entry: &Entry<'_>) -> Option<String> {
    let metadata = fs::metadata(file).ok()?;
    if !metadata.is_file() {
        crate::output::note(format!(
            "WARNING: password file \"{}\" is not a plain file",
            file.display()
        ));
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if metadata.permissions().mode() & 0o077 != 0 {
            crate::output::note(format!(
                "WARNING: password file \"{}\" has group or world access; permissions should be u=rw (0600) or less",
                file.display()
            ));
            return None;
        }
    }
    let contents = fs::read_to_string(file).ok()?;
    contents
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .find_map(|line| match_password_line(line, entry))
}

/// The password on a `hostname:port:database:username:password` line if the
/// line matches `entry`; `*` matches anything, `\` escapes `:` and `\`.
fn match_password_line(line: &str, entry: &Entry<'_>) -> Option<String> {
    let fields = split_password_line(line);
    let [host, port, dbname, user, password, ..] = fields.as_slice() else {
        return None;
    };
    let matches = |field: &Field, wanted: &str| field.wildcard || field.text == wanted;
    (matches(host, entry.host)
        && matches(port, entry.port)
        && matches(dbname, entry.dbname)
        && matches(user, entry.user)
        && !password.text.is_empty())
    .then(|| password.text.clone())
}

struct Field {
    text: String,
    /// An unescaped lone `*`.
    wildcard: bool,
}

/// Splits a password-file line at unescaped colons, undoing the escapes.
fn split_password_line(line: &str) -> Vec<Field> {
    let mut fields = Vec::new();
    let mut text = String::new();
    let mut escaped = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                text.push(chars.next().unwrap_or('\\'));
                escaped = true;
            }
            ':' => {
                let wildcard = !escaped && text == "*";
                fields.push(Field {
                    text: std::mem::take(&mut text),
                    wildcard,
                });
                escaped = false;
            }
            c => text.push(c),
        }
    }
    let wildcard = !escaped && text == "*";
    fields.push(Field { text, wildcard });
    fields
}

/// The error and its causes. It looks inside `io::Error`s, whose `source()`
/// skips the error they wrap; tokio-rustls hides `rustls::Error` there.
fn causes<'a>(
    error: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(error), |&error| {
        match error
            .downcast_ref::<io::Error>()
            .and_then(io::Error::get_ref)
        {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => error.source(),
        }
    })
}

fn find<T: StdError + 'static>(error: &postgres::Error) -> Option<&T> {
    causes(error).find_map(|cause| cause.downcast_ref::<T>())
}

/// The error with its causes, since `postgres::Error` shows only its kind.
fn describe(error: &postgres::Error) -> String {
    let mut parts: Vec<String> = causes(error).map(ToString::to_string).collect();
    // An `io::Error` shows the error it wraps, which comes next in the chain.
    parts.dedup();
    parts.join(": ")
}

/// Last resort for errors `postgres` only reports as text.
fn has_message(error: &postgres::Error, text: &str) -> bool {
    causes(error).any(|cause| cause.to_string().contains(text))
}

/// Accepts any certificate but still checks the handshake signatures: libpq's
/// prefer/require, which encrypt without authenticating the server.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Verifies the chain but not the host name: libpq's verify-ca. webpki checks
/// the name last, so a name mismatch means the chain was fine.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::code_of;
    use std::collections::HashMap;
    use std::os::unix::fs::PermissionsExt;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Resolves with exactly `vars` as the environment.
    fn resolve(conninfo: Option<&str>, vars: &[(&str, &str)]) -> Result<Settings> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|&(key, value)| (key.to_owned(), value.to_owned()))
            .collect();
        Settings::resolve(conninfo, &move |key| vars.get(key).cloned())
    }

    fn resolved(conninfo: &str) -> Settings {
        resolve(Some(conninfo), &[]).unwrap()
    }

    fn error(conninfo: &str) -> String {
        let error = resolve(Some(conninfo), &[]).err().expect("should fail");
        assert_eq!(code_of(&error), Code::Usage);
        error.to_string()
    }

    fn password(settings: &Settings) -> Option<&str> {
        settings.password.as_ref().map(|p| p.value.as_str())
    }

    /// A directory under the temp dir, removed with its files when dropped.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> TempDir {
            static COUNT: AtomicUsize = AtomicUsize::new(0);
            let path = std::env::temp_dir().join(format!(
                "credits-connect-test-{}-{}",
                std::process::id(),
                COUNT.fetch_add(1, Ordering::Relaxed)
            ));
            fs::create_dir(&path).unwrap();
            TempDir(path)
        }

        fn file(&self, name: &str, contents: &str, mode: u32) -> String {
            let path = self.0.join(name);
            fs::write(&path, contents).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            path.to_str().unwrap().to_owned()
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn url_parts_are_percent_decoded() {
        let settings = resolved(
            "postgresql://app%40corp:p%40ss%3Aw%2Frd@db.example.com:6543/my%20db?sslmode=verify-full&connect_timeout=5&application_name=x",
        );
        assert_eq!(settings.host, "db.example.com");
        assert_eq!(settings.port, 6543);
        assert_eq!(settings.user, "app@corp");
        assert_eq!(password(&settings), Some("p@ss:w/rd"));
        assert_eq!(settings.dbname, "my db");
        assert_eq!(settings.sslmode, SslMode::VerifyFull);
        assert_eq!(settings.connect_timeout, Duration::from_secs(5));
    }

    #[test]
    fn url_accepts_ipv6_unencoded_at_and_socket_hosts() {
        let settings = resolve(Some("postgres://[::1]:5433"), &[("USER", "alice")]).unwrap();
        assert_eq!(settings.host, "::1");
        assert_eq!(
            settings.target().to_string(),
            "alice@[::1]:5433/alice (sslmode=prefer)"
        );

        let settings = resolved("postgres://me:p@ss@db.example.com/credits");
        assert_eq!(password(&settings), Some("p@ss"));
        assert_eq!(settings.host, "db.example.com");

        let settings =
            resolved("postgres://%2Fvar%2Frun%2Fpostgresql:5433/credits?sslmode=require");
        assert_eq!(settings.host, "/var/run/postgresql");
        assert_eq!(settings.sslmode, SslMode::Disable, "no TLS on sockets");
        let settings = resolved("postgres:///credits?host=/tmp/sockets");
        assert_eq!(settings.host, "/tmp/sockets");
        assert_eq!(settings.dbname, "credits");
    }

    #[test]
    fn url_errors_are_clear_and_hide_the_password() {
        assert!(error("postgres://a:5432,b:5432/db").contains("multiple hosts"));
        assert!(error("postgres://a,b/db").contains("multiple hosts"));
        assert!(error("postgres://h:abc/db").contains("invalid port \"abc\""));
        assert!(error("postgres://h/db?ssl=true").contains("unknown connection parameter \"ssl\""));
        assert!(
            error("postgres://h/db?sslcert=c.pem")
                .contains("client certificates are not supported")
        );
        assert!(error("postgres://h/db?sslmode=allow").contains("sslmode=allow is not supported"));
        let message = error("mysql://me:s3cret@h/db");
        assert!(
            message.contains("unsupported URL scheme \"mysql\""),
            "{message}"
        );
        assert!(!message.contains("s3cret"));
    }

    #[test]
    fn keyword_values_may_be_quoted_and_escaped() {
        let settings = resolved(
            r"host=db.example.com port = 5433 user='o\'brien' password='a b\\c' dbname=x\ y sslmode=require",
        );
        assert_eq!(settings.host, "db.example.com");
        assert_eq!(settings.port, 5433);
        assert_eq!(settings.user, "o'brien");
        assert_eq!(password(&settings), Some(r"a b\c"));
        assert_eq!(settings.dbname, "x y");
        assert_eq!(settings.sslmode, SslMode::Require);
    }

    #[test]
    fn keyword_errors_name_the_key_but_not_the_value() {
        assert!(error("host=h bogus=1").contains("unknown connection parameter \"bogus\""));
        assert!(error("host=h dbname").contains("missing \"=\" after \"dbname\""));
        assert!(
            error("host=h sslkey=k.pem").contains("sslkey: client certificates are not supported")
        );
        let message = error("host=h password='s3cret");
        assert!(message.contains("unterminated quoted value for \"password\""));
        assert!(!message.contains("s3cret"));
    }

    #[test]
    fn other_tools_keys_are_ignored() {
        let settings = resolved(
            r"host=h options='-c statement_timeout=5s' application_name=psql target_session_attrs=read-write channel_binding=prefer gssencmode=disable keepalives=1 keepalives_idle=30",
        );
        assert_eq!(settings.host, "h");
    }

    #[test]
    fn conninfo_wins_over_environment_which_wins_over_defaults() {
        let env = [
            ("PGHOST", "envhost"),
            ("PGPORT", "55411"),
            ("PGUSER", "envuser"),
            ("PGDATABASE", "envdb"),
            ("PGSSLMODE", "require"),
            ("PGPASSWORD", "envpw"),
            ("PGCONNECT_TIMEOUT", "30"),
            ("USER", "shelluser"),
        ];
        let settings = resolve(Some("host=given user=me sslmode=disable"), &env).unwrap();
        assert_eq!(settings.host, "given");
        assert_eq!(settings.port, 55411);
        assert_eq!(settings.user, "me");
        assert_eq!(settings.dbname, "envdb");
        assert_eq!(settings.sslmode, SslMode::Disable);
        assert_eq!(password(&settings), Some("envpw"));
        assert_eq!(settings.connect_timeout, Duration::from_secs(30));

        let settings = resolve(Some("postgres://"), &env).unwrap();
        assert_eq!(settings.host, "envhost");
        assert_eq!(settings.user, "envuser");
        assert_eq!(settings.sslmode, SslMode::Require);

        // No socket listens on 55411 in /var/run/postgresql or /tmp.
        let defaults = [("PGPORT", "55411"), ("PGHOST", ""), ("USER", "shelluser")];
        let settings = resolve(None, &defaults).unwrap();
        assert_eq!(settings.host, "localhost");
        assert_eq!(settings.user, "shelluser");
        assert_eq!(settings.dbname, "shelluser");
        assert_eq!(settings.sslmode, SslMode::Prefer);
        assert!(settings.password.is_none());
        assert_eq!(settings.connect_timeout, Duration::from_secs(10));

        let settings = resolve(None, &[("PGHOSTADDR", "10.0.0.1")]).unwrap();
        assert_eq!((settings.host.as_str(), settings.port), ("10.0.0.1", 5432));
        assert_eq!(settings.user, "postgres");
    }

    #[test]
    fn connect_timeout_follows_libpq() {
        let timeout = |value: &str| resolved(&format!("connect_timeout={value}")).connect_timeout;
        assert_eq!(timeout("0"), Duration::from_secs(10));
        assert_eq!(timeout("-5"), Duration::from_secs(10));
        assert_eq!(timeout("1"), Duration::from_secs(2));
        assert_eq!(timeout("45"), Duration::from_secs(45));
        assert!(error("connect_timeout=soon").contains("invalid connect_timeout"));
    }

    #[test]
    fn password_file_matches_with_wildcards_and_escapes() {
        let dir = TempDir::new();
        let file = dir.file(
            "pgpass",
            concat!(
                "# db.example.com:*:*:*:commented\n",
                "db.example.com:5432:other:me:wrong-db\n",
                "\\*:*:*:*:escaped-star-is-literal\n",
                "db.example.com:*:credits:me:right\\:pa\\\\ss\n",
                "\\:\\:1:*:*:*:ipv6\n",
                "localhost:5432:*:*:socket\n",
                "*:*:*:*:fallback\n",
            ),
            0o600,
        );
        let env = [("PGPASSFILE", file.as_str())];
        let lookup = |conninfo: &str| {
            let settings = resolve(Some(conninfo), &env).unwrap();
            settings.password.map(|p| (p.value, p.origin))
        };
        let (value, origin) = lookup("host=db.example.com dbname=credits user=me").unwrap();
        assert_eq!(value, r"right:pa\ss");
        assert_eq!(origin, format!("the password file {file}"));
        assert_eq!(lookup("host=::1 dbname=x user=y").unwrap().0, "ipv6");
        assert_eq!(
            lookup("host=/tmp/nowhere dbname=x user=y").unwrap().0,
            "socket"
        );
        assert_eq!(
            lookup("host=elsewhere dbname=x user=y").unwrap().0,
            "fallback"
        );

        // The connection string and PGPASSWORD come first.
        let settings = resolve(Some("host=h password=given"), &env).unwrap();
        assert_eq!(password(&settings), Some("given"));
        let settings = resolve(Some("host=h"), &[env[0], ("PGPASSWORD", "env")]).unwrap();
        assert_eq!(password(&settings), Some("env"));

        // $HOME/.pgpass when PGPASSFILE is unset; a missing file is no error.
        dir.file(".pgpass", "*:*:*:*:from-home\n", 0o600);
        let home = dir.0.to_str().unwrap();
        let settings = resolve(Some("host=h"), &[("HOME", home)]).unwrap();
        assert_eq!(password(&settings), Some("from-home"));
        let settings = resolve(Some("host=h"), &[("HOME", "/nonexistent")]).unwrap();
        assert!(settings.password.is_none());
    }

    #[test]
    fn password_file_readable_by_others_is_ignored() {
        let dir = TempDir::new();
        for mode in [0o640, 0o604] {
            let file = dir.file("pgpass", "*:*:*:*:exposed\n", mode);
            let settings = resolve(Some("host=h"), &[("PGPASSFILE", file.as_str())]).unwrap();
            assert!(settings.password.is_none(), "mode {mode:o}");
        }
        let not_a_file = dir.0.to_str().unwrap();
        let settings = resolve(Some("host=h"), &[("PGPASSFILE", not_a_file)]).unwrap();
        assert!(settings.password.is_none());
    }

    #[test]
    fn require_with_root_certificate_means_verify_ca() {
        let sslmode =
            |conninfo: &str, vars: &[(&str, &str)]| resolve(Some(conninfo), vars).unwrap().sslmode;
        assert_eq!(
            sslmode("host=h sslmode=require sslrootcert=/ca.pem", &[]),
            SslMode::VerifyCa
        );
        assert_eq!(
            sslmode("host=h sslmode=require", &[("PGSSLROOTCERT", "/ca.pem")]),
            SslMode::VerifyCa
        );
        assert_eq!(sslmode("host=h sslmode=require", &[]), SslMode::Require);
        assert_eq!(
            sslmode("host=h sslmode=verify-full sslrootcert=system", &[]),
            SslMode::VerifyFull
        );
        assert_eq!(
            resolved("host=h sslmode=require sslrootcert=/ca.pem")
                .target()
                .to_string(),
            "postgres@h:5432/postgres (sslmode=verify-ca)"
        );
    }

    #[test]
    fn bad_root_certificate_files_are_named() {
        let settings = resolved("host=h sslmode=verify-full sslrootcert=/nonexistent/ca.pem");
        let message = settings.tls_config().err().unwrap().to_string();
        assert!(
            message.contains("could not read sslrootcert \"/nonexistent/ca.pem\""),
            "{message}"
        );

        let dir = TempDir::new();
        let file = dir.file("ca.pem", "not a certificate\n", 0o644);
        let settings = resolved(&format!("host=h sslmode=verify-ca sslrootcert={file}"));
        let message = settings.tls_config().err().unwrap().to_string();
        assert!(
            message.contains(&file) && message.contains("holds no PEM certificates"),
            "{message}"
        );
    }

    #[test]
    fn target_display_never_shows_the_password() {
        let settings =
            resolved("postgres://me:s3cret@db.example.com:5432/postgres?sslmode=require");
        let target = settings.target();
        assert_eq!(
            target.to_string(),
            "me@db.example.com:5432/postgres (sslmode=require)"
        );
        assert!(!format!("{target:?}").contains("s3cret"));
    }
}
