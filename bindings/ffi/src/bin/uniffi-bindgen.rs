//! The uniffi bindings generator of this workspace (same uniffi version as
//! `capf-ffi`): `cargo run -p capf-ffi --features cli --bin uniffi-bindgen --
//! generate --library target/debug/libcapf_ffi.so --language kotlin --out-dir OUT`.

fn main() {
    uniffi::uniffi_bindgen_main()
}
