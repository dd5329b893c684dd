//! FLV: tag bodies (what RTMP audio/video messages carry), the script-data
//! `onMetaData` object, and the file container the receiver writes.

pub mod file;
pub mod metadata;
pub mod tag;
