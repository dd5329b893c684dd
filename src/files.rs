//! Reading files a person or a peer controls (the config, board profiles, the
//! CA file, the waiting image, the stream key file): [`read_regular`] opens without blocking (a
//! FIFO or a device never hangs the start), takes only regular files, and
//! refuses one over its limit before reading it. Errors name the file.

use std::fs::OpenOptions;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};

/// The largest config file read.
pub const CONFIG_LIMIT: u64 = 1024 * 1024;
/// The largest board profile read.
pub const BOARD_LIMIT: u64 = 256 * 1024;
/// The largest CA bundle read (Debian's whole bundle is about 220 KB).
pub const CA_LIMIT: u64 = 4 * 1024 * 1024;
/// The largest stream-key file read.
pub const KEY_LIMIT: u64 = 4 * 1024;
/// The largest waiting image read.
pub const IMAGE_LIMIT: u64 = 16 * 1024 * 1024;

/// The bytes of regular file `path`, at most `limit` of them; `what` names it
/// in errors ("config", "waiting-image", ...).
pub fn read_regular(path: &str, what: &str, limit: u64) -> Result<Vec<u8>, String> {
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| format!("{what} {path}: {e}"))?;
    let meta = f.metadata().map_err(|e| format!("{what} {path}: {e}"))?;
    let ft = meta.file_type();
    if !ft.is_file() {
        let kind = if ft.is_dir() {
            "a directory"
        } else if ft.is_fifo() {
            "a FIFO"
        } else if ft.is_char_device() || ft.is_block_device() {
            "a device"
        } else if ft.is_socket() {
            "a socket"
        } else {
            "not a plain file"
        };
        return Err(format!("{what} {path}: is {kind}, not a regular file"));
    }
    if meta.len() > limit {
        return Err(format!(
            "{what} {path}: is {} bytes, more than the {} bytes allowed",
            meta.len(),
            limit
        ));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    f.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{what} {path}: {e}"))?;
    if bytes.len() as u64 > limit {
        return Err(format!(
            "{what} {path}: grew past the {limit} bytes allowed while being read"
        ));
    }
    Ok(bytes)
}

/// [`read_regular`] as UTF-8 text.
pub fn read_text(path: &str, what: &str, limit: u64) -> Result<String, String> {
    String::from_utf8(read_regular(path, what, limit)?).map_err(|e| {
        format!(
            "{what} {path}: not UTF-8 text (byte {})",
            e.utf8_error().valid_up_to()
        )
    })
}

/// The stream key from `url-key-file`: the file's one line, trimmed. A file
/// that others may read (permissions wider than 0600) is used, with a warning.
pub fn read_key_file(path: &str) -> Result<String, String> {
    read_secret(path, "url-key-file", "the stream key")
}

/// Reads `[control] token-file`: the API's bearer token on one line (the
/// same checks as the key file).
pub fn read_token_file(path: &str) -> Result<String, String> {
    read_secret(path, "control.token-file", "the bearer token")
}

fn read_secret(path: &str, key: &str, what: &str) -> Result<String, String> {
    use std::os::unix::fs::PermissionsExt;
    let text = read_text(path, key, KEY_LIMIT)?;
    let secret = text.trim();
    if secret.is_empty() {
        return Err(format!("{key} {path}: is empty"));
    }
    if secret.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "{key} {path}: must hold {what} on one line, without spaces"
        ));
    }
    if let Ok(m) = std::fs::metadata(path) {
        let mode = m.permissions().mode() & 0o7777;
        if mode & !0o600 != 0 {
            log::warn!(
                "{key} {path}: permissions {mode:04o} are wider than 0600: others on this box may read {what} (chmod 600 {path})"
            );
        }
    }
    Ok(secret.to_string())
}

/// The entries of `dir` whose names start with `prefix`, in numeric order
/// of the digits in them (video2 before video10), then by name; empty when
/// the directory cannot be read.
pub fn numbered_entries(dir: &str, prefix: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(prefix))
                .collect()
        })
        .unwrap_or_default();
    v.sort_by_key(|n| {
        let digits: String = n.chars().filter(char::is_ascii_digit).collect();
        (digits.parse::<u64>().unwrap_or(u64::MAX), n.clone())
    });
    v
}

#[cfg(test)]
mod tests {
    use super::numbered_entries;

    #[test]
    fn numbered_entries_come_in_numeric_order() {
        let dir = tempfile::tempdir().unwrap();
        for n in ["video10", "video2", "video0", "media0", "videoX"] {
            std::fs::write(dir.path().join(n), "").unwrap();
        }
        let d = dir.path().to_str().unwrap();
        assert_eq!(
            numbered_entries(d, "video"),
            ["video0", "video2", "video10", "videoX"]
        );
        assert!(numbered_entries("/nonexistent-dir", "video").is_empty());
    }

    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn a_fifo_a_device_and_a_directory_are_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let t = Instant::now();
        let e = read_regular(fifo.to_str().unwrap(), "config", CONFIG_LIMIT).unwrap_err();
        assert!(t.elapsed() < Duration::from_secs(2), "did not block");
        assert!(
            e.contains("is a FIFO, not a regular file") && e.contains("config "),
            "{e}"
        );
        let e = read_regular("/dev/zero", "waiting-image", IMAGE_LIMIT).unwrap_err();
        assert!(e.contains("/dev/zero: is a device"), "{e}");
        let e = read_regular(dir.path().to_str().unwrap(), "config", 10).unwrap_err();
        assert!(e.contains("is a directory"), "{e}");
    }

    #[test]
    fn a_file_over_the_limit_is_refused_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.toml");
        std::fs::write(&p, vec![b'#'; 2000]).unwrap();
        let p = p.to_str().unwrap();
        let e = read_regular(p, "config", 1000).unwrap_err();
        assert!(
            e.contains("is 2000 bytes, more than the 1000 bytes allowed"),
            "{e}"
        );
        assert_eq!(read_regular(p, "config", 2000).unwrap().len(), 2000);
        let e = read_text("/nonexistent/x.toml", "config", 10).unwrap_err();
        assert!(e.starts_with("config /nonexistent/x.toml: "), "{e}");
    }
}
