//! Benchmarks live in `benches/`; this library holds what they share that
//! can be tested without timing anything: reading `openssl speed` output
//! for the load benchmark's floor.

/// Rates read from `openssl speed` output, each per (CPU) second; `None`
/// where the output has no usable figure.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SpeedRates {
    /// RSA-2048 private-key operations (signatures) per second.
    pub rsa2048_sign: Option<f64>,
    /// ECDSA P-256 signatures per second.
    pub ecdsa_p256_sign: Option<f64>,
    /// X25519 ECDH operations (shared-secret derivations) per second.
    pub ecdh_x25519: Option<f64>,
    /// P-256 ECDH operations per second.
    pub ecdh_p256: Option<f64>,
    /// SHA-256 bytes hashed per second (for the one block size measured).
    pub sha256_bytes: Option<f64>,
}

/// A positive finite number, or `None`.
fn rate(text: Option<&str>) -> Option<f64> {
    text.and_then(|text| text.trim().parse::<f64>().ok())
        .filter(|value| value.is_finite() && *value > 0.0)
}

impl SpeedRates {
    /// Reads `openssl speed` output, machine-readable (`-mr`) or the human
    /// table, for `rsa2048 ecdsap256 ecdhx25519 ecdhp256 sha256` run with
    /// one `-bytes` block size. Lines it does not know, and figures that are
    /// not positive finite numbers, are ignored; a later figure for the
    /// same rate replaces an earlier one.
    ///
    /// Machine-readable lines: `+F2:n:2048:sign/s:verify/s` (RSA),
    /// `+F4:n:256:sign/s:verify/s` (ECDSA), `+F5:n:bits:op/s:s/op` (ECDH;
    /// 253 bits is X25519, 256 P-256), `+F:n:sha256:bytes/s`. Human lines:
    /// `rsa 2048 bits 0.000303s 0.000016s 3296.4 61175.0`,
    /// ` 256 bits ecdsa (nistp256) 0.0000s 0.0001s 47336.0 15024.1`,
    /// ` 253 bits ecdh (X25519) 0.0000s 32838.5`, `sha256 1693317.91k`
    /// (thousands of bytes per second).
    pub fn parse(text: &str) -> Self {
        let mut rates = Self::default();
        let set = |slot: &mut Option<f64>, value: Option<f64>| {
            if value.is_some() {
                *slot = value;
            }
        };
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('+') {
                let fields: Vec<&str> = line.split(':').collect();
                let field = |index: usize| fields.get(index).copied();
                match (field(0), field(2)) {
                    (Some("+F2"), Some("2048")) => set(&mut rates.rsa2048_sign, rate(field(3))),
                    (Some("+F4"), Some("256")) => set(&mut rates.ecdsa_p256_sign, rate(field(3))),
                    (Some("+F5"), Some("253")) => set(&mut rates.ecdh_x25519, rate(field(3))),
                    (Some("+F5"), Some("256")) => set(&mut rates.ecdh_p256, rate(field(3))),
                    (Some("+F"), Some("sha256")) => set(&mut rates.sha256_bytes, rate(field(3))),
                    _ => {}
                }
                continue;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            // The figures after the algorithm's "(name)".
            let after_name = || -> Vec<&str> {
                match line.rfind(')') {
                    Some(end) => line[end + 1..].split_whitespace().collect(),
                    None => Vec::new(),
                }
            };
            match words.as_slice() {
                ["rsa", "2048", "bits", _, _, sign, _] => {
                    set(&mut rates.rsa2048_sign, rate(Some(sign)));
                }
                ["256", "bits", "ecdsa", "(nistp256)", ..] => {
                    set(
                        &mut rates.ecdsa_p256_sign,
                        rate(after_name().get(2).copied()),
                    );
                }
                ["253", "bits", "ecdh", "(X25519)", ..] => {
                    set(&mut rates.ecdh_x25519, rate(after_name().get(1).copied()));
                }
                ["256", "bits", "ecdh", "(nistp256)", ..] => {
                    set(&mut rates.ecdh_p256, rate(after_name().get(1).copied()));
                }
                ["sha256", thousands] => {
                    let value = rate(thousands.strip_suffix('k')).map(|k| k * 1000.0);
                    set(&mut rates.sha256_bytes, value);
                }
                _ => {}
            }
        }
        rates
    }
}

