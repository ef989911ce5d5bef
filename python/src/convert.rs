//! Certificates and private keys as Python callers hold them: PEM or DER
//! bytes (or `str` PEM), or `cryptography` objects when that package is
//! installed. `cryptography` is never imported unless the caller passes an
//! object that is neither bytes nor text, so the package imports and works
//! without it.

use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyString};

use crate::errors::{FileResultExt, Kind, new_error};

/// The bytes of a `bytes`, `bytearray` or `str` value, if it is one.
fn plain_bytes(value: &Bound<'_, PyAny>) -> Option<Vec<u8>> {
    if let Ok(bytes) = value.cast::<PyBytes>() {
        return Some(bytes.as_bytes().to_vec());
    }
    if let Ok(array) = value.cast::<PyByteArray>() {
        return Some(array.to_vec());
    }
    if let Ok(text) = value.cast::<PyString>() {
        return text.to_cow().ok().map(|text| text.as_bytes().to_vec());
    }
    None
}

/// `cryptography.hazmat.primitives.serialization`, imported on demand.
fn serialization(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    py.import("cryptography.hazmat.primitives.serialization")
}

/// A certificate as PEM or DER bytes: `bytes`/`bytearray`/`str` as given,
/// a `cryptography.x509.Certificate` (anything with `public_bytes`) as DER.
pub(crate) fn certificate_bytes(value: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Some(bytes) = plain_bytes(value) {
        return Ok(bytes);
    }
    if value.hasattr("public_bytes")? {
        let encoding = serialization(value.py())?
            .getattr("Encoding")?
            .getattr("DER")?;
        let der = value.call_method1("public_bytes", (encoding,))?;
        if let Some(bytes) = plain_bytes(&der) {
            return Ok(bytes);
        }
    }
    Err(new_error(
        Kind::Misuse,
        "a certificate must be PEM or DER bytes, or a cryptography.x509.Certificate".to_owned(),
        None,
    ))
}

/// A list of certificates (each as [`certificate_bytes`]), or one.
pub(crate) fn certificate_list(value: &Bound<'_, PyAny>) -> PyResult<Vec<Vec<u8>>> {
    if plain_bytes(value).is_some() || value.hasattr("public_bytes")? {
        return Ok(vec![certificate_bytes(value)?]);
    }
    let mut out = Vec::new();
    for item in value.try_iter()? {
        out.push(certificate_bytes(&item?)?);
    }
    Ok(out)
}

/// A private key as PEM or DER bytes: `bytes`/`bytearray`/`str` as given,
/// a `cryptography` private key (anything with `private_bytes`) as
/// unencrypted PKCS #8 PEM. Errors never quote the key.
pub(crate) fn private_key_bytes(value: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Some(bytes) = plain_bytes(value) {
        return Ok(bytes);
    }
    if value.hasattr("private_bytes")? {
        let module = serialization(value.py())?;
        let encoding = module.getattr("Encoding")?.getattr("PEM")?;
        let format = module.getattr("PrivateFormat")?.getattr("PKCS8")?;
        let none = module.getattr("NoEncryption")?.call0()?;
        let pem = value.call_method1("private_bytes", (encoding, format, none))?;
        if let Some(bytes) = plain_bytes(&pem) {
            return Ok(bytes);
        }
    }
    Err(new_error(
        Kind::Misuse,
        "a private key must be PEM or DER bytes, or a cryptography private key".to_owned(),
        None,
    ))
}

