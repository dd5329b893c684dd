//! Where the JPEG frames of a Motion-JPEG file (frames one after another, as
//! ffmpeg's `-f mjpeg` or a camera dump writes them) start and end.
//!
//! A frame is walked by its structure: the start-of-image marker, then
//! segments by their stated lengths (so an EXIF thumbnail inside APP1, a
//! whole JPEG with its own `FF D8 FF`, is skipped as the data it is), then
//! the entropy-coded scan (where `FF 00` is a data byte and `FF D0..D7` are
//! restart markers) up to the next marker, until end-of-image. The frame
//! runs to where the next one (`FF D8 FF`) starts, so padding after its
//! end-of-image stays with it. A frame whose structure breaks (cut short by
//! a lost USB transfer, garbage, a segment length running off the end) ends
//! where the next `FF D8 FF` after its start is: the decoder then refuses it
//! and the frames after it are found as before. A segment holding the next
//! frame's start is such a break (`holds_a_foreign_start`): a cut frame's
//! length landing on a marker of the next frame would otherwise swallow
//! that frame. A cut APPn or COM whose length runs past the next frame's
//! end-of-image cannot be told from a thumbnail: that frame goes with it.
//!
//! Every length is checked against the data; nothing is allocated but the
//! list of ranges. The work is linear in the data: walks of broken frames
//! can cover the same bytes again (a crafted file of comment segments
//! holding `FF D8` makes each walk run to the end), so all walks together
//! may advance at most [`WALK_BUDGET`] times the data's length; past that,
//! which only crafted data reaches, frames end at every `FF D8 FF`.

use std::ops::Range;

/// How many times the data's length all walks of one file may advance
/// together (successful walks cover disjoint bytes, so this is only reached
/// by broken frames whose walks overlap).
pub const WALK_BUDGET: usize = 2;

/// The frames of `data`, in order, not overlapping, each starting with
/// `FF D8 FF`. Bytes before the first start-of-image are not a frame.
pub fn frames(data: &[u8]) -> Vec<Range<usize>> {
    frames_walked(data).0
}

/// [`frames`], and how many bytes the walks advanced in all: less than
/// `(WALK_BUDGET + 1)` times the data's length (the fuzz target checks it).
pub fn frames_walked(data: &[u8]) -> (Vec<Range<usize>>, usize) {
    let mut out = Vec::new();
    let mut walked = 0usize;
    let budget = WALK_BUDGET.saturating_mul(data.len());
    let mut at = match next_start(data, 0) {
        Some(a) => a,
        None => return (out, walked),
    };
    loop {
        // the end of this frame's structure, or (broken, or out of budget)
        // nothing
        let end = if walked < budget {
            let (end, reached) = walk(data, at);
            walked += reached - at;
            end
        } else {
            None
        };
        let next = next_start(data, end.unwrap_or(at + 2));
        match next {
            Some(n) => {
                out.push(at..n);
                at = n;
            }
            None => {
                out.push(at..data.len());
                return (out, walked);
            }
        }
    }
}

/// The next `FF D8 FF` at or after `from`.
fn next_start(data: &[u8], from: usize) -> Option<usize> {
    data.get(from..)?
        .windows(3)
        .position(|w| w == [0xff, 0xd8, 0xff])
        .map(|i| from + i)
}

/// Walks the frame starting at `start` (`FF D8`): the offset just after its
/// end-of-image marker, or `None` when the structure breaks first; and how
/// far the walk got.
fn walk(data: &[u8], start: usize) -> (Option<usize>, usize) {
    let mut i = start + 2;
    let end = walk_from(data, &mut i);
    (end, i.min(data.len()))
}

fn walk_from(data: &[u8], i: &mut usize) -> Option<usize> {
    loop {
        // a marker: FF, any fill FFs, the code
        if *data.get(*i)? != 0xff {
            return None;
        }
        while *data.get(*i + 1)? == 0xff {
            *i += 1;
        }
        let code = data[*i + 1];
        *i += 2;
        match code {
            0xd9 => return Some(*i),
            // another start-of-image, or a code no JPEG has here
            0xd8 | 0x00 | 0x02..=0xbf => return None,
            // standalone markers: no length
            0x01 | 0xd0..=0xd7 => continue,
            _ => {}
        }
        let len = usize::from(u16::from_be_bytes([*data.get(*i)?, *data.get(*i + 1)?]));
        if len < 2 || *i + len > data.len() {
            return None;
        }
        // the segment (its length included: a frame cut inside it has the
        // next start there) and one byte more (a start whose FF D8 ends the
        // segment: the length landing just after a start-of-image)
        let seg = &data[*i..(*i + len + 1).min(data.len())];
        *i += len;
        if holds_a_foreign_start(code, seg) {
            return None;
        }
        if code == 0xda {
            // the scan's entropy-coded data: up to the first FF that is
            // neither a stuffed zero, a restart marker nor fill
            loop {
                match data.get(*i..)?.iter().position(|&b| b == 0xff) {
                    Some(ff) => *i += ff,
                    None => {
                        *i = data.len();
                        return None;
                    }
                }
                match *data.get(*i + 1)? {
                    0x00 | 0xd0..=0xd7 => *i += 2,
                    _ => break,
                }
            }
        }
    }
}

