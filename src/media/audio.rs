//! The audio thread: paced samples from the configured source (silence when
//! muted), AAC encoding, encoded frames to the loop. Audio time follows the
//! sample count from the thread's start on the monotonic clock.
//!
//! A microphone that cannot be opened at start, or fails while running, is
//! reported once (-1302) and replaced by silence paced here on the same AAC
//! track (players never see the track vanish), while it is reopened every
//! second for a minute, then every 30 s; when it opens, its sound comes back
//! on the same timeline.

use crate::media::counters::{self, MEDIA};
use std::time::{Duration, Instant};

use std::collections::VecDeque;

use livepush_core::audio_clock::AudioClock;
use livepush_core::config::{AudioConfig, AudioDevice};
use livepush_core::silence_watch::{SilenceWatch, Verdict};
use livepush_core::supervisor::Input;

use super::{sleep_until, take_commands, EncodedAudio, MediaMsg, Wiring};
use crate::hw::aac::FdkAac;
use crate::hw::alsa::{Mic, MicError, Read};
use crate::hw::synthetic::AudioSource;
use crate::hw::AudioEncoder;
use livepush_core::publisher::Notice;

/// Starts the audio thread.
pub fn spawn(cfg: AudioConfig, muted: bool, wiring: Wiring) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("audio".into())
        .spawn(move || run(cfg, muted, wiring))
        .expect("spawn audio thread")
}