/// A public key as DER SubjectPublicKeyInfo: DER bytes as given, PEM
/// (`PUBLIC KEY`) decoded, a `cryptography` public key (anything with
/// `public_bytes`) exported as DER SubjectPublicKeyInfo.
pub(crate) fn public_key_spki(value: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    let bad = || {
        new_error(
            Kind::Misuse,
            "a public key must be DER SubjectPublicKeyInfo, PEM PUBLIC KEY, or a cryptography \
             public key"
                .to_owned(),
            None,
        )
    };
    let bytes = match plain_bytes(value) {
        Some(bytes) => bytes,
        None if value.hasattr("public_bytes")? => {
            let module = serialization(value.py())?;
            let encoding = module.getattr("Encoding")?.getattr("DER")?;
            let format = module
                .getattr("PublicFormat")?
                .getattr("SubjectPublicKeyInfo")?;
            let der = value.call_method1("public_bytes", (encoding, format))?;
            return plain_bytes(&der).ok_or_else(bad);
        }
        None => return Err(bad()),
    };
    if !ctl_format::pem::is_pem(&bytes) {
        return Ok(bytes);
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| bad())?;
    let blocks = ctl_format::pem::pem_blocks(text).map_err(|_| bad())?;
    blocks
        .into_iter()
        .find(|block| block.label == "PUBLIC KEY")
        .map(|block| block.der)
        .ok_or_else(bad)
}

/// The DER of the first certificate of PEM or DER bytes.
pub(crate) fn certificate_der(bytes: &[u8]) -> PyResult<Vec<u8>> {
    certificate(bytes).map(|certificate| certificate.der().to_vec())
}

/// An RSA private key from PEM text (PKCS #8 or PKCS #1) or DER (PKCS #8,
/// then PKCS #1). The error never quotes the key.
pub(crate) fn rsa_private_key(bytes: &[u8]) -> PyResult<rsa::RsaPrivateKey> {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::pkcs8::DecodePrivateKey;
    if ctl_format::pem::is_pem(bytes) {
        let text = std::str::from_utf8(bytes).map_err(|_| {
            new_error(
                Kind::Misuse,
                "the private key is not PEM text".to_owned(),
                None,
            )
        })?;
        return ctl_format::pem::rsa_private_key(text).py_err();
    }
    rsa::RsaPrivateKey::from_pkcs8_der(bytes)
        .or_else(|_| rsa::RsaPrivateKey::from_pkcs1_der(bytes))
        .map_err(|_| {
            // An unreadable key is the caller's unusable key (as ctl-format
            // classes a PEM key it cannot read), not malformed file input.
            new_error(
                Kind::Misuse,
                "the private key is neither RSA PEM nor RSA PKCS #8 / PKCS #1 DER".to_owned(),
                None,
            )
        })
}

/// A private key (RSA or EC) as PKCS #8 DER, from PEM (`PRIVATE KEY`) or
/// DER bytes. The error never quotes the key.
pub(crate) fn pkcs8_der(bytes: &[u8]) -> PyResult<Vec<u8>> {
    use rsa::pkcs8::EncodePrivateKey;
    let bad = || {
        new_error(
            Kind::Misuse,
            "the private key is neither PKCS #8 nor PKCS #1 (PEM or DER)".to_owned(),
            None,
        )
    };
    if !ctl_format::pem::is_pem(bytes) {
        return Ok(bytes.to_vec());
    }
    let text = std::str::from_utf8(bytes).map_err(|_| bad())?;
    let blocks = ctl_format::pem::pem_blocks(text).map_err(|_| bad())?;
    for block in blocks {
        match block.label.as_str() {
            "PRIVATE KEY" => return Ok(block.der.clone()),
            "RSA PRIVATE KEY" => {
                use rsa::pkcs1::DecodeRsaPrivateKey;
                let key = rsa::RsaPrivateKey::from_pkcs1_der(&block.der).map_err(|_| bad())?;
                let der = key.to_pkcs8_der().map_err(|_| bad())?;
                return Ok(der.as_bytes().to_vec());
            }
            _ => {}
        }
    }
    Err(bad())
}

/// The first certificate of PEM or DER bytes.
pub(crate) fn certificate(bytes: &[u8]) -> PyResult<ctl_format::Certificate> {
    ctl_format::Certificate::all_from_pem_or_der(bytes)
        .py_err()?
        .into_iter()
        .next()
        .ok_or_else(|| new_error(Kind::Malformed, "no certificate found".to_owned(), None))
}
