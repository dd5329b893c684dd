//! RTMPS against real parts: nginx's stream module terminating TLS in front
//! of the rtmp module, with a CA and server certificates made by openssl at
//! test time. A trusted certificate for the right name publishes; a wrong
//! host name and an untrusted issuer are refused with errors naming the host,
//! and nothing is ever sent in clear.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

const SECRET: &str = "TLSKEY-5150";

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl is not installed (apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A test CA, and a server certificate signed by it for `name` (DNS) and
/// 127.0.0.1. Returns (ca.pem, cert, key).
fn make_pki(dir: &Path, name: &str) -> (PathBuf, PathBuf, PathBuf) {
    make_pki_dated(dir, name, None)
}

/// [`make_pki`] with the server certificate valid only between the two
/// dates (`YYYYMMDDHHMMSSZ`; signed with `openssl ca`, which sets them).
fn make_pki_dated(
    dir: &Path,
    name: &str,
    dates: Option<(&str, &str)>,
) -> (PathBuf, PathBuf, PathBuf) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut a = vec!["req", "-x509"];
    a.extend(ec);
    a.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=livepush test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(dir, &a);
    let mut a = vec!["req"];
    a.extend(ec);
    let subj = format!("/CN={name}");
    a.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        &subj,
    ]);
    openssl(dir, &a);
    std::fs::write(
        dir.join("server.ext"),
        format!("subjectAltName=DNS:{name}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n"),
    )
    .unwrap();
    // signed by the CA: for two days from now, or between the given dates
    // (`openssl ca`, which sets them, with a minimal CA configuration)
    let mut args: Vec<&str> = match dates {
        None => vec![
            "x509",
            "-req",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
        ],
        Some((start, end)) => {
            std::fs::write(
                dir.join("ca.cnf"),
                "[ca]\ndefault_ca = test\n[test]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\ndefault_md = sha256\npolicy = any\n[any]\ncommonName = supplied\n",
            )
            .unwrap();
            std::fs::write(dir.join("index.txt"), "").unwrap();
            std::fs::write(dir.join("serial"), "1000\n").unwrap();
            vec![
                "ca",
                "-batch",
                "-notext",
                "-config",
                "ca.cnf",
                "-cert",
                "ca.pem",
                "-keyfile",
                "ca.key",
                "-startdate",
                start,
                "-enddate",
                end,
            ]
        }
    };
    args.extend([
        "-in",
        "server.csr",
        "-out",
        "server.pem",
        "-extfile",
        "server.ext",
    ]);
    openssl(dir, &args);
    (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    )
}

fn config(port: u16, ca: Option<&Path>) -> String {
    let ca = ca.map_or(String::new(), |p| {
        format!("[network]\nca-file = \"{}\"\n", p.display())
    });
    format!(
        "url = \"rtmps://localhost:{port}/live/cam?token={SECRET}\"\nautopush = true\nmode = \"SD\"\norientation = \"horizontal\"\n[video]\ndevice = \"test-pattern\"\n[audio]\ndevice = \"sine\"\nsample-rate = 44100\nchannels = 2\n{ca}"
    )
}

#[test]
fn rtmps_through_nginx_tls_with_a_private_ca_publishes_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = make_pki(dir.path(), "localhost");
    let nginx = Nginx::start_tls(dir.path(), &cert, &key);
    let p = push(dir.path(), &config(nginx.tls_port.unwrap(), Some(&ca)), 8.0);
    assert!(p.status.success(), "{}", p.stderr);
    p.assert_secret_hidden(SECRET);
    assert_eq!(
        p.codes(),
        vec![1003, 1007, 1008, 1001, 1002],
        "{}",
        p.stdout
    );
    drop(nginx);
    let rec = Nginx::recordings_in(dir.path());
    assert_eq!(rec.len(), 1, "{rec:?}");
    check_recording(
        &rec[0],
        &Expect {
            width: 640,
            height: 360,
            fps: 25.0,
            seconds: 8.0,
            sample_rate: 44100,
            channels: 2,
        },
    );
}