fn run(cfg: AudioConfig, muted: bool, wiring: Wiring) {
    let Wiring {
        origin,
        mb,
        ctl,
        recycle,
        speed,
    } = wiring;
    let send = |m: MediaMsg| mb.send_blocking(m);
    let mut enc = match FdkAac::new(cfg.sample_rate, cfg.channels, cfg.bitrate) {
        Ok(e) => e,
        Err(e) => {
            send(MediaMsg::AudioFailed(e));
            return;
        }
    };
    let frame = enc.frame_samples();
    let mut source = match Source::open(&cfg, frame) {
        Ok(s) => s,
        // a sample rate the microphone cannot take is a configuration error
        Err(input @ Input::MicRate(_)) => {
            send(MediaMsg::Device { input, fatal: true });
            return;
        }
        Err(input) if matches!(cfg.device, AudioDevice::Alsa(_)) => {
            log::warn!(
                "microphone unavailable at start ({}); pushing silence and retrying",
                input.detail()
            );
            if !send(MediaMsg::Device {
                input,
                fatal: false,
            }) {
                return;
            }
            Source::lost()
        }
        Err(input) => {
            send(MediaMsg::Device { input, fatal: true });
            return;
        }
    };
    if !send(MediaMsg::AudioEncoderStarted {
        asc: enc.specific_config(),
    }) {
        return;
    }
    let rate = u64::from(cfg.sample_rate);
    let mut pcm = vec![0i16; frame * usize::from(cfg.channels)];
    // a synthetic source counts samples from the service's start (sample n
    // plays at n / rate s), like the test pattern's frames: the tone's sync
    // marks line up with the picture's counter
    // (with `--fast-clock N` the media clock runs N times as fast)
    let speed = u64::from(speed.max(1));
    let first_sample = (origin.elapsed().as_micros() as u64 * rate * speed).div_ceil(1_000_000);
    if let Source::Synthetic(s) = &mut source {
        s.seek(first_sample);
    }
    let sample_time = |n: u64| origin + Duration::from_micros(n * 1_000_000 / rate / speed);
    // the encoder's priming: its frame k decodes to the samples fed from
    // k * frame - delay on, so it carries the time of those
    let priming_us = enc.delay_samples() as u64 * 1_000_000 / rate;
    log::debug!(
        "aac encoder delay {} samples ({priming_us} us): compensated in the timestamps",
        enc.delay_samples()
    );
    // samples per channel given to the encoder
    let mut fed: u64 = 0;
    // a microphone's timestamps: sample count steered toward the monotonic clock
    let mut mic_clock: Option<AudioClock> = None;
    // timestamps of the chunks given to the encoder, oldest first: encoded
    // frame k takes chunk k's, less the priming delay
    let mut stamps: VecDeque<u64> = VecDeque::with_capacity(16);
    let mut silence_owed: u64 = 0; // frames lost to an overrun, to be filled with silence
    let mut last_read_us = origin.elapsed().as_micros() as u64;
    // a wait longer than a period (a period is one chunk): no data for 3 chunks
    const NO_DATA_CHUNKS: u64 = 3;
    let no_data_wait_ms = (NO_DATA_CHUNKS * frame as u64 * 1000 / rate).max(1) as u32;
    let mut level = Level::default();
    let mut watch = SilenceWatch::new(Duration::from_millis(u64::from(cfg.no_data_timeout_ms)));
    // paused with background-mute: silence on the same timeline
    let mut pause_mute = false;
    loop {
        let Some(c) = take_commands(&ctl) else {
            return;
        };
        if let Some(p) = c.pause {
            pause_mute = p.is_some_and(|p| p.mute);
        }
        if silence_owed >= frame as u64 {
            // keep the timeline whole after an overrun: silence of the lost length
            silence_owed -= frame as u64;
            pcm.fill(0);
        } else {
            let mut has_signal = true;
            match &mut source {
                Source::Synthetic(s) => {
                    // the chunk is complete once its last sample has been "captured"
                    sleep_until(sample_time(first_sample + fed + frame as u64));
                    if let Err(e) = s.next(&mut pcm) {
                        send(MediaMsg::Device {
                            input: Input::MicFailed(e),
                            fatal: true,
                        });
                        return;
                    }
                    counters::add(&MEDIA.audio_captured, 1);
                }
                Source::Mic(m) => match m.read(&mut pcm, no_data_wait_ms) {
                    Ok(Read::Full) => {
                        counters::add(&MEDIA.audio_captured, 1);
                        has_signal = pcm.iter().any(|&s| s != 0);
                        last_read_us = origin.elapsed().as_micros() as u64;
                    }
                    Ok(Read::NoData) => {
                        // 3 chunks of time passed without data: 3 chunks of silence
                        pcm.fill(0);
                        silence_owed += (NO_DATA_CHUNKS - 1) * frame as u64;
                        has_signal = false;
                    }
                    Ok(Read::Overrun) => {
                        // what was lost is the time since the last good read,
                        // less the chunk just read (ALSA only knows its ring size)
                        let gap_us = origin.elapsed().as_micros() as u64 - last_read_us;
                        let lost = (gap_us * rate / 1_000_000).saturating_sub(2 * frame as u64);
                        log::warn!(
                            "microphone overrun: about {lost} frames lost, filled with silence"
                        );
                        counters::add(&MEDIA.audio_overruns, 1);
                        counters::add(&MEDIA.audio_overrun_frames, lost);
                        silence_owed += lost;
                        last_read_us = origin.elapsed().as_micros() as u64;
                    }
                    Err(e) => {
                        log::warn!("microphone failed ({e}); pushing silence and reopening it");
                        if !send(MediaMsg::Device {
                            input: Input::MicFailed(e),
                            fatal: false,
                        }) {
                            return;
                        }
                        source = Source::lost();
                        pcm.fill(0);
                        has_signal = false;
                    }
                },
                Source::Lost {
                    attempt,
                    retry_at,
                    due,
                } => {
                    *due += Duration::from_micros(frame as u64 * 1_000_000 / rate);
                    sleep_until(*due);
                    pcm.fill(0);
                    has_signal = false;
                    if Instant::now() >= *retry_at {
                        match Source::open(&cfg, frame) {
                            Ok(s) => {
                                log::info!("microphone open again");
                                let _ = mb.try_send(MediaMsg::Notice(Notice::MicBack));
                                source = s;
                                watch = SilenceWatch::new(Duration::from_millis(u64::from(
                                    cfg.no_data_timeout_ms,
                                )));
                                last_read_us = origin.elapsed().as_micros() as u64;
                            }
                            Err(input) => {
                                *attempt += 1;
                                // a second apart for the first minute (opening
                                // a PCM is cheap), then every 30 s
                                let wait = if *attempt < 60 {
                                    MIC_RETRY_FIRST
                                } else {
                                    MIC_RETRY_MAX
                                };
                                log::info!(
                                    "microphone still unavailable ({}); next try in {} s",
                                    input.detail(),
                                    wait.as_secs()
                                );
                                *retry_at = Instant::now() + wait;
                            }
                        }
                    }
                }
            }
            if let Source::Mic(_) = source {
                let now =
                    livepush_core::time::Instant::from_micros(origin.elapsed().as_micros() as u64);
                match watch.chunk(now, has_signal) {
                    Verdict::NoData => {
                        let detail = format!(
                            "no sound for {} ms; pushing silence",
                            cfg.no_data_timeout_ms
                        );
                        send(MediaMsg::Device {
                            input: Input::MicNoData(detail),
                            fatal: false,
                        });
                    }
                    Verdict::Recovered => {
                        log::info!("microphone delivers sound again");
                        let _ = mb.try_send(MediaMsg::Notice(Notice::SoundBack));
                    }
                    Verdict::Quiet => {}
                }
            }
            if muted || pause_mute {
                pcm.fill(0);
            }
        }
        // the level of what is pushed, for the display's bar (4 a second)
        level.chunk(&pcm, frame as u64);
        if level.frames >= rate / 4 {
            let _ = mb.try_send(MediaMsg::Notice(Notice::AudioLevel {
                peak_db: level.take_db(),
            }));
        }
        let chunk_us = match &source {
            Source::Synthetic(_) => (first_sample + fed) * 1_000_000 / rate,
            // silence in place of a lost microphone: on the microphone's
            // clock, which follows the monotonic clock
            Source::Mic(_) | Source::Lost { .. } => {
                let now_us = origin.elapsed().as_micros() as u64;
                let first = now_us.saturating_sub(frame as u64 * 1_000_000 / rate);
                mic_clock
                    .get_or_insert_with(|| AudioClock::new(cfg.sample_rate, first))
                    .stamp(frame as u64, now_us)
            }
        };
        if stamps.len() == stamps.capacity() {
            stamps.pop_front();
        }
        stamps.push_back(chunk_us);
        fed += frame as u64;
        let mut out = recycle
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(1024));
        out.clear();
        if let Err(e) = enc.encode(&pcm, &mut out) {
            send(MediaMsg::AudioFailed(e));
            return;
        }
        if out.is_empty() {
            continue;
        }
        let Some(pts_us) = stamps.pop_front() else {
            continue;
        };
        let pts_us = pts_us.saturating_sub(priming_us);
        // a full mailbox drops this frame (the loop is stuck; audio must not queue up)
        if mb
            .try_send(MediaMsg::Audio(EncodedAudio { pts_us, data: out }))
            .is_err()
        {
            counters::add(&MEDIA.audio_dropped_loop, 1);
        }
    }
}

