//! Properties of the trust evaluator on arbitrary chains and stores:
//! `evaluate_with` always returns a verdict (never panics), a trusted
//! verdict carries an anchor and no failure, an untrusted one a failure, and
//! any anchor a verdict names is a certificate of the store it names, that
//! store being one of those given.
//!
//! Chains and stores are drawn from a pool of real certificates (a
//! generated CA hierarchy and MIC chain, the certificates of the real
//! Unified CM CTL and of a certutils CTL), copies of them with one byte
//! changed, and arbitrary bytes; stores are also built from the vector CTLs
//! as trust lists.

mod trust_support;

use capf_core::time::Timestamp;
use capf_core::trust::{
    CapfCredential, EvaluationOptions, Purpose, ServerRole, SignedFileKind, StoreKind, TrustStore,
    Verdict, evaluate_with,
};
use ctl_format::TrustList;
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, RngAlgorithm, RngSeed};
use std::path::Path;
use std::sync::OnceLock;
use trust_support::*;

fn vector(relative: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/vectors")
            .join(relative),
    )
    .unwrap()
}

fn vector_lists() -> &'static [Vec<u8>; 2] {
    static LISTS: OnceLock<[Vec<u8>; 2]> = OnceLock::new();
    LISTS.get_or_init(|| [vector("real/cucm/CTLFile.tlv"), vector("tlv/ctl-sha1.tlv")])
}

/// Every certificate of the pool, DER; generated once per test binary.
fn pool() -> &'static [Vec<u8>] {
    static POOL: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    POOL.get_or_init(|| {
        let root = root("Example Root CA");
        let issuing = intermediate("Example Issuing CA", &root);
        let mut spec = LeafSpec::new("SEP001122334455");
        spec.dns = vec!["phone.example.test".to_owned()];
        let lsc = leaf(&spec, &issuing);
        let direct = leaf(&LeafSpec::new("cucm.example.test"), &root);
        let mic = mic_chain("SEP001122334455");
        let mut pool = vec![
            root.der,
            issuing.der,
            lsc.der,
            direct.der,
            mic.root.der,
            mic.manufacturing.der,
            mic.mic.der,
        ];
        for list in vector_lists() {
            for record in TrustList::parse(list).unwrap().records() {
                pool.extend(record.certificate_der().map(<[u8]>::to_vec));
            }
        }
        pool
    })
}

/// One "certificate": from the pool, a pool certificate with one byte
/// changed, or arbitrary bytes.
#[derive(Debug, Clone)]
enum Piece {
    Pooled(prop::sample::Index),
    Damaged(prop::sample::Index, prop::sample::Index, u8),
    Arbitrary(Vec<u8>),
}

impl Piece {
    fn bytes(&self) -> Vec<u8> {
        let pool = pool();
        match self {
            Piece::Pooled(which) => which.get(pool).clone(),
            Piece::Damaged(which, at, mask) => {
                let mut der = which.get(pool).clone();
                let offset = at.index(der.len());
                der[offset] ^= mask;
                der
            }
            Piece::Arbitrary(bytes) => bytes.clone(),
        }
    }
}

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        6 => any::<prop::sample::Index>().prop_map(Piece::Pooled),
        2 => (any::<prop::sample::Index>(), any::<prop::sample::Index>(), 1u8..=255)
            .prop_map(|(which, at, mask)| Piece::Damaged(which, at, mask)),
        1 => proptest::collection::vec(any::<u8>(), 0..64).prop_map(Piece::Arbitrary),
    ]
}

/// A store: a kind and certificates (those that do not parse are left
/// out, as a loader would refuse them), or a vector CTL as a trust list.
#[derive(Debug, Clone)]
enum StoreSpec {
    Certificates(prop::sample::Index, Vec<Piece>),
    List(prop::sample::Index, bool),
}

impl StoreSpec {
    fn build(&self, index: usize) -> TrustStore {
        let name = format!("store {index}");
        match self {
            StoreSpec::Certificates(kind, pieces) => {
                let mut store = TrustStore::new(*kind.get(&StoreKind::ALL), name);
                for piece in pieces {
                    let kind = store.kind();
                    let roles: Vec<_> = kind.implied_role().into_iter().collect();
                    // A certificate that does not parse is refused with an
                    // error; the store keeps the others.
                    let bytes = piece.bytes();
                    let parses = ctl_format::Certificate::from_der(&bytes).is_ok();
                    let added = store.add_certificate(&bytes, &roles);
                    assert_eq!(added.is_ok(), parses, "{added:?}");
                }
                store
            }
            StoreSpec::List(which, itl) => {
                let bytes: &Vec<u8> = which.get(vector_lists().as_slice());
                let list = TrustList::parse(bytes).unwrap();
                let kind = if *itl { StoreKind::Itl } else { StoreKind::Ctl };
                TrustStore::from_trust_list(kind, name, &list).unwrap()
            }
        }
    }
}

fn store_spec() -> impl Strategy<Value = StoreSpec> {
    prop_oneof![
        3 => (any::<prop::sample::Index>(), proptest::collection::vec(piece(), 0..4))
            .prop_map(|(kind, pieces)| StoreSpec::Certificates(kind, pieces)),
        1 => (any::<prop::sample::Index>(), any::<bool>())
            .prop_map(|(which, itl)| StoreSpec::List(which, itl)),
    ]
}

fn name() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(prop_oneof![
        Just("SEP001122334455".to_owned()),
        Just("phone.example.test".to_owned()),
        Just(String::new()),
        "[ -~]{0,24}",
    ])
}