/// Pushes for a few seconds and returns the 3003 details (the TLS refusals).
fn refused(cfg: &str, dir: &Path) -> Vec<String> {
    let p = push(dir, cfg, 3.0);
    p.assert_secret_hidden(SECRET);
    assert!(
        !p.codes().contains(&1002),
        "never publishes over a refused TLS session: {}",
        p.stdout
    );
    p.events
        .iter()
        .filter(|e| e["event"] == "statechange" && e["code"] == 3003)
        .map(|e| e["detail"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn a_certificate_for_another_host_is_refused_naming_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = make_pki(dir.path(), "camera-server.example");
    let nginx = Nginx::start_tls(dir.path(), &cert, &key);
    let port = nginx.tls_port.unwrap();
    let details = refused(&config(port, Some(&ca)), dir.path());
    println!("{details:?}");
    assert!(!details.is_empty(), "3003 for a wrong host name");
    for d in &details {
        assert!(d.contains(&format!("TLS with localhost:{port}")), "{d}");
        assert!(d.contains("not valid for name"), "{d}");
    }
    drop(nginx);
    assert!(
        Nginx::recordings_in(dir.path()).is_empty(),
        "nothing reached the server"
    );
}

#[test]
fn an_untrusted_issuer_is_refused_naming_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let (_, cert, key) = make_pki(dir.path(), "localhost");
    let nginx = Nginx::start_tls(dir.path(), &cert, &key);
    let port = nginx.tls_port.unwrap();
    // no ca-file: the system's CA bundle, which does not know the test CA
    let details = refused(&config(port, None), dir.path());
    println!("{details:?}");
    assert!(!details.is_empty(), "3003 for an unknown issuer");
    for d in &details {
        assert!(d.contains(&format!("TLS with localhost:{port}")), "{d}");
        assert!(d.contains("UnknownIssuer"), "{d}");
    }
    drop(nginx);
    assert!(Nginx::recordings_in(dir.path()).is_empty());
}

/// A certificate whose dates do not cover this box's clock (valid from
/// 2099): refused, and the refusal says what the clock reads, so a box
/// that booted without a real-time clock (1970 until NTP answers) is told
/// apart from a bad server.
#[test]
fn a_certificate_not_valid_yet_is_refused_saying_what_the_clock_reads() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = make_pki_dated(
        dir.path(),
        "localhost",
        Some(("20990101000000Z", "21000101000000Z")),
    );
    let nginx = Nginx::start_tls(dir.path(), &cert, &key);
    let port = nginx.tls_port.unwrap();
    let details = refused(&config(port, Some(&ca)), dir.path());
    println!("{details:?}");
    assert!(!details.is_empty(), "3003 for a certificate not valid yet");
    let year = String::from_utf8(
        Command::new("date")
            .args(["-u", "+%Y"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    for d in &details {
        assert!(d.contains(&format!("TLS with localhost:{port}")), "{d}");
        assert!(d.contains("certificate not valid yet"), "{d}");
        assert!(
            d.contains(&format!("this box's clock reads {}-", year.trim())),
            "{d}"
        );
        // the branch that matches what the kernel says of this clock
        if kernel_says_synchronised() {
            assert!(d.contains(", synchronised)"), "{d}");
        } else {
            assert!(d.contains("is not synchronised, so it may be wrong"), "{d}");
        }
    }
    drop(nginx);
    assert!(Nginx::recordings_in(dir.path()).is_empty());
}

/// The waiting image over https:// (nginx's stream module terminating TLS
/// in front of its http server): fetched with the private CA of
/// `[network] ca-file`; with the system roots the certificate is refused,
/// naming the reason, and the generated card stands in (no cache here).
#[test]
fn a_waiting_image_over_https_is_fetched_with_the_private_ca_and_refused_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = make_pki(dir.path(), "localhost");
    let nginx = Nginx::start_tls(dir.path(), &cert, &key);
    flat_image(&dir.path().join("files/w.png"), "blue", 320, 180);
    let url = format!(
        "https://localhost:{}/files/w.png?sig={SECRET}",
        nginx.https_port.unwrap()
    );
    let cache = dir.path().join("cache");
    std::fs::create_dir(&cache).unwrap();
    let check = |ca: Option<&Path>| {
        let ca = ca.map_or(String::new(), |p| {
            format!("[network]\nca-file = \"{}\"\n", p.display())
        });
        let f = dir.path().join("c.toml");
        std::fs::write(
            &f,
            format!("url = \"rtmp://127.0.0.1:9/live/k\"\nwaiting-image = \"{url}\"\n{ca}"),
        )
        .unwrap();
        let out = Command::new(bin())
            .arg("check-config")
            .arg(&f)
            .env("CACHE_DIRECTORY", &cache)
            .env("RUST_LOG", "info")
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    // the system roots first (nothing cached yet): refused, the card
    let err = check(None);
    assert!(
        err.contains("TLS: invalid peer certificate") && err.contains("the generated card"),
        "{err}"
    );
    let err = check(Some(&ca));
    assert!(err.contains("/files/w.png?<hidden>: fetched"), "{err}");
    assert!(!err.contains(SECRET));
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 1, "cached");
}

/// What adjtimex says of this machine's clock (read-only: modes 0), as
/// livepush reads it.
fn kernel_says_synchronised() -> bool {
    // SAFETY: adjtimex with modes 0 only fills the struct we own.
    let state = unsafe {
        let mut t: libc::timex = std::mem::zeroed();
        libc::adjtimex(&mut t)
    };
    state >= 0 && state != libc::TIME_ERROR
}
