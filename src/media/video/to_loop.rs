//! The runner's sink in the video thread: encoded units and encoder reports
//! to the loop's media lane, output buffers from the loop's recycling channel.
//! A unit the loop cannot take now is dropped (the runner then forces a key
//! frame), never queued without bound.

use livepush_core::encoder::runner::{Delivery, Report, Sink, Unit};

use super::super::{EncodedVideo, MediaMsg};

/// Units and reports to the event loop; buffers from its recycling channel.
pub(super) struct ToLoop<'a> {
    pub(super) mb: &'a crate::mailbox::Lane<MediaMsg>,
    pub(super) recycle: &'a smol::channel::Receiver<Vec<u8>>,
}

impl Sink for ToLoop<'_> {
    fn buffer(&mut self) -> Vec<u8> {
        self.recycle.try_recv().unwrap_or_default()
    }

    fn unit(&mut self, u: Unit) -> Delivery {
        let v = EncodedVideo {
            pts_us: u.pts_us,
            key: u.key,
            width: u.width,
            height: u.height,
            data: u.data,
        };
        if self.mb.try_send(MediaMsg::Video(v)).is_ok() {
            return Delivery::Taken;
        }
        if self.mb.is_closed() {
            return Delivery::Gone;
        }
        crate::media::counters::add(&crate::media::counters::MEDIA.video_dropped_loop, 1);
        log::warn!("event loop busy: video frame dropped");
        Delivery::Dropped
    }

    fn note(&mut self, msg: String) {
        log::info!("{msg}");
    }

    fn report(&mut self, r: Report) -> bool {
        let m = match r {
            Report::Started { backend, first } => {
                if !first {
                    log::info!("video encoder {backend} running");
                    return true;
                }
                MediaMsg::VideoEncoderStarted { backend }
            }
            Report::FellBack(m) => MediaMsg::EncoderFellBack(m),
            Report::Restarted(m) => MediaMsg::EncoderRestarted(m),
            Report::NoneLeft(m) => MediaMsg::VideoEncoderFailed(m),
        };
        self.mb.send_blocking(m)
    }

    fn dropped(&mut self) {
        crate::media::counters::add(&crate::media::counters::MEDIA.video_dropped_encoder, 1);
    }

    fn warn(&mut self, msg: String) {
        log::warn!("{msg}");
    }
}
