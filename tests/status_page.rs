//! The status page in a real browser (Debian's chromium, headless, over
//! the DevTools protocol) while livepush pushes to a real nginx-rtmp: the
//! page asks for the token once, shows LIVE in the status LED's colour,
//! its figures and graph move with the event stream, the camera's picture
//! loads; clicking Pause shows PAUSED on the page and 1201 in the event
//! stream, Resume brings LIVE and 1202 back. The page throws nothing and
//! breaks no content-security rule, and it fits a phone's width.
//! Screenshots are kept in target/test-artefacts/ (status-page.png is
//! README's picture; -paused and -phone beside it).

mod common;

use std::time::Duration;

use common::browser::Browser;
use common::*;

const KEY: &str = "page-cam?token=PAGESECRETKEY";
const TOKEN: &str = "page-T0KEN-abcdef0123";

#[test]
fn the_status_page_shows_the_box_and_steers_it_in_a_real_browser() {
    need("nginx");
    if common::browser::chromium().is_none() {
        panic!("chromium is not installed: bash scripts/deps.sh tests");
    }
    let dir = tempfile::tempdir().unwrap();
    let nginx = Nginx::start(dir.path(), "");
    let api = free_port();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let cfg = format!(
        "url = \"rtmp://127.0.0.1:{}/live/{KEY}\"\nautopush = true\nmode = \"RTC\"\n[video]\nwidth = 320\nheight = 180\nfps = 10\n[audio]\ndevice = \"sine\"\n[control]\nlisten = \"tcp:127.0.0.1:{api}\"\ntoken-file = \"{}\"\n",
        nginx.rtmp_port,
        token_file.display()
    );
    let r = Running::start(dir.path(), &cfg);
    r.wait_code(1002, 0, Duration::from_secs(20));
    wait_listening(api, Duration::from_secs(5));

    let mut b = Browser::start(dir.path(), 1000, 1300);
    b.open(&format!("http://127.0.0.1:{api}/"));
    // the first call is refused without the token: the page asks for it once
    b.wait_for(
        "!document.getElementById('token-form').hidden",
        Duration::from_secs(10),
    );
    b.click("#token");
    b.type_text(TOKEN);
    b.click("#token-form button");
    b.wait_for(
        "document.getElementById('headline').textContent === 'LIVE'",
        Duration::from_secs(15),
    );
    assert_eq!(
        b.eval("getComputedStyle(document.getElementById('headline')).backgroundColor"),
        "rgb(0, 255, 0)",
        "the status LED's green"
    );
    assert_eq!(b.eval("localStorage.getItem('livepush-token')"), TOKEN);
    assert!(b.eval("document.getElementById('token-form').hidden") == true);

    // the figures move with the event stream
    let figures = "['f-video','f-audio','f-net','f-fps','f-size','f-uptime'].map(i => document.getElementById(i).textContent).join(' | ')";
    b.wait_for("series.length >= 2", Duration::from_secs(10));
    let (first, n1) = (b.eval(figures), b.eval("series.length"));
    std::thread::sleep(Duration::from_millis(3200));
    let (second, n2) = (b.eval(figures), b.eval("series.length"));
    assert_ne!(first, second, "the figures changed");
    assert!(
        n2.as_u64().unwrap() >= n1.as_u64().unwrap() + 2,
        "netstatus events reached the graph: {n1} -> {n2}"
    );
    let s = second.as_str().unwrap();
    assert!(s.contains("320×180") && s.contains("fps"), "{s}");
    assert_eq!(
        b.eval("document.getElementById('f-encoder').textContent"),
        "openh264"
    );
    // the camera's picture (a snapshot every few seconds)
    b.wait_for(
        "document.getElementById('snap').naturalWidth > 0",
        Duration::from_secs(10),
    );
    assert!(b
        .eval("document.querySelectorAll('#codes tr').length >= 5")
        .as_bool()
        .unwrap());
    assert!(b
        .eval("[...document.querySelectorAll('#codes td.code')].some(td => td.textContent === '1002')")
        .as_bool()
        .unwrap());

    // Pause: the page and the event stream both show it
    let before = r.events().len();
    b.click("button[data-cmd=pause]");
    b.wait_for(
        "document.getElementById('headline').textContent === 'PAUSED'",
        Duration::from_secs(10),
    );
    r.wait_code(1201, before, Duration::from_secs(5));
    b.wait_for(
        "document.querySelector('#codes td.code').textContent === '1201'",
        Duration::from_secs(5),
    );
    assert!(b
        .eval("document.getElementById('msg').textContent")
        .as_str()
        .unwrap()
        .starts_with("pause: done"));
    let paused_shot = b.screenshot();

    // Resume: LIVE again
    let before = r.events().len();
    b.click("button[data-cmd=resume]");
    b.wait_for(
        "document.getElementById('headline').textContent === 'LIVE'",
        Duration::from_secs(10),
    );
    r.wait_code(1202, before, Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(4500)); // a fresh picture, a longer graph
    let shot = b.screenshot();
    assert!(shot.starts_with(b"\x89PNG\r\n\x1a\n") && shot.len() > 10_000);
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("test-artefacts");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("status-page.png"), &shot).unwrap();
    std::fs::write(out.join("status-page-paused.png"), &paused_shot).unwrap();

    // a phone's screen: everything fits its width (no sideways scrolling)
    b.call(
        "Emulation.setDeviceMetricsOverride",
        serde_json::json!({"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": true}),
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        b.eval("document.documentElement.scrollWidth <= window.innerWidth"),
        true,
        "the page fits a phone's width: {}",
        b.eval("document.documentElement.scrollWidth + ' > ' + window.innerWidth")
    );
    let phone = b.screenshot();
    std::fs::write(out.join("status-page-phone.png"), &phone).unwrap();

    let errors = b.page_errors();
    assert!(errors.is_empty(), "the page reported errors: {errors:?}");
    drop(b);
    let out = r.stop();
    out.assert_secret_hidden("PAGESECRETKEY");
    out.assert_secret_hidden(TOKEN);
}
