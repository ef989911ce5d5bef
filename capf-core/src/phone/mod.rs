//! The CAPF phone session (being written).
