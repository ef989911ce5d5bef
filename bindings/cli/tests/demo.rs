//! `capf demo`: the whole PKI on loopback, run as the binary. Every part
//! must give its expected answer and say so in the summary: enrolments by
//! each authentication mode, the CTL, TVS over TLS, trust explained and a
//! rollover predicted.

mod support;

use support::{capf, text};

/// The summary line that starts with `prefix`, trimmed.
fn line<'a>(stdout: &'a str, prefix: &str) -> &'a str {
    stdout
        .lines()
        .map(str::trim)
        .find(|line| line.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting {prefix:?} in:\n{stdout}"))
}

#[test]
fn demo_shows_enrolment_ctl_tvs_trust_and_rollover() {
    let output = capf(&["demo".as_ref()]);
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        text(&output.stderr)
    );
    assert!(!stdout.contains("FAILED"), "{stdout}");
    assert!(stdout.ends_with("demo: everything worked\n"), "{stdout}");

    // Both listeners, on loopback.
    assert!(line(&stdout, "CAPF server on 127.0.0.1:").contains("TLS"));
    assert!(line(&stdout, "TVS server on 127.0.0.1:").contains("CN=TVS-demo"));

    // Enrolment: four installs (auth string, null, auth string, MIC), an
    // LSC-authenticated renewal, a fetch and a delete.
    assert_eq!(stdout.matches("LSC installed").count(), 5, "{stdout}");
    assert!(
        stdout.contains("certificate fetched by the server"),
        "{stdout}"
    );
    assert!(stdout.contains("LSC deleted"), "{stdout}");
    assert!(
        line(&stdout, "CTL:")
            .ends_with("2 records (SAST, CAPF), signed by record 1 with sha1, verified"),
        "{stdout}"
    );

    // TVS vouches for the registered CAPF certificate with its role and
    // answers INVALID for a certificate nobody registered (tvs-protocol.md).
    assert_eq!(
        line(&stdout, "CAPF certificate CN=CAPF-demo"),
        "CAPF certificate CN=CAPF-demo (registered, role CAPF): valid, roles CAPF, ttl 3600 s"
    );
    assert_eq!(
        line(&stdout, "MIC CN=CP-8865-SEP0000000000A4"),
        "MIC CN=CP-8865-SEP0000000000A4 (not registered): INVALID"
    );

    // Trust: the LSC through the CAPF certificate; the MIC refused for the
    // phone's web page with Cisco's advice.
    assert!(
        line(&stdout, "LSC of SEP0000000000A1 as TLS client")
            .ends_with("TRUSTED (anchor CN=CAPF-demo,O=capf demo)"),
        "{stdout}"
    );
    assert!(
        line(&stdout, "LSC of SEP0000000000A1 for CAPF re-enrolment")
            .ends_with("TRUSTED (anchor CN=CAPF-demo,O=capf demo)"),
        "{stdout}"
    );
    assert!(
        line(&stdout, "MIC of SEP0000000000A4 as the phone's web server")
            .ends_with("NOT TRUSTED (unknown-issuer)"),
        "{stdout}"
    );
    let mic_fix = line(&stdout, "fix: this is a MIC");
    assert!(mic_fix.contains("Cisco advises against"), "{mic_fix}");
    assert!(mic_fix.contains("issue an LSC instead"), "{mic_fix}");

    // Rollover: same SAST accepted, a new unknown SAST strands the phones
    // (tlv-files.md 8.4, 10).
    assert_eq!(
        line(&stdout, "CTL re-signed by SAST-demo"),
        "CTL re-signed by SAST-demo: ACCEPTED (same-certificate)"
    );
    assert_eq!(
        line(&stdout, "CTL signed by a new SAST key"),
        "CTL signed by a new SAST key (SAST-new): STRANDED (signer-unknown)"
    );
    assert!(
        line(&stdout, "phone:").contains("Trust List Update Failed"),
        "{stdout}"
    );
    assert!(
        line(&stdout, "fix: Either sign the new CTL").contains("SAST-demo"),
        "{stdout}"
    );
}
