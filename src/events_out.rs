//! Where events go: JSON lines on stdout, appended to a file, or streamed to
//! every client of a Unix socket livepush listens on. Writing never blocks the
//! event loop for long: socket clients that cannot keep up are dropped.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::{Arc, Mutex};

use livepush_core::config::EventsTo;
use livepush_core::event::Event;

/// An open event sink.
pub enum EventWriter {
    /// stdout.
    Stdout,
    /// A file opened for append.
    File(File),
    /// Connected clients of a listening Unix socket.
    Unix(Arc<Mutex<Vec<UnixStream>>>),
}

/// An event sink and the line buffer it reuses.
pub struct Events {
    to: EventWriter,
    line: String,
    /// stdout is systemd's journal: the state codes are already there as
    /// structured records (the log), so no event lines are written to it
    /// (a netstatus line a second would fill the journal, and a persistent
    /// one wears the SD card).
    stdout_is_journal: bool,
    /// The phase now (the PHASE= field of a code's record).
    phase: livepush_core::publisher::Phase,
}

/// Whether file descriptor `fd` is the stream `$JOURNAL_STREAM` names
/// (systemd connected it to the journal).
pub fn is_journal_stream(fd: std::os::fd::RawFd) -> bool {
    let Some(v) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat writes a stat into the buffer it is given.
    if unsafe { libc::fstat(fd, st.as_mut_ptr()) } != 0 {
        return false;
    }
    // SAFETY: fstat succeeded, so it filled the struct.
    let st = unsafe { st.assume_init() };
    v.to_string_lossy() == format!("{}:{}", st.st_dev, st.st_ino)
}

impl Events {
    /// Wraps a sink.
    pub fn new(to: EventWriter) -> Self {
        let stdout_is_journal = matches!(to, EventWriter::Stdout) && is_journal_stream(1);
        if stdout_is_journal {
            log::info!(
                "stdout is the journal: state codes are logged with CODE= and PHASE= fields; \
                 event lines go to [events] to = \"unix:PATH\" or \"file:PATH\" only"
            );
        }
        Events {
            to,
            line: String::with_capacity(512),
            stdout_is_journal,
            phase: livepush_core::publisher::Phase::Starting,
        }
    }

    /// Writes one event as a line.
    pub fn emit(&mut self, ev: &Event, uptime_ms: u64) {
        if self.stdout_is_journal {
            return;
        }
        self.line.clear();
        ev.write_json(uptime_ms, &mut self.line);
        self.line.push('\n');
        self.to.write_line(&self.line);
    }
}

/// The event log is the first of the publisher's observers: a state code
/// is also logged at info, a phase change at debug.
impl livepush_core::publisher::Observer for Events {
    fn observe(
        &mut self,
        at: livepush_core::time::Instant,
        what: livepush_core::publisher::Observed<'_>,
    ) {
        use livepush_core::publisher::Observed;
        match what {
            Observed::Event(ev) => {
                let phase = self.phase.name();
                match ev {
                    Event::StateChange { code, detail } => {
                        let c = code.code();
                        let level = match code.class() {
                            livepush_core::status::Class::Error => log::Level::Error,
                            livepush_core::status::Class::Warning => log::Level::Warn,
                            _ => log::Level::Info,
                        };
                        match detail {
                            Some(d) => {
                                log::log!(level, code = c, phase = phase; "{code} ({d})")
                            }
                            None => log::log!(level, code = c, phase = phase; "{code}"),
                        }
                    }
                    Event::Error { err_code, err_msg } if self.stdout_is_journal => {
                        log::error!(err_code = *err_code, phase = phase; "error event {err_code}: {err_msg}")
                    }
                    _ => {}
                }
                self.emit(ev, at.as_millis());
            }
            Observed::Phase(p) => {
                self.phase = p;
                log::debug!("phase: {}", p.name())
            }
            Observed::Notice(_) | Observed::Tally(_) => {}
        }
    }
}

impl EventWriter {
    /// Opens the sink named by the config. Errors name the path.
    pub fn open(to: &EventsTo) -> Result<Self, String> {
        match to {
            EventsTo::Stdout => Ok(EventWriter::Stdout),
            EventsTo::File(p) => {
                let f = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .map_err(|e| format!("events file {p}: {e}"))?;
                if !on_ram(&f) {
                    log::warn!(
                        "events file {p} is not on tmpfs: a line a second wears an SD card; \
                         put it under /run (tmpfs) or use [events] to = \"unix:PATH\""
                    );
                }
                Ok(EventWriter::File(f))
            }
            EventsTo::Unix(p) => {
                let _ = std::fs::remove_file(p);
                let l = UnixListener::bind(p).map_err(|e| format!("events socket {p}: {e}"))?;
                let clients: Arc<Mutex<Vec<UnixStream>>> = Arc::default();
                let c = clients.clone();
                std::thread::Builder::new()
                    .name("events-accept".into())
                    .spawn(move || {
                        for s in l.incoming().flatten() {
                            let _ = s.set_nonblocking(true);
                            c.lock().expect("clients lock").push(s);
                        }
                    })
                    .map_err(|e| e.to_string())?;
                Ok(EventWriter::Unix(clients))
            }
        }
    }

    fn write_line(&mut self, line: &str) {
        match self {
            EventWriter::Stdout => {
                let mut o = std::io::stdout().lock();
                let _ = o.write_all(line.as_bytes());
                let _ = o.flush();
            }
            EventWriter::File(f) => {
                if let Err(e) = f.write_all(line.as_bytes()) {
                    log::warn!("events file: {e}");
                }
            }
            EventWriter::Unix(clients) => {
                let mut cs = clients.lock().expect("clients lock");
                cs.retain_mut(|s| s.write_all(line.as_bytes()).is_ok());
            }
        }
    }
}

/// Whether the open file `f` is on a RAM file system (tmpfs, ramfs).
fn on_ram(f: &File) -> bool {
    use std::os::fd::AsRawFd;
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    const RAMFS_MAGIC: i64 = 0x8584_58f6;
    let mut st = std::mem::MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: fstatfs writes a statfs into the buffer it is given.
    if unsafe { libc::fstatfs(f.as_raw_fd(), st.as_mut_ptr()) } != 0 {
        return true; // unknown: no warning
    }
    // SAFETY: fstatfs succeeded, so it filled the struct.
    let t = unsafe { st.assume_init() }.f_type as i64;
    t == TMPFS_MAGIC || t == RAMFS_MAGIC
}

#[cfg(test)]
mod tests {
    #[test]
    fn tmpfs_is_told_from_a_disk() {
        // /dev/shm is tmpfs on Linux; /proc is not a RAM file system
        let shm = tempfile::NamedTempFile::new_in("/dev/shm").unwrap();
        assert!(super::on_ram(shm.as_file()));
        let proc = std::fs::File::open("/proc/self/stat").unwrap();
        assert!(!super::on_ram(&proc));
    }
}