/// The peak of the samples since the last report.
#[derive(Default)]
struct Level {
    peak: u16,
    frames: u64,
}

impl Level {
    /// Takes one chunk of `frames` frames (interleaved samples).
    fn chunk(&mut self, pcm: &[i16], frames: u64) {
        let peak = pcm.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
        self.peak = self.peak.max(peak);
        self.frames += frames;
    }

    /// The peak in dBFS (-100 for digital silence), starting over.
    fn take_db(&mut self) -> i8 {
        let peak = std::mem::take(&mut self.peak);
        self.frames = 0;
        if peak == 0 {
            return -100;
        }
        (20.0 * (f32::from(peak) / 32768.0).log10())
            .round()
            .clamp(-100.0, 0.0) as i8
    }
}

/// Where samples come from.
enum Source {
    /// Sine or raw file, paced by this thread.
    Synthetic(AudioSource),
    /// An ALSA PCM, paced by the hardware.
    Mic(Mic),
    /// The microphone could not be opened or failed: silence paced here,
    /// and reopen attempts.
    Lost {
        /// Failed reopen attempts so far.
        attempt: u32,
        /// When to try again.
        retry_at: Instant,
        /// When the next chunk of silence is due.
        due: Instant,
    },
}

/// First and longest wait between attempts to reopen a lost microphone.
const MIC_RETRY_FIRST: Duration = Duration::from_secs(1);
const MIC_RETRY_MAX: Duration = Duration::from_secs(30);

impl Source {
    fn lost() -> Self {
        Source::Lost {
            attempt: 0,
            retry_at: Instant::now() + MIC_RETRY_FIRST,
            due: Instant::now(),
        }
    }

    fn open(cfg: &AudioConfig, frame: usize) -> Result<Self, Input> {
        match &cfg.device {
            AudioDevice::Alsa(name) => Mic::open(name, cfg.sample_rate, cfg.channels, frame)
                .map(Source::Mic)
                .map_err(|e| match e {
                    MicError::Open {
                        msg,
                        permission: true,
                    } => Input::MicPermission(msg),
                    MicError::Open { msg, .. } | MicError::Other(msg) => Input::MicFailed(msg),
                    MicError::Rate { msg } => Input::MicRate(msg),
                }),
            _ => AudioSource::open(cfg)
                .map(Source::Synthetic)
                .map_err(Input::MicFailed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Level;

    #[test]
    fn the_level_is_the_peak_in_dbfs_since_the_last_report() {
        let mut l = Level::default();
        l.chunk(&[0, 0, 0], 3);
        assert_eq!(l.take_db(), -100);
        l.chunk(&[100, -32768, 5], 3);
        l.chunk(&[1, 2], 2);
        assert_eq!(l.frames, 5);
        assert_eq!(l.take_db(), 0);
        assert_eq!(l.frames, 0);
        l.chunk(&[16384], 1);
        assert_eq!(l.take_db(), -6);
        l.chunk(&[-328], 1);
        assert_eq!(l.take_db(), -40);
    }
}