/// Whether segment `code`'s bytes `seg` hold the start of a frame that is
/// not part of it: tables (DQT, DHT, SOF, SOS, DRI ...) hold no JPEG, so
/// any start in them is the next frame's; APPn and COM may hold a
/// thumbnail, a whole JPEG, so a start there is foreign when no
/// end-of-image follows it (a cut APP0 whose length lands inside the next
/// frame's headers).
fn holds_a_foreign_start(code: u8, seg: &[u8]) -> bool {
    let last = match seg.windows(3).rposition(|w| w == [0xff, 0xd8, 0xff]) {
        Some(p) => p,
        None => return false,
    };
    let may_hold_a_jpeg = matches!(code, 0xe0..=0xef | 0xfe);
    !may_hold_a_jpeg || !seg[last..].windows(2).any(|w| w == [0xff, 0xd9])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A structurally whole JPEG: SOI, `app` segments, a DQT-like segment,
    /// SOS with `scan` as its entropy-coded data, EOI.
    fn jpeg(app: &[Vec<u8>], scan: &[u8]) -> Vec<u8> {
        let mut j = vec![0xff, 0xd8];
        for seg in app {
            j.extend_from_slice(seg);
        }
        j.extend_from_slice(&[0xff, 0xdb, 0x00, 0x05, 1, 2, 3]);
        j.extend_from_slice(&[0xff, 0xda, 0x00, 0x04, 9, 9]);
        j.extend_from_slice(scan);
        j.extend_from_slice(&[0xff, 0xd9]);
        j
    }

    fn segment(code: u8, body: &[u8]) -> Vec<u8> {
        let mut s = vec![0xff, code];
        s.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
        s.extend_from_slice(body);
        s
    }

    fn exif_with_thumbnail(thumb: &[u8]) -> Vec<u8> {
        let mut body = b"Exif\0\0".to_vec();
        body.extend_from_slice(thumb);
        segment(0xe1, &body)
    }

    #[test]
    fn an_exif_thumbnail_is_part_of_its_frame() {
        let thumb = jpeg(&[segment(0xe0, b"JFIF\0")], &[1, 2, 3]);
        // stuffed FF 00 and a restart marker inside the scan, fill FFs
        // before a marker
        let scan = [
            5, 0xff, 0x00, 6, 0xff, 0xd3, 7, 0xff, 0xff, 0xff, 0xdc, 0, 4, 0, 8,
        ];
        let a = jpeg(&[exif_with_thumbnail(&thumb)], &scan);
        let mut data = Vec::new();
        for _ in 0..3 {
            data.extend_from_slice(&a);
        }
        data.extend_from_slice(&[0, 0, 0]); // padding after the last
        let f = frames(&data);
        assert_eq!(
            f,
            vec![0..a.len(), a.len()..2 * a.len(), 2 * a.len()..data.len()]
        );
        // what the old split at every FF D8 FF saw: six frames
        assert_eq!(
            data.windows(3).filter(|w| *w == [0xff, 0xd8, 0xff]).count(),
            6
        );
    }

    #[test]
    fn a_cut_or_garbage_frame_ends_at_the_next_start_and_loses_no_other() {
        let a = jpeg(&[segment(0xe0, b"JFIF\0")], &[1, 2, 3, 4, 5, 6, 7, 8]);
        let cut = &a[..a.len() - 6]; // cut inside the scan
        let mut garbage = vec![0xff, 0xd8, 0xff];
        garbage.extend(std::iter::repeat_n(0x5a, 40));
        garbage.extend_from_slice(&[0xff, 0xd9]);
        let header_cut = &a[..5]; // cut inside the first segment's length
        let parts: Vec<&[u8]> = vec![&a, cut, &a, &garbage, &a, header_cut, &a];
        let data: Vec<u8> = parts.concat();
        let f = frames(&data);
        let mut at = 0;
        let want: Vec<Range<usize>> = parts
            .iter()
            .map(|p| {
                at += p.len();
                at - p.len()..at
            })
            .collect();
        assert_eq!(f, want);
    }

    #[test]
    fn nothing_before_the_first_frame_and_no_frame_in_noise() {
        assert!(frames(&[]).is_empty());
        assert!(frames(&[1, 2, 3, 0xff, 0xd8]).is_empty());
        let a = jpeg(&[], &[1]);
        let mut data = vec![9, 9, 9];
        data.extend_from_slice(&a);
        assert_eq!(frames(&data), vec![3..3 + a.len()]);
        // a segment length running off the end: the rest is the frame
        let mut data = vec![0xff, 0xd8, 0xff, 0xe0, 0xff, 0xff, 1];
        assert_eq!(frames(&data), vec![0..7]);
        data.extend_from_slice(&a);
        assert_eq!(frames(&data), vec![0..7, 7..7 + a.len()]);
    }

    #[test]
    fn a_cut_table_whose_length_lands_on_the_next_frame_does_not_swallow_it() {
        let a = jpeg(&[segment(0xe0, b"JFIF\0")], &[1, 2, 3]);
        let n = a.len();
        // the next frame with an APP1 before the rest of `a`
        let mut b = vec![0xff, 0xd8, 0xff, 0xe1, 0x00, 0x06, 5, 5, 5, 5];
        b.extend_from_slice(&a[2..]);
        // a DQT cut after 3 of its bytes, its length running into the next
        // frame up to exactly one of that frame's markers: the one after
        // its start-of-image, or the one after its APP1
        for code in [0xdb, 0xe0] {
            for (next, marker) in [(&a, 2), (&b, 10)] {
                let cut_len = 9;
                let len = (cut_len + marker - 4) as u8;
                let cut = [0xff, 0xd8, 0xff, code, 0x00, len, 1, 2, 3];
                assert_eq!(cut.len(), cut_len);
                assert_eq!(next[marker], 0xff);
                let data = [&a[..], &cut, next].concat();
                assert_eq!(
                    frames(&data),
                    vec![0..n, n..n + cut_len, n + cut_len..data.len()],
                    "{code:x} landing at marker {marker}"
                );
            }
        }
        // cut inside the length: the next frame's FF D8 is read as its low
        // byte (00 FF = 255 lands on offset 254 of the next frame)
        let mut c = vec![0xff, 0xd8];
        c.extend(segment(0xe1, &[5; 248]));
        assert_eq!(c.len(), 254);
        c.extend_from_slice(&[0xff, 0xfe, 0x00, 0x02]); // a marker at 254
        c.extend_from_slice(&a[2..]);
        let cut = [0xff, 0xd8, 0xff, 0xdb, 0x00];
        let data = [&a[..], &cut, &c].concat();
        assert_eq!(frames(&data), vec![0..n, n..n + 5, n + 5..data.len()]);
    }

    #[test]
    fn padding_after_a_frame_stays_with_it_even_with_ff_d8_in_it() {
        let a = jpeg(&[], &[1, 2]);
        let mut data = a.clone();
        data.extend_from_slice(&[0, 0xff, 0xd8, 0, 0]);
        let first = data.len();
        data.extend_from_slice(&a);
        assert_eq!(frames(&data), vec![0..first, first..data.len()]);
    }

    #[test]
    fn crafted_comments_holding_starts_cost_linear_work() {
        // FF D8, then COM segments of length 4 whose bodies are FF D8:
        // every FF D8 FF starts a frame, and each frame's walk runs through
        // all the comments after it to the end, where it breaks
        let unit = [0xff, 0xfe, 0x00, 0x04, 0xff, 0xd8];
        let mut data = vec![0xff, 0xd8];
        for _ in 0..20_000 {
            data.extend_from_slice(&unit);
        }
        let (f, walked) = frames_walked(&data);
        // one frame per unit: the first from the leading FF D8, the others
        // at each comment's body (the last body starts none: no FF after it)
        assert_eq!(f.len(), 20_000);
        assert_eq!(f[0], 0..6);
        assert_eq!(f[1], 6..12);
        // without the budget the walks advance 20,000²/2 × 6 bytes
        assert!(
            walked <= WALK_BUDGET * data.len() + data.len(),
            "walked {walked} bytes for {}",
            data.len()
        );
    }
}
