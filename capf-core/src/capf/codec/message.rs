//! Constructors for every documented message, in the element orders of spec
//! section 8 (the orders real peers send; the only ones this crate emits).

use super::command::Command;
use super::element::{
    AuthType, CertificateType, Curve, Element, KeyType, Password, Reason, Sha2SignedData, SudiData,
    Version, WireDeviceName, WrappedCertificate,
};
use super::frame::Frame;

/// The certificate-authentication proof of an AUTH_RESPONSE (section 9.3):
/// the certificate and its two signatures over M1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateProof {
    /// The LSC or MIC, in its wrapper (type 1, as the reference sends).
    pub certificate: WrappedCertificate,
    /// SIGNED_DATA: the SHA-1 signature over M1.
    pub sha1_signature: Vec<u8>,
    /// SHA2_SIGNED_DATA: the SHA-512 signature over M1 (hash id 3).
    pub sha512_signature: Sha2SignedData,
}

/// What a phone puts in its AUTH_RESPONSE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthResponseFields {
    /// VERSION; [`Version::CURRENT`] (3) unless imitating another client.
    pub version: Version,
    /// DEVICE_NAME, e.g. `SEP001122334455`.
    pub device_name: WireDeviceName,
    /// PASSWORD; the reference client always sends one, empty
    /// ([`Password::empty`]) in null-string and certificate modes.
    pub password: Password,
    /// CERTIFICATE, SIGNED_DATA and SHA2_SIGNED_DATA, in certificate mode.
    pub certificate_proof: Option<CertificateProof>,
    /// SUDI_DATA, optional (certificate mode).
    pub sudi: Option<SudiData>,
}

impl AuthResponseFields {
    /// Version 3, the given name and password, no certificate proof.
    pub fn new(device_name: WireDeviceName, password: Password) -> Self {
        Self {
            version: Version::CURRENT,
            device_name,
            password,
            certificate_proof: None,
            sudi: None,
        }
    }
}

impl Frame {
    /// AUTH_REQUEST (1), server to phone: VERSION=3, then AUTH_TYPE if
    /// given. The reference sends `Some(AuthType::NotStated)`; a real CUCM
    /// sends VERSION alone (`None`).
    pub fn auth_request(session_id: u32, auth_type: Option<AuthType>) -> Self {
        let mut elements = vec![Element::Version(Version::CURRENT)];
        elements.extend(auth_type.map(Element::AuthType));
        Self::new(Command::AuthRequest, session_id, elements)
    }

    /// AUTH_RESPONSE (2), phone to server, in the reference client's order:
    /// REASON=1, CERTIFICATE and SIGNED_DATA (certificate mode), VERSION,
    /// PASSWORD, DEVICE_NAME, SUDI_DATA (if given), SHA2_SIGNED_DATA
    /// (certificate mode).
    pub fn auth_response(session_id: u32, fields: AuthResponseFields) -> Self {
        let AuthResponseFields {
            version,
            device_name,
            password,
            certificate_proof,
            sudi,
        } = fields;
        let mut elements = vec![Element::Reason(Reason::Success)];
        let sha2 = certificate_proof.map(|proof| {
            elements.push(Element::Certificate(proof.certificate));
            elements.push(Element::SignedData(proof.sha1_signature));
            Element::Sha2SignedData(proof.sha512_signature)
        });
        elements.push(Element::Version(version));
        elements.push(Element::Password(password));
        elements.push(Element::DeviceName(device_name));
        elements.extend(sudi.map(Element::SudiData));
        elements.extend(sha2);
        Self::new(Command::AuthResponse, session_id, elements)
    }

    /// KEY_GEN_REQUEST (3) for an RSA key: KEY_SIZE (bits), KEY_TYPE=0.
    pub fn key_gen_request_rsa(session_id: u32, key_size_bits: u16) -> Self {
        Self::new(
            Command::KeyGenRequest,
            session_id,
            vec![
                Element::KeySize(key_size_bits),
                Element::KeyType(KeyType::Rsa),
            ],
        )
    }

