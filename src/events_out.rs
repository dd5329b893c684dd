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
}

impl Events {
    /// Wraps a sink.
    pub fn new(to: EventWriter) -> Self {
        Events {
            to,
            line: String::with_capacity(512),
        }
    }

    /// Writes one event as a line.
    pub fn emit(&mut self, ev: &Event, uptime_ms: u64) {
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
                if let Event::StateChange { code, detail } = ev {
                    match detail {
                        Some(d) => log::info!("{code} ({d})"),
                        None => log::info!("{code}"),
                    }
                }
                self.emit(ev, at.as_millis());
            }
            Observed::Phase(p) => log::debug!("phase: {}", p.name()),
            Observed::Notice(_) => {}
        }
    }
}

impl EventWriter {
    /// Opens the sink named by the config. Errors name the path.
    pub fn open(to: &EventsTo) -> Result<Self, String> {
        match to {
            EventsTo::Stdout => Ok(EventWriter::Stdout),
            EventsTo::File(p) => OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map(EventWriter::File)
                .map_err(|e| format!("events file {p}: {e}")),
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
