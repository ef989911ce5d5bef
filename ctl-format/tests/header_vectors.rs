//! The signed header of every vector, field for field against its sidecar.

use ctl_format::{FileVersion, SignedHeader};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors")
}

/// Every vector file with a JSON sidecar that is expected to parse.
fn parsing_vectors() -> Vec<(PathBuf, Value)> {
    let mut found = Vec::new();
    for folder in [
        "tlv",
        "sgn",
        "real/cucm",
        "real/third-party/buba0",
        "real/third-party/csptechnologies",
        "real/firmware/sccp",
        "real/firmware/sip",
    ] {
        for entry in std::fs::read_dir(vectors().join(folder)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                let sidecar: Value =
                    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
                let file = path.with_extension("");
                if sidecar["header"].is_object() {
                    found.push((file, sidecar));
                }
            }
        }
    }
    assert!(
        found.len() >= 25,
        "expected the vector set, found {}",
        found.len()
    );
    found
}

fn version_text(version: FileVersion) -> String {
    version.to_string()
}

#[test]
fn every_header_matches_its_sidecar() {
    for (file, sidecar) in parsing_vectors() {
        let bytes = std::fs::read(&file).unwrap();
        let expected = &sidecar["header"];
        let header =
            SignedHeader::parse(&bytes).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let name = file.display();
        assert_eq!(
            version_text(header.version),
            expected["version"].as_str().unwrap(),
            "{name}"
        );
        assert_eq!(
            u64::from(header.header_length),
            expected["header_length"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(
            header.signer_version.map(version_text).as_deref(),
            expected["signer_version"].as_str(),
            "{name}"
        );
        assert_eq!(
            header.signer_name.map(|s| s.to_string()).as_deref(),
            expected["signer_name"].as_str(),
            "{name}"
        );
        assert_eq!(
            header.issuer_name.map(|s| s.to_string()).as_deref(),
            expected["issuer_name"].as_str(),
            "{name}"
        );
        assert_eq!(
            hex::encode(header.serial_number),
            expected["serial_number"].as_str().unwrap(),
            "{name}"
        );
        assert_eq!(
            u64::from(header.hash_algorithm.code()),
            expected["hash_algorithm"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(
            header.signature_algorithm.map(u64::from),
            expected["signature_algorithm"].as_u64(),
            "{name}"
        );
        assert_eq!(
            header.modulus_code.map(u64::from),
            expected["signature_modulus"].as_u64(),
            "{name}"
        );
        assert_eq!(
            header.signature_offset as u64,
            expected["signature_offset"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(
            header.signature.len() as u64,
            expected["signature_length"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(
            header.filename.map(|s| s.to_string()).as_deref(),
            expected["filename"].as_str(),
            "{name}"
        );
        assert_eq!(
            header.timestamp.map(u64::from),
            expected["timestamp"].as_u64(),
            "{name}"
        );
        assert_eq!(
            header.padding_count as u64,
            expected["padding_count"].as_u64().unwrap(),
            "{name}"
        );
        let order: Vec<u64> = header.element_order().into_iter().map(u64::from).collect();
        let expected_order: Vec<u64> = expected["element_order"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        assert_eq!(order, expected_order, "{name}");
        assert_eq!(
            header.encode(),
            bytes[..usize::from(header.header_length)],
            "{name}: header round trip"
        );
        // Every element's offset as the sidecar lists it.
        let items: Vec<(u64, u64)> = header
            .items()
            .iter()
            .map(|i| (i.offset() as u64, u64::from(i.tag())))
            .collect();
        let expected_items: Vec<(u64, u64)> = sidecar["header_elements"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["offset"].as_u64().unwrap(), e["tag"].as_u64().unwrap()))
            .collect();
        assert_eq!(items, expected_items, "{name}");
        if let Some(digest) = sidecar["signature"]["digest_of_signed_data"].as_str() {
            assert_eq!(hex::encode(header.signed_digest(&bytes)), digest, "{name}");
        }
        assert!(header.warnings.is_empty(), "{name}: {:?}", header.warnings);
    }
}
