//! Synthetic sources: a moving test pattern with a burned-in frame counter,
//! and a sine tone. Pure functions of the frame/sample index.

pub mod pattern;
pub mod tone;
