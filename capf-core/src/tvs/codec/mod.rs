//! The TVS codec: frames, elements, the stream decoder and the TVS
//! device name (spec `tvs.md`). The sessions that use it are
//! [`TvsServerSession`](super::TvsServerSession) and
//! [`TvsClientSession`](super::TvsClientSession).

pub(super) mod decoder;
pub(super) mod device_name;
pub(super) mod error;
pub(super) mod frame;