fn purpose() -> impl Strategy<Value = Purpose> {
    let role = prop_oneof![
        Just(ServerRole::CallManager),
        Just(ServerRole::Tftp),
        Just(ServerRole::Capf),
        Just(ServerRole::Tvs),
        Just(ServerRole::ApplicationServer),
    ];
    let credential = prop_oneof![Just(CapfCredential::Mic), Just(CapfCredential::Lsc)];
    let file = prop_oneof![
        Just(SignedFileKind::ConfigFile),
        Just(SignedFileKind::TrustList)
    ];
    prop_oneof![
        (role, name()).prop_map(|(role, host)| Purpose::TlsServer { role, host }),
        name().prop_map(|host| Purpose::PhoneWebServer { host }),
        name().prop_map(|device| Purpose::TlsClient { device }),
        file.prop_map(|file| Purpose::FileSigner { file }),
        (credential, name())
            .prop_map(|(credential, device)| Purpose::CapfAuthentication { credential, device }),
    ]
}

fn options() -> impl Strategy<Value = EvaluationOptions> {
    (0usize..6, any::<[bool; 3]>()).prop_map(|(length, [expired, pinned, skip])| {
        let mut options = EvaluationOptions::default();
        if length > 0 {
            options.max_chain_length = length;
        }
        options.allow_expired_mic = expired;
        options.check_pinned_validity = pinned;
        options.skip_validity = skip;
        options
    })
}

fn now() -> impl Strategy<Value = Timestamp> {
    prop_oneof![
        Just(NOW),
        Just(Timestamp::from_unix_seconds(1_430_968_247)),
        Just(Timestamp::from_unix_millis(0)),
        Just(Timestamp::from_unix_millis(u64::MAX)),
        any::<u64>().prop_map(Timestamp::from_unix_millis),
    ]
}

/// The verdict's invariants; `stores` are those evaluated against.
fn check(verdict: &Verdict, purpose: &Purpose, stores: &[TrustStore]) -> Result<(), TestCaseError> {
    prop_assert_eq!(&verdict.purpose, purpose);
    if verdict.trusted {
        prop_assert!(
            verdict.failure.is_none(),
            "trusted with a failure: {:?}",
            verdict
        );
        prop_assert!(
            verdict.anchor.is_some(),
            "trusted without an anchor: {:?}",
            verdict
        );
    } else {
        prop_assert!(
            verdict.failure.is_some(),
            "untrusted without a failure: {:?}",
            verdict
        );
    }
    if let Some(anchor) = &verdict.anchor {
        let held = stores.iter().any(|store| {
            store.kind() == anchor.store.kind
                && store.name() == anchor.store.name
                && store
                    .entries()
                    .iter()
                    .any(|entry| entry.sha256() == anchor.sha256)
        });
        prop_assert!(held, "anchor {:?} is not in the store it names", anchor);
    }
    Ok(())
}

proptest! {
    // A fixed seed: the same cases every run (reproducible); a failure is
    // also kept in capf-core/proptest-regressions/ (commit it).
    #![proptest_config(ProptestConfig {
        cases: 1024,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(0x7275_5354),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/trust_properties.txt",
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn evaluate_answers_every_chain_and_store(
        chain in proptest::collection::vec(piece(), 0..5),
        stores in proptest::collection::vec(store_spec(), 0..4),
        purpose in purpose(),
        options in options(),
        now in now(),
    ) {
        let chain: Vec<Vec<u8>> = chain.iter().map(Piece::bytes).collect();
        let stores: Vec<TrustStore> =
            stores.iter().enumerate().map(|(index, spec)| spec.build(index)).collect();
        let verdict = evaluate_with(&chain, &purpose, &stores, now, &options);
        check(&verdict, &purpose, &stores)?;
        if chain.is_empty() {
            prop_assert!(!verdict.trusted);
        }
        prop_assert!(!verdict.to_string().is_empty());
    }
}

/// The property is not vacuous: the pool does reach trusted verdicts (the
/// generated LSC through its issuing CA, a pinned CAPF certificate of the
/// real CTL), and the checks hold for them.
#[test]
fn pool_reaches_trusted_verdicts() {
    let pool = pool();
    let enterprise =
        TrustStore::from_der_certificates(StoreKind::EnterpriseRoots, "roots", [&pool[0]]).unwrap();
    let purpose = Purpose::TlsClient {
        device: Some("SEP001122334455".to_owned()),
    };
    let chain = [&pool[2], &pool[1]];
    let stores = [enterprise];
    let verdict = evaluate_with(
        &chain,
        &purpose,
        &stores,
        NOW,
        &EvaluationOptions::default(),
    );
    assert!(verdict.trusted, "{verdict}");
    check(&verdict, &purpose, &stores).unwrap();

    let list = TrustList::parse(&vector_lists()[0]).unwrap();
    let ctl = TrustStore::from_trust_list(StoreKind::Ctl, "CTLFile.tlv", &list).unwrap();
    let capf = list.records()[3].certificate_der().unwrap();
    let purpose = Purpose::TlsServer {
        role: ServerRole::Capf,
        host: None,
    };
    let stores = [ctl];
    let verdict = evaluate_with(
        &[capf],
        &purpose,
        &stores,
        Timestamp::from_unix_seconds(1_430_968_247),
        &EvaluationOptions::default(),
    );
    assert!(verdict.trusted, "{verdict}");
    check(&verdict, &purpose, &stores).unwrap();
}
