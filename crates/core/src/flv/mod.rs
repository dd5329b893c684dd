//! FLV: reading files and tag bodies ([`read`]), tag bodies (what RTMP audio/video messages carry), the script-data
//! `onMetaData` object, the file container the receiver writes, and one
//! publish's timeline (which tags go out for each frame, with which
//! timestamp).

pub mod file;
pub mod metadata;
pub mod read;
pub mod tag;
pub mod timeline;
