//! The CAPF server session (being written).