    /// KEY_GEN_REQUEST (3) for an EC key: KEY_TYPE=1, CURVE.
    pub fn key_gen_request_ec(session_id: u32, curve: Curve) -> Self {
        Self::new(
            Command::KeyGenRequest,
            session_id,
            vec![Element::KeyType(KeyType::Ec), Element::Curve(curve)],
        )
    }

    /// REQUEST_IN_PROGRESS (17), phone to server: empty body.
    pub fn request_in_progress(session_id: u32) -> Self {
        Self::new(Command::RequestInProgress, session_id, Vec::new())
    }

    /// KEY_GEN_RESPONSE (4) on success: PUBLIC_KEY (DER SubjectPublicKeyInfo).
    pub fn key_gen_response(session_id: u32, public_key_spki: Vec<u8>) -> Self {
        Self::new(
            Command::KeyGenResponse,
            session_id,
            vec![Element::PublicKey(public_key_spki)],
        )
    }

    /// KEY_GEN_RESPONSE (4) on success with a phone-signed certificate
    /// request (our reading, see
    /// [`certificate_request`](crate::capf::certificate_request)):
    /// PUBLIC_KEY, then SIGNED_DATA = the DER PKCS#10 request.
    pub fn key_gen_response_with_certificate_request(
        session_id: u32,
        public_key_spki: Vec<u8>,
        certificate_request_der: Vec<u8>,
    ) -> Self {
        Self::new(
            Command::KeyGenResponse,
            session_id,
            vec![
                Element::PublicKey(public_key_spki),
                Element::SignedData(certificate_request_der),
            ],
        )
    }

    /// KEY_GEN_RESPONSE (4) on failure: REASON only (7 in our tests).
    pub fn key_gen_failure(session_id: u32, reason: Reason) -> Self {
        Self::new(
            Command::KeyGenResponse,
            session_id,
            vec![Element::Reason(reason)],
        )
    }

    /// STORE_CERT_REQUEST (9): CERT_TYPE=1, CERTIFICATE (wrapper type 1).
    pub fn store_cert_request(session_id: u32, certificate_der: Vec<u8>) -> Self {
        Self::new(
            Command::StoreCertRequest,
            session_id,
            vec![
                Element::CertificateType(CertificateType::Lsc),
                Element::Certificate(WrappedCertificate::lsc(certificate_der)),
            ],
        )
    }

    /// STORE_CERT_RESPONSE (10): REASON (1 stored, anything else failed).
    pub fn store_cert_response(session_id: u32, reason: Reason) -> Self {
        Self::new(
            Command::StoreCertResponse,
            session_id,
            vec![Element::Reason(reason)],
        )
    }

    /// FETCH_CERT_REQUEST (11): empty body.
    pub fn fetch_cert_request(session_id: u32) -> Self {
        Self::new(Command::FetchCertRequest, session_id, Vec::new())
    }

    /// FETCH_CERT_RESPONSE (12): REASON=1 and CERTIFICATE (wrapper type 1)
    /// when the phone has an LSC, REASON=7 alone when it has none.
    pub fn fetch_cert_response(session_id: u32, certificate_der: Option<Vec<u8>>) -> Self {
        let elements = match certificate_der {
            Some(der) => vec![
                Element::Reason(Reason::Success),
                Element::Certificate(WrappedCertificate::lsc(der)),
            ],
            None => vec![Element::Reason(Reason::Failure)],
        };
        Self::new(Command::FetchCertResponse, session_id, elements)
    }

    /// DELETE_CERT_REQUEST (13): empty body.
    pub fn delete_cert_request(session_id: u32) -> Self {
        Self::new(Command::DeleteCertRequest, session_id, Vec::new())
    }

