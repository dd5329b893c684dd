//! What a person sees on the box: one pure mapping from what livepush knows
//! (the status events that go to the JSON output, the publisher's phase, and
//! the few facts the contract has no code for) to a [`phase::Phase`] with a
//! fixed priority, the last code with its age ([`phase::Indicators`]), the
//! pattern of each status LED ([`led`]) and the text of the display
//! ([`screen`]). The shell's LED and display drivers subscribe to the
//! publisher's observer hook and draw what these say; nothing here reads a
//! clock or a device.

pub mod draw;
pub mod led;
pub mod phase;
pub mod sample;
pub mod screen;

pub use phase::{Fact, Indicators, Phase, View};
