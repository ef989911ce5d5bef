//! The device name a phone puts in VERIFY_REQUEST (spec section 4).

use core::fmt;

/// Longest model part accepted (`CP-<model>-SEP…`), in characters.
pub const MAX_MODEL_LEN: usize = 16;

/// A device name of the form `CP-<model>-SEP<MAC>`, checked.
///
/// Accepted: `CP-`, a model of 1 to [`MAX_MODEL_LEN`] ASCII letters and
/// digits, `-SEP`, 12 hex digits (either case). The reference server accepts
/// only 4 decimal digits and upper-case hex ([`is_reference_form`]); Cisco
/// model names may hold letters (7975G), so ours is wider, and anything else
/// is a [`TvsDeviceNameError`] the host can log.
///
/// ```
/// use capf_core::tvs::TvsDeviceName;
/// let name = TvsDeviceName::parse(b"CP-8845-SEP001122334455").unwrap();
/// assert_eq!(name.model(), "8845");
/// assert_eq!(name.mac(), "001122334455");
/// assert!(name.is_reference_form());
/// assert!(!TvsDeviceName::parse(b"CP-7975G-SEP00112233aabb").unwrap().is_reference_form());
/// assert!(TvsDeviceName::parse(b"SEP001122334455").is_err());
/// ```
///
/// [`is_reference_form`]: Self::is_reference_form
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TvsDeviceName {
    text: String,
    model_len: usize,
}

/// Why a device name is refused.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TvsDeviceNameError {
    /// The name holds a byte that is not printable ASCII, at this index.
    #[error("device name byte {index} is not printable ASCII")]
    NotPrintableAscii {
        /// Index of the byte in the name.
        index: usize,
    },
    /// The name does not start with `CP-`.
    #[error("device name does not start with CP-")]
    MissingPrefix,
    /// No `-SEP` follows the model.
    #[error("device name has no -SEP after the model")]
    MissingSep,
    /// The model is empty, too long, or not letters and digits.
    #[error("device name model is not 1-{MAX_MODEL_LEN} letters and digits")]
    BadModel,
    /// What follows `-SEP` is not 12 hex digits.
    #[error("device name MAC is not 12 hex digits")]
    BadMac,
}

impl TvsDeviceName {
    /// Checks a name as received (without the lead byte).
    pub fn parse(bytes: &[u8]) -> Result<Self, TvsDeviceNameError> {
        if let Some(index) = bytes.iter().position(|byte| !byte.is_ascii_graphic()) {
            return Err(TvsDeviceNameError::NotPrintableAscii { index });
        }
        let text = core::str::from_utf8(bytes)
            .map_err(|_| TvsDeviceNameError::NotPrintableAscii { index: 0 })?;
        let rest = text
            .strip_prefix("CP-")
            .ok_or(TvsDeviceNameError::MissingPrefix)?;
        let (model, mac) = rest
            .split_once("-SEP")
            .ok_or(TvsDeviceNameError::MissingSep)?;
        if model.is_empty()
            || model.len() > MAX_MODEL_LEN
            || !model.bytes().all(|byte| byte.is_ascii_alphanumeric())
        {
            return Err(TvsDeviceNameError::BadModel);
        }
        if mac.len() != 12 || !mac.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return Err(TvsDeviceNameError::BadMac);
        }
        Ok(Self {
            text: text.to_owned(),
            model_len: model.len(),
        })
    }

    /// The whole name.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The model part (`8845`).
    pub fn model(&self) -> &str {
        self.text
            .get(3..3_usize.saturating_add(self.model_len))
            .unwrap_or_default()
    }

    /// The 12 hex digits after `SEP`.
    pub fn mac(&self) -> &str {
        self.text
            .get(self.text.len().saturating_sub(12)..)
            .unwrap_or_default()
    }

    /// True if the reference server would accept it too: a 4-digit model and
    /// upper-case hex.
    pub fn is_reference_form(&self) -> bool {
        let model = self.model();
        model.len() == 4
            && model.bytes().all(|byte| byte.is_ascii_digit())
            && self
                .mac()
                .bytes()
                .all(|byte| byte.is_ascii_digit() || byte.is_ascii_uppercase())
    }
}

impl fmt::Display for TvsDeviceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_and_refused_forms() {
        for good in [
            "CP-0000-SEP000000000000",
            "CP-8865-SEPA0B1C2D3E4F5",
            "CP-7975G-SEPa0b1c2d3e4f5",
            "CP-X-SEP000000000000",
        ] {
            assert!(TvsDeviceName::parse(good.as_bytes()).is_ok(), "{good}");
        }
        let cases: [(&[u8], TvsDeviceNameError); 8] = [
            (b"SEP001122334455", TvsDeviceNameError::MissingPrefix),
            (b"CP-8845-001122334455", TvsDeviceNameError::MissingSep),
            (b"CP--SEP001122334455", TvsDeviceNameError::BadModel),
            (b"CP-88_45-SEP001122334455", TvsDeviceNameError::BadModel),
            (b"CP-8845-SEP00112233445", TvsDeviceNameError::BadMac),
            (b"CP-8845-SEP0011223344556", TvsDeviceNameError::BadMac),
            (b"CP-8845-SEP00112233445G", TvsDeviceNameError::BadMac),
            (
                b"CP-8845 SEP001122334455",
                TvsDeviceNameError::NotPrintableAscii { index: 7 },
            ),
        ];
        for (bad, error) in cases {
            assert_eq!(TvsDeviceName::parse(bad), Err(error));
        }
        assert_eq!(
            TvsDeviceName::parse(b""),
            Err(TvsDeviceNameError::MissingPrefix)
        );
        assert_eq!(
            TvsDeviceName::parse(&[b'C', 0xff]),
            Err(TvsDeviceNameError::NotPrintableAscii { index: 1 })
        );
        assert_eq!(
            TvsDeviceName::parse(b"CP-12345678901234567-SEP001122334455"),
            Err(TvsDeviceNameError::BadModel)
        );
    }

    #[test]
    fn parts() {
        let name = TvsDeviceName::parse(b"CP-7975G-SEP00112233AABB").unwrap();
        assert_eq!(name.model(), "7975G");
        assert_eq!(name.mac(), "00112233AABB");
        assert_eq!(name.to_string(), "CP-7975G-SEP00112233AABB");
        assert!(!name.is_reference_form());
        assert!(
            TvsDeviceName::parse(b"CP-7841-SEP00112233AA01")
                .unwrap()
                .is_reference_form()
        );
    }
}
