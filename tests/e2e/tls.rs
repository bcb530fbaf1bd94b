//! TLS against a throwaway server of its own: ssl=on with a certificate
//! from a CA made at test time (`openssl`), TCP only through `hostssl` with
//! a scram password.

use std::path::{Path, PathBuf};
use std::process::Command;

use credits::cluster::{LocalCluster, Options};

use crate::harness::{Run, credits_with_env};

const PASSWORD: &str = "Tls-test-pw-81";

/// A CA and a server certificate for 127.0.0.1, made with the openssl CLI.
fn make_certificates(dir: &Path) -> (PathBuf, Vec<u8>, Vec<u8>) {
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("running openssl (Debian: apt-get install -y openssl; .ci/run does)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
    openssl(
        &[
            &["req", "-x509", "-nodes", "-days", "2"][..],
            &ec,
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
                "-subj",
                "/CN=credits test CA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req", "-nodes"][..],
            &ec,
            &[
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        ]
        .concat(),
    );
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-set_serial",
        "2",
        "-days",
        "2",
        "-extfile",
        "server.ext",
        "-out",
        "server.crt",
    ]);
    (
        dir.join("ca.crt"),
        std::fs::read(dir.join("server.crt")).unwrap(),
        std::fs::read(dir.join("server.key")).unwrap(),
    )
}

fn status(conninfo: &str) -> Run {
    credits_with_env(
        &["status", "--output", "json"],
        &[("DATABASE_URL", conninfo)],
    )
}

#[test]
fn tls_modes_against_a_server_that_requires_tls() {
    let dir = std::env::temp_dir().join(format!("credits-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (ca, cert, key) = make_certificates(&dir);
    let cluster = LocalCluster::start_with(
        false,
        &Options {
            settings: vec![
                ("ssl".into(), "on".into()),
                ("ssl_cert_file".into(), "server.crt".into()),
                ("ssl_key_file".into(), "server.key".into()),
                ("password_encryption".into(), "scram-sha-256".into()),
            ],
            hba: Some("local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n".into()),
            files: vec![("server.crt".into(), cert), ("server.key".into(), key)],
        },
    )
    .expect("starting a TLS-only PostgreSQL");
    let mut admin =
        postgres::Client::connect(&cluster.socket_conninfo("postgres"), postgres::NoTls).unwrap();
    // The password is a bind parameter's value turned into a literal by the server.
    let set = admin
        .query_one(
            "SELECT format('ALTER ROLE postgres PASSWORD %L', $1::text)",
            &[&PASSWORD],
        )
        .unwrap()
        .get::<_, String>(0);
    admin.batch_execute(&set).unwrap();

    let ca = ca.display().to_string();
    let base = format!(
        "host=127.0.0.1 port={} user=postgres dbname=postgres connect_timeout=5",
        cluster.port()
    );
    let with = |extra: &str| format!("{base} password={PASSWORD} {extra}");

    let require = status(&with("sslmode=require"));
    assert_eq!(require.code, 0, "sslmode=require connects: {require:?}");
    assert!(
        require.json()["database"]
            .as_str()
            .unwrap()
            .contains("sslmode=require"),
        "{require:?}"
    );

    let unverified = status(&with("sslmode=verify-full"));
    assert_eq!(unverified.code, 3, "{unverified:?}");
    assert!(
        unverified.stderr.contains("not trusted") && unverified.stderr.contains("sslrootcert="),
        "verify-full without sslrootcert says how to fix it: {unverified:?}"
    );

    let verified = status(&with(&format!("sslmode=verify-full sslrootcert={ca}")));
    assert_eq!(
        verified.code, 0,
        "verify-full with the CA connects: {verified:?}"
    );

    let plain = status(&with("sslmode=disable"));
    assert_eq!(plain.code, 3, "{plain:?}");
    assert!(
        plain.stderr.contains("sslmode=require"),
        "sslmode=disable against a TLS-only server says to use TLS: {plain:?}"
    );

    let wrong = status(&format!("{base} password=Wrong-pw-5531 sslmode=require"));
    assert_eq!(wrong.code, 3, "{wrong:?}");
    assert!(
        wrong.stderr.contains("password authentication failed"),
        "{wrong:?}"
    );
    for run in [&require, &unverified, &verified, &plain, &wrong] {
        for secret in [PASSWORD, "Wrong-pw-5531"] {
            assert!(
                !run.stdout.contains(secret) && !run.stderr.contains(secret),
                "the password is never printed: {run:?}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