    /// DELETE_CERT_RESPONSE (14): REASON (1 deleted, 7 nothing to delete).
    pub fn delete_cert_response(session_id: u32, reason: Reason) -> Self {
        Self::new(
            Command::DeleteCertResponse,
            session_id,
            vec![Element::Reason(reason)],
        )
    }

    /// END_SESSION (15), server to phone: REASON.
    pub fn end_session(session_id: u32, reason: Reason) -> Self {
        Self::new(
            Command::EndSession,
            session_id,
            vec![Element::Reason(reason)],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
        digits
            .chunks(2)
            .map(|pair| u8::from_str_radix(core::str::from_utf8(pair).unwrap(), 16).unwrap())
            .collect()
    }

    #[test]
    fn section_8_examples() {
        assert_eq!(
            Frame::auth_request(1, Some(AuthType::NotStated))
                .encode()
                .unwrap(),
            hex("55 01 00000001 0008 07 0001 03 08 0001 00")
        );
        assert_eq!(
            Frame::auth_request(1, None).encode().unwrap(),
            hex("55 01 00000001 0004 07 0001 03")
        );
        assert_eq!(
            Frame::auth_response(
                1,
                AuthResponseFields::new(
                    WireDeviceName::new("SEP001122334455"),
                    Password::new("123456")
                )
            )
            .encode()
            .unwrap(),
            hex(
                "55 02 00000001 0025 01 0001 01 07 0001 03 0B 0007 31 32 33 34 35 36 00
                 0D 0010 53 45 50 30 30 31 31 32 32 33 33 34 34 35 35 00"
            )
        );
        assert_eq!(
            Frame::key_gen_request_rsa(1, 2048).encode().unwrap(),
            hex("55 03 00000001 0009 0A 0002 0800 11 0001 00")
        );
        assert_eq!(
            Frame::key_gen_request_ec(2, Curve::P256).encode().unwrap(),
            hex("55 03 00000002 0008 11 0001 01 12 0001 00")
        );
        assert_eq!(
            Frame::key_gen_response_with_certificate_request(
                1,
                vec![0x30, 0x00],
                vec![0x30, 0x01, 0x05]
            )
            .encode()
            .unwrap(),
            hex("55 04 00000001 000b 09 0002 30 00 06 0003 30 01 05")
        );
        assert_eq!(
            Frame::request_in_progress(7).encode().unwrap(),
            hex("55 11 00000007 0000")
        );
        assert_eq!(
            Frame::store_cert_request(1, vec![0x30, 0x00])
                .encode()
                .unwrap(),
            hex("55 09 00000001 000e 03 0001 01 04 0007 01 0004 00 01 30 00")
        );
        assert_eq!(
            Frame::fetch_cert_response(1, None).encode().unwrap(),
            hex("55 0c 00000001 0004 01 0001 07")
        );
        assert_eq!(
            Frame::end_session(0x0101, Reason::UnknownDevice)
                .encode()
                .unwrap(),
            hex("55 0f 00000101 0004 01 0001 09")
        );
    }

    #[test]
    fn certificate_auth_response_order() {
        let mut fields =
            AuthResponseFields::new(WireDeviceName::new("SEP001122334455"), Password::empty());
        fields.certificate_proof = Some(CertificateProof {
            certificate: WrappedCertificate::lsc(vec![0x30, 0x00]),
            sha1_signature: vec![1; 4],
            sha512_signature: Sha2SignedData::sha512(vec![2; 4]),
        });
        fields.sudi = Some(SudiData::new(vec![0x30, 0x00], vec![3; 4], vec![4; 4]));
        let frame = Frame::auth_response(257, fields);
        let tags: Vec<u8> = frame
            .elements
            .iter()
            .map(|element| element.tag().code())
            .collect();
        assert_eq!(tags, [1, 4, 6, 7, 11, 13, 16, 20]);
        let decoded = Frame::decode(&frame.encode().unwrap()).unwrap();
        assert_eq!(decoded, frame);
    }
}
