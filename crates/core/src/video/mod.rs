//! Camera-side video logic that needs no device: choosing a capture mode from
//! what a camera offers ([`negotiate`]) and turning captured pictures into the
//! encoder's I420 at the output size ([`convert`]).

pub mod convert;
pub mod filters;
pub mod layout;
pub mod negotiate;