#[cfg(test)]
mod tests {
    use super::SpeedRates;

    /// `openssl speed -mr -seconds 1 -bytes 8192 rsa2048 ecdsap256
    /// ecdhx25519 ecdhp256 sha256` output of OpenSSL 3.0.19 on the
    /// development machine (the rate lines, with the lines around them).
    const MACHINE_READABLE: &str = "\
+DT:sha256:1:8192
+R:69901:sha256:0.350000
+DTP:2048:private:rsa:1
+R1:3195:2048:0.89
+DTP:2048:public:rsa:1
+R2:62424:2048:0.95
+DTP:256:sign:ecdsa:1
+R5:50012:256:0.94
+DTP:256::ecdh:1
+R7:18777:256:0.91
+DTP:253::ecdh:1
+R7:28050:253:0.81
+H:8192
+F:6:sha256:1636082834.29
+F2:2:2048:3589.887640:65709.473684
+F4:3:256:53204.255319:16593.023256
+F5:3:256:20634.065934:0.000048
+F5:22:253:34629.629630:0.000029
";

    /// The same command without `-mr` (OpenSSL 3.0.19).
    const HUMAN: &str = "\
The 'numbers' are in 1000s of bytes per second processed.
type           8192 bytes
sha256         1693317.91k
                  sign    verify    sign/s verify/s
rsa 2048 bits 0.000303s 0.000016s   3296.4  61175.0
                              sign    verify    sign/s verify/s
 256 bits ecdsa (nistp256)   0.0000s   0.0001s  47336.0  15024.1
                              op      op/s
 256 bits ecdh (nistp256)   0.0001s  19258.6
 253 bits ecdh (X25519)   0.0000s  32838.5
";

    #[test]
    fn reads_machine_readable_output() {
        assert_eq!(
            SpeedRates::parse(MACHINE_READABLE),
            SpeedRates {
                rsa2048_sign: Some(3589.887640),
                ecdsa_p256_sign: Some(53204.255319),
                ecdh_x25519: Some(34629.629630),
                ecdh_p256: Some(20634.065934),
                sha256_bytes: Some(1636082834.29),
            }
        );
    }

    #[test]
    fn reads_the_human_table() {
        let rates = SpeedRates::parse(HUMAN);
        assert_eq!(rates.rsa2048_sign, Some(3296.4));
        assert_eq!(rates.ecdsa_p256_sign, Some(47336.0));
        assert_eq!(rates.ecdh_x25519, Some(32838.5));
        assert_eq!(rates.ecdh_p256, Some(19258.6));
        let sha = rates.sha256_bytes.unwrap_or_default();
        assert!((sha - 1_693_317_910.0).abs() < 1.0, "{sha}");
    }

    #[test]
    fn ignores_what_is_not_a_usable_rate() {
        let text = "\
+F2:2:2048:nan:1
+F2:2:4096:1000.0:1
+F4:3:256:-5:1
+F5:3:256:0:1
+F5:22:253
+F:6:sha256:inf
rsa 2048 bits 0.000303s 0.000016s   x  61175.0
 253 bits ecdh (X25519)
sha256 12.5
garbage: +F2:2:2048:3000
";
        assert_eq!(SpeedRates::parse(text), SpeedRates::default());
        assert_eq!(SpeedRates::parse(""), SpeedRates::default());
    }

    #[test]
    fn a_bad_figure_does_not_erase_a_good_one() {
        let rates = SpeedRates::parse("+F2:2:2048:3000.5:1\n+F2:3:2048:bad:1\n");
        assert_eq!(rates.rsa2048_sign, Some(3000.5));
    }
}
