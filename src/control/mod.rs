//! The control API (docs/design/0011): one HTTP/1.1 server (hyper) in the
//! process, on smol's executor thread, never on the media path. Requests
//! that change something become a [`ControlMsg`] in the loop's inbox (a
//! bounded lane; a full lane answers 503, it never waits) and are decided
//! by the publisher like every other input; what it shows comes from the
//! [`board::Board`] observer. Listens on a Unix socket by default, and on
//! TCP when configured (off loopback only with a bearer token).

pub mod board;
mod http;
mod page;
pub mod reload;
mod snapshot;
mod torch;

use std::sync::Arc;

use livepush_core::config::{ControlConfig, Listen};
use livepush_core::publisher::{Command, Done, Refused};

use crate::mailbox::Lane;

/// A request the loop carries out, with where to answer (the loop
/// `try_send`s: one slot, never full).
pub enum ControlMsg {
    /// A push command.
    Command {
        /// What to do.
        command: Command,
        /// The answer.
        reply: async_channel::Sender<Result<Done, Refused>>,
    },
    /// A checked configuration to apply (what can change live).
    Reload {
        /// It passed every check.
        checked: Box<reload::Checked>,
        /// The answer (None: SIGHUP, the log is the answer).
        reply: Option<async_channel::Sender<reload::Outcome>>,
    },
    /// A reload was refused (the running configuration goes on; the LEDs
    /// and display say so until a good one comes).
    Refused {
        /// The first error, with its position.
        why: String,
    },
}

/// Reads and checks the configuration at `path` off the loop, then hands
/// it to the loop (SIGHUP and `POST /v1/reload`). Returns what happened.
pub async fn reload(
    path: String,
    lane: Arc<Lane<ControlMsg>>,
    reply: bool,
) -> Option<reload::Outcome> {
    let p = path.clone();
    match smol::unblock(move || reload::check(&p)).await {
        Err(errors) => {
            for e in &errors {
                log::warn!("reload refused, the running configuration goes on: {e}");
            }
            let why = errors.first().cloned().unwrap_or_default();
            let why = why
                .strip_prefix(&format!("{path}: "))
                .unwrap_or(&why)
                .to_string();
            let _ = lane.try_send(ControlMsg::Refused { why });
            Some(Err(errors))
        }
        Ok(checked) => {
            let (tx, rx) = if reply {
                let (tx, rx) = async_channel::bounded(1);
                (Some(tx), Some(rx))
            } else {
                (None, None)
            };
            if lane
                .try_send(ControlMsg::Reload {
                    checked: Box::new(checked),
                    reply: tx,
                })
                .is_err()
            {
                return Some(Err(vec![
                    "the service is busy or stopping: try again".into()
                ]));
            }
            match rx {
                Some(rx) => rx.recv().await.ok(),
                None => None,
            }
        }
    }
}

/// What the server needs.
pub struct Setup {
    /// `[control]`.
    pub config: ControlConfig,
    /// The bearer token (read from `token-file` before the start).
    pub token: Option<String>,
    /// The loop's control lane.
    pub lane: Arc<Lane<ControlMsg>>,
    /// The state it shows.
    pub board: Arc<board::Board>,
    /// Metrics and health (`/metrics`, `/healthz`).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Facts fixed for the run (the config summary, no secret in it).
    pub summary: serde_json::Value,
    /// The video thread (snapshots and camera switches go straight to it;
    /// None: audio only).
    pub video: Option<std::sync::mpsc::Sender<crate::media::MediaCtl>>,
    /// The board profile's `[leds] torch`.
    pub torch: Option<livepush_core::config::board::LedOut>,
    /// The configuration file (for `POST /v1/reload`).
    pub config_path: Option<String>,
}

/// The running listeners (dropping it stops them and removes the sockets).
pub struct Running {
    _tasks: Vec<smol::Task<()>>,
    sockets: Vec<String>,
    shared: Arc<http::Shared>,
}

impl Running {
    /// A reload changed the configuration the status shows.
    pub fn set_summary(&self, summary: serde_json::Value) {
        self.shared.set_summary(summary);
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        for p in &self.sockets {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Binds every listener and serves them. A listener that cannot be bound
/// is logged and left out (the stream matters more than the API); the
/// others run.
pub fn start(setup: Setup) -> Running {
    let shared = Arc::new(http::Shared::new(
        setup.token,
        setup.lane,
        setup.board,
        setup.metrics,
        setup.summary,
        setup.video,
        torch::BoardTorch::new(setup.torch),
        setup.config_path,
    ));
    let mut tasks = Vec::new();
    let mut sockets = Vec::new();
    for l in &setup.config.listen {
        match l {
            Listen::Unix(path) => match bind_unix(path) {
                Ok(listener) => {
                    log::info!("control API on unix:{path}");
                    sockets.push(path.clone());
                    tasks.push(smol::spawn(http::serve_unix(listener, shared.clone())));
                }
                Err(e) => log::warn!("control API: unix:{path}: {e}; not listening there"),
            },
            Listen::Tcp(addr) => {
                match std::net::TcpListener::bind(addr).and_then(async_net::TcpListener::try_from) {
                    Ok(listener) => {
                        log::info!(
                            "control API on tcp:{addr}{}",
                            if shared.has_token() {
                                " (bearer token required)"
                            } else {
                                ""
                            }
                        );
                        tasks.push(smol::spawn(http::serve_tcp(listener, shared.clone())));
                    }
                    Err(e) => log::warn!("control API: tcp:{addr}: {e}; not listening there"),
                }
            }
        }
    }
    Running {
        _tasks: tasks,
        sockets,
        shared,
    }
}

/// Binds a Unix socket at `path`: its directory made when missing, a stale
/// socket (nobody answers on it) replaced, a live one left alone (another
/// livepush runs), the socket made group-accessible (0660).
fn bind_unix(path: &str) -> Result<async_net::unix::UnixListener, String> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let p = std::path::Path::new(path);
    if let Some(dir) = p.parent() {
        if !dir.exists() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
    }
    if let Ok(m) = std::fs::symlink_metadata(p) {
        if !m.file_type().is_socket() {
            return Err("exists and is not a socket".into());
        }
        if std::os::unix::net::UnixStream::connect(p).is_ok() {
            return Err("in use (another livepush runs?)".into());
        }
        std::fs::remove_file(p).map_err(|e| format!("stale socket: {e}"))?;
    }
    let l = std::os::unix::net::UnixListener::bind(p).map_err(|e| e.to_string())?;
    let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o660));
    async_net::unix::UnixListener::try_from(l).map_err(|e| e.to_string())
}
