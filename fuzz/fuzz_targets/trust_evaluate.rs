//! Arbitrary bytes into the trust evaluator: a chain of 1 to 4
//! "certificates" and stores built from more of them (as DER certificates
//! of any store kind, and from a TLV parsed as a CTL or ITL), an arbitrary
//! purpose, options and time. `evaluate_with` must return a verdict, never
//! panic; a trusted verdict names an anchor whose digest is in the store it
//! names, and an untrusted one carries a failure.
//!
//! Layout: byte 0 chooses the chain length (bits 0-1) and options (bits
//! 2-5); byte 1 chooses the purpose; bytes 2-9 are the time (unix millis,
//! big-endian); then pieces, each one length byte followed by that many
//! bytes. A piece of length 0 is instead the next byte choosing one of the
//! real certificates of the vector CTLs, so the evaluator is reached with
//! certificates that parse. The first pieces are the chain, the next one
//! the host or device name; then up to 6 stores follow, each a byte
//! choosing its kind and a piece: a DER certificate, or a trust list when
//! the kind is CTL or ITL and it parses as one (length byte 0 and a choice
//! >= 0x80: one of the vector lists whole).
#![no_main]

use capf_core::time::Timestamp;
use capf_core::trust::{
    CapfCredential, EvaluationOptions, Purpose, ServerRole, SignedFileKind, StoreKind, TrustStore,
    evaluate_with,
};
use ctl_format::TrustList;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const VECTOR_LISTS: [&[u8]; 3] = [
    include_bytes!("../../tests/vectors/real/cucm/CTLFile.tlv"),
    include_bytes!("../../tests/vectors/tlv/ctl-sha1.tlv"),
    include_bytes!("../../tests/vectors/tlv/ctl-sha512.tlv"),
];

/// Every certificate of the vector lists (DER).
fn pool() -> &'static [Vec<u8>] {
    static POOL: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    POOL.get_or_init(|| {
        VECTOR_LISTS
            .iter()
            .filter_map(|bytes| TrustList::parse(bytes).ok())
            .flat_map(|list| {
                list.records()
                    .iter()
                    .filter_map(|record| record.certificate_der().map(<[u8]>::to_vec))
                    .collect::<Vec<_>>()
            })
            .collect()
    })
}

/// Reads pieces: a length byte and that many bytes, or 0 and a pool index.
struct Pieces<'a> {
    rest: &'a [u8],
}

impl<'a> Pieces<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&byte, rest) = self.rest.split_first()?;
        self.rest = rest;
        Some(byte)
    }
}

impl<'a> Iterator for Pieces<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let (&length, rest) = self.rest.split_first()?;
        if length == 0 {
            let (&choice, rest) = rest.split_first()?;
            self.rest = rest;
            if choice >= 0x80 {
                return Some(VECTOR_LISTS[usize::from(choice) % VECTOR_LISTS.len()]);
            }
            let pool = pool();
            return pool
                .get(usize::from(choice) % pool.len().max(1))
                .map(Vec::as_slice);
        }
        let length = usize::from(length).min(rest.len());
        let (piece, rest) = rest.split_at(length);
        self.rest = rest;
        Some(piece)
    }
}

fn name(bytes: &[u8]) -> Option<String> {
    match bytes.first() {
        Some(&b) if b & 1 == 1 => Some(String::from_utf8_lossy(&bytes[1..]).into_owned()),
        _ => None,
    }
}

fn purpose(selector: u8, text: &[u8]) -> Purpose {
    let role = [
        ServerRole::CallManager,
        ServerRole::Tftp,
        ServerRole::Capf,
        ServerRole::Tvs,
        ServerRole::ApplicationServer,
    ][usize::from(selector >> 3) % 5];
    match selector % 7 {
        0 => Purpose::TlsServer {
            role,
            host: name(text),
        },
        1 => Purpose::PhoneWebServer { host: name(text) },
        2 => Purpose::TlsClient { device: name(text) },
        3 => Purpose::FileSigner {
            file: SignedFileKind::ConfigFile,
        },
        4 => Purpose::FileSigner {
            file: SignedFileKind::TrustList,
        },
        5 => Purpose::CapfAuthentication {
            credential: CapfCredential::Mic,
            device: name(text),
        },
        _ => Purpose::CapfAuthentication {
            credential: CapfCredential::Lsc,
            device: name(text),
        },
    }
}

fn store(index: usize, kind: u8, body: &[u8]) -> Option<TrustStore> {
    let kind = StoreKind::ALL[usize::from(kind) % StoreKind::ALL.len()];
    let name = format!("store {index}");
    if matches!(kind, StoreKind::Ctl | StoreKind::Itl)
        && let Ok(list) = TrustList::parse(body)
    {
        return TrustStore::from_trust_list(kind, name, &list).ok();
    }
    TrustStore::from_der_certificates(kind, name, [body]).ok()
}

fuzz_target!(|data: &[u8]| {
    let Some((head, rest)) = data.split_first_chunk::<10>() else {
        return;
    };
    let chain_length = usize::from(head[0] & 0x03) + 1;
    let mut options = EvaluationOptions::default();
    options.allow_expired_mic = head[0] & 0x04 != 0;
    options.check_pinned_validity = head[0] & 0x08 != 0;
    options.skip_validity = head[0] & 0x10 != 0;
    if head[0] & 0x20 != 0 {
        options.max_chain_length = usize::from(head[1] & 0x07);
    }
    let mut millis = [0u8; 8];
    millis.copy_from_slice(&head[2..10]);
    let now = Timestamp::from_unix_millis(u64::from_be_bytes(millis));

    let mut pieces = Pieces { rest };
    let chain: Vec<&[u8]> = pieces.by_ref().take(chain_length).collect();
    if chain.is_empty() {
        return;
    }
    let text = pieces.next().unwrap_or_default();
    let purpose = purpose(head[1], text);
    let mut stores = Vec::new();
    for index in 0..6 {
        let (Some(kind), Some(body)) = (pieces.byte(), pieces.next()) else {
            break;
        };
        stores.extend(store(index, kind, body));
    }

    let verdict = evaluate_with(&chain, &purpose, &stores, now, &options);
    assert_eq!(verdict.purpose, purpose);
    if verdict.trusted {
        assert!(verdict.failure.is_none(), "trusted with a failure");
        let anchor = verdict
            .anchor
            .as_ref()
            .expect("a trusted verdict names its anchor");
        assert!(
            stores.iter().any(|store| store.kind() == anchor.store.kind
                && store.name() == anchor.store.name
                && store
                    .entries()
                    .iter()
                    .any(|entry| entry.sha256() == anchor.sha256)),
            "the anchor is in the store the verdict names"
        );
    } else {
        assert!(verdict.failure.is_some(), "untrusted without a failure");
    }
    assert!(!verdict.to_string().is_empty());
});
