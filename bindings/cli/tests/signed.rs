//! `capf signed …` end to end, run as a shell user would.

mod support;

use support::{capf, scratch, text, vectors};

#[test]
fn sign_verify_strip_gives_back_the_input() {
    let folder = scratch("signed", "round-trip");
    let input = folder.join("SEP001122334455.cnf.xml");
    std::fs::copy(vectors().join("sgn/SEP001122334455.cnf.xml"), &input).unwrap();
    let key = vectors().join("sgn/keys/ccm-tftp.pem");

    for hash in ["sha1", "sha512"] {
        let signed = folder.join(format!("{hash}.sgn"));
        let out = capf(&[
            "signed".as_ref(),
            "sign".as_ref(),
            "--signer".as_ref(),
            key.as_os_str(),
            "--hash".as_ref(),
            hash.as_ref(),
            "--out".as_ref(),
            signed.as_os_str(),
            input.as_os_str(),
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));

        let out = capf(&[
            "signed".as_ref(),
            "verify".as_ref(),
            "--certificate".as_ref(),
            key.as_os_str(),
            signed.as_os_str(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains("signature valid"));

        let stripped = folder.join(format!("{hash}.stripped"));
        let out = capf(&[
            "signed".as_ref(),
            "strip".as_ref(),
            signed.as_os_str(),
            "--out".as_ref(),
            stripped.as_os_str(),
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(
            std::fs::read(&stripped).unwrap(),
            std::fs::read(&input).unwrap()
        );
    }

    // Default output name INPUT.sgn; its filename element is that name
    // (certutils), and strip to standard output gives the input.
    let out = capf(&[
        "signed".as_ref(),
        "sign".as_ref(),
        "--signer".as_ref(),
        key.as_os_str(),
        "--timestamp".as_ref(),
        "1795323869".as_ref(),
        input.as_os_str(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let default_out = folder.join("SEP001122334455.cnf.xml.sgn");
    // Same input, key, name and time as the certutils vector: same bytes.
    assert_eq!(
        std::fs::read(&default_out).unwrap(),
        std::fs::read(vectors().join("sgn/SEP001122334455.cnf.xml.sgn")).unwrap()
    );
    let out = capf(&["signed".as_ref(), "strip".as_ref(), default_out.as_os_str()]);
    assert!(out.status.success());
    assert_eq!(out.stdout, std::fs::read(&input).unwrap());

    std::fs::remove_dir_all(&folder).unwrap();
}

#[test]
fn verify_says_no_to_the_tampered_vector() {
    let out = capf(&[
        "signed".as_ref(),
        "verify".as_ref(),
        "--certificate".as_ref(),
        vectors().join("sgn/keys/ccm-tftp.pem").as_os_str(),
        vectors()
            .join("sgn/SEP001122334455-tampered.cnf.xml.sgn")
            .as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("signature invalid"),
        "{}",
        text(&out.stderr)
    );

    // The wrong certificate is named, not silently tried.
    let out = capf(&[
        "signed".as_ref(),
        "verify".as_ref(),
        "--certificate".as_ref(),
        vectors().join("sgn/keys/phone-lsc.pem").as_os_str(),
        vectors()
            .join("sgn/SEP001122334455.cnf.xml.sgn")
            .as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("d43fecc03da547ad4fdee8a263a55c"));
}

#[test]
fn firmware_is_shown_as_not_verifiable() {
    let firmware = vectors().join("real/firmware/sccp/term41.default.loads");
    let out = capf(&["signed".as_ref(), "show".as_ref(), firmware.as_os_str()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("signature cannot be checked: Cisco's signing key is not public"),
        "{stdout}"
    );
    assert!(stdout.contains("CN=someSigner;OU=someOrgUnit;O=someOrg"));

    let out = capf(&[
        "signed".as_ref(),
        "show".as_ref(),
        "--json".as_ref(),
        firmware.as_os_str(),
    ]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["payload_length"], 234);
    assert_eq!(json["payload_offset"], 408);
    assert_eq!(json["timestamp"], serde_json::Value::Null);
    assert!(
        json["signature_status"]
            .as_str()
            .unwrap()
            .contains("cannot be checked")
    );

    let out = capf(&[
        "signed".as_ref(),
        "verify".as_ref(),
        "--certificate".as_ref(),
        vectors().join("sgn/keys/ccm-tftp.pem").as_os_str(),
        firmware.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot be checked"));

    // The newer container is "not this format": bad input.
    let newer = vectors().join("real/firmware/sip/sip78xx.11-0-1-11.loads");
    let out = capf(&["signed".as_ref(), "show".as_ref(), newer.as_os_str()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("CD 34 12 AB"));
}

#[test]
fn help_is_there() {
    for command in ["show", "sign", "verify", "strip"] {
        let out = capf(&["signed".as_ref(), command.as_ref(), "--help".as_ref()]);
        assert!(out.status.success());
        assert!(
            text(&out.stdout).contains("Usage: capf signed"),
            "{command}"
        );
    }
    let out = capf(&["signed".as_ref(), "verify".as_ref()]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "missing arguments are bad usage"
    );
}
