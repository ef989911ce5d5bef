//! `capf encrypted-config …` end to end, run as a shell user would.

mod support;

use support::{capf, scratch, text, vectors};

#[test]
fn encrypt_then_decrypt_gives_back_the_input() {
    let folder = scratch("encrypted-config", "round-trip");
    let input = folder.join("SEPAABBCCDDEEFF.cnf.xml");
    std::fs::copy(
        vectors().join("sgn/SEPAABBCCDDEEFF.cnf.xml.plaintext"),
        &input,
    )
    .unwrap();
    let out_dir = folder.join("tftp");
    std::fs::create_dir_all(&out_dir).unwrap();
    let tftp = vectors().join("sgn/keys/ccm-tftp.pem");
    let phone = vectors().join("sgn/keys/phone-lsc.pem");

    let out = capf(&[
        "encrypted-config".as_ref(),
        "encrypt".as_ref(),
        "--signer".as_ref(),
        tftp.as_os_str(),
        "--phone-certificate".as_ref(),
        phone.as_os_str(),
        "--out-dir".as_ref(),
        out_dir.as_os_str(),
        "--timestamp".as_ref(),
        "1795323876".as_ref(),
        input.as_os_str(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let encrypted = out_dir.join("SEPAABBCCDDEEFF.cnf.xml.enc.sgn");
    let reduced = out_dir.join("SEPAABBCCDDEEFF.cnf.xml.sgn");
    // The reduced companion is deterministic: the same bytes as enccnf's.
    assert_eq!(
        std::fs::read(&reduced).unwrap(),
        std::fs::read(vectors().join("sgn/SEPAABBCCDDEEFF.cnf.xml.sgn")).unwrap()
    );

    let plaintext = folder.join("decrypted.xml");
    let out = capf(&[
        "encrypted-config".as_ref(),
        "decrypt".as_ref(),
        "--signer-certificate".as_ref(),
        tftp.as_os_str(),
        "--phone-key".as_ref(),
        phone.as_os_str(),
        "--out".as_ref(),
        plaintext.as_os_str(),
        encrypted.as_os_str(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read(&plaintext).unwrap(),
        std::fs::read(&input).unwrap()
    );

    // The encrypted file is a signed file too.
    let out = capf(&[
        "signed".as_ref(),
        "verify".as_ref(),
        "--certificate".as_ref(),
        tftp.as_os_str(),
        encrypted.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let out = capf(&[
        "encrypted-config".as_ref(),
        "show".as_ref(),
        "--json".as_ref(),
        encrypted.as_os_str(),
    ]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["version"], "2.0");
    assert_eq!(json["key_size_bits"], 2048);
    assert_eq!(json["pad_count"], 15);
    assert_eq!(json["filename"], "SEPAABBCCDDEEFF.cnf.xml.enc.sgn");

    std::fs::remove_dir_all(&folder).unwrap();
}

#[test]
fn decrypt_refuses_damaged_files_and_ec_phones_are_refused() {
    let tftp = vectors().join("sgn/keys/ccm-tftp.pem");
    let phone = vectors().join("sgn/keys/phone-lsc.pem");
    for damaged in [
        "SEPAABBCCDDEEFF-flipped.cnf.xml.enc.sgn",
        "SEPAABBCCDDEEFF-truncated.cnf.xml.enc.sgn",
    ] {
        let out = capf(&[
            "encrypted-config".as_ref(),
            "decrypt".as_ref(),
            "--signer-certificate".as_ref(),
            tftp.as_os_str(),
            "--phone-key".as_ref(),
            phone.as_os_str(),
            vectors().join("sgn").join(damaged).as_os_str(),
        ]);
        assert_eq!(out.status.code(), Some(1), "{damaged}");
        assert!(out.stdout.is_empty(), "{damaged}: nothing decrypted");
        assert!(text(&out.stderr).contains("signature invalid"), "{damaged}");
    }

    let folder = scratch("encrypted-config", "ec");
    let input = folder.join("SEP001122334455.cnf.xml");
    std::fs::copy(vectors().join("sgn/SEP001122334455.cnf.xml"), &input).unwrap();
    let out = capf(&[
        "encrypted-config".as_ref(),
        "encrypt".as_ref(),
        "--signer".as_ref(),
        tftp.as_os_str(),
        "--phone-certificate".as_ref(),
        vectors().join("sgn/keys/tftp-ec.pem").as_os_str(),
        input.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("EC key"),
        "{}",
        text(&out.stderr)
    );
    assert!(!folder.join("SEP001122334455.cnf.xml.enc.sgn").exists());
    std::fs::remove_dir_all(&folder).unwrap();
}

#[test]
fn help_is_there() {
    for command in ["encrypt", "decrypt", "show"] {
        let out = capf(&[
            "encrypted-config".as_ref(),
            command.as_ref(),
            "--help".as_ref(),
        ]);
        assert!(out.status.success());
        assert!(
            text(&out.stdout).contains("Usage: capf encrypted-config"),
            "{command}"
        );
    }
}
