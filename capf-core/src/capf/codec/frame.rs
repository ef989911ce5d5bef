//! One frame: the 8-byte header and the element body (spec section 3).

use super::command::Command;
use super::element::{
    AuthType, CertificateType, Curve, Element, ElementTag, KeyType, Password, Reason,
    Sha2SignedData, SudiData, Version, WireDeviceName, WrappedCertificate,
};
use super::error::{EncodeError, WireError};
use crate::framing::walk_elements;

/// The protocol id, first byte of every frame in both directions.
pub const PROTOCOL_ID: u8 = 0x55;

/// Length of the frame header.
pub const HEADER_LEN: usize = 8;

/// The largest body a header can announce.
pub const MAX_BODY_LEN: u16 = u16::MAX;

/// Offset of the body-length field in the header.
const BODY_LENGTH_OFFSET: usize = 6;

/// The decoded 8-byte header: `55 | command | session id (4) | body length (2)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameHeader {
    /// Byte 1.
    pub command: Command,
    /// Bytes 2-5, big-endian.
    pub session_id: u32,
    /// Bytes 6-7, big-endian: the number of body bytes that follow.
    pub body_length: u16,
}

impl FrameHeader {
    /// Reads a header from the start of `bytes`.
    ///
    /// Returns `Ok(None)` while fewer than 8 bytes are available; the
    /// protocol id is checked as soon as the first byte is there, so a
    /// stream of garbage fails at once.
    pub fn parse(bytes: &[u8]) -> Result<Option<Self>, WireError> {
        match bytes.first() {
            None => return Ok(None),
            Some(&PROTOCOL_ID) => {}
            Some(&found) => return Err(WireError::BadProtocolId { offset: 0, found }),
        }
        let &[_, command, s0, s1, s2, s3, l0, l1, ..] = bytes else {
            return Ok(None);
        };
        Ok(Some(Self {
            command: Command::from_code(command),
            session_id: u32::from_be_bytes([s0, s1, s2, s3]),
            body_length: u16::from_be_bytes([l0, l1]),
        }))
    }

    /// The length of the whole frame, header included.
    pub fn frame_length(&self) -> usize {
        HEADER_LEN.saturating_add(usize::from(self.body_length))
    }

    /// The 8 header bytes.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let [s0, s1, s2, s3] = self.session_id.to_be_bytes();
        let [l0, l1] = self.body_length.to_be_bytes();
        [PROTOCOL_ID, self.command.code(), s0, s1, s2, s3, l0, l1]
    }
}

/// One CAPF frame: command, session id and the body's elements in wire
/// order.
///
/// [`Frame::encode`] writes the elements in the order of `elements`, so a
/// decoded frame re-encodes byte for byte. The message constructors
/// ([`Frame::auth_request`] …) build the element lists in the orders of spec
/// section 8, the only orders this crate emits.
///
/// The element accessors ([`Frame::reason`], [`Frame::device_name`] …)
/// return the *first* element of their tag; a receiver that must not be
/// ambiguous about repeated tags checks [`Frame::duplicate_tag`] first (the
/// reference keeps the last one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The command.
    pub command: Command,
    /// The session id chosen by the server and echoed by the phone.
    pub session_id: u32,
    /// The body's elements, in order.
    pub elements: Vec<Element>,
}

impl Frame {
    /// A frame from its parts.
    pub fn new(command: Command, session_id: u32, elements: Vec<Element>) -> Self {
        Self {
            command,
            session_id,
            elements,
        }
    }

    /// Decodes exactly one whole frame: `bytes` must hold the header and the
    /// declared body, nothing less and nothing more.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        let Some(header) = FrameHeader::parse(bytes)? else {
            return Err(WireError::Truncated {
                offset: bytes.len(),
                needed: HEADER_LEN,
            });
        };
        let needed = header.frame_length();
        let Some((frame, rest)) = bytes.split_at_checked(needed) else {
            return Err(WireError::Truncated {
                offset: bytes.len(),
                needed,
            });
        };
        if !rest.is_empty() {
            return Err(WireError::TrailingBytes {
                offset: needed,
                extra: rest.len(),
            });
        }
        let body = frame.get(HEADER_LEN..).unwrap_or_default();
        Self::decode_body(header, body)
    }

    /// Decodes the body of a frame whose header is already read. `body` must
    /// be exactly the declared body; errors report offsets from the start of
    /// the frame.
    pub fn decode_body(header: FrameHeader, body: &[u8]) -> Result<Self, WireError> {
        let mut elements = Vec::new();
        walk_elements(body, HEADER_LEN, |tag, value, offset| {
            elements.push(Element::decode(tag, value, offset)?);
            Ok::<(), WireError>(())
        })?;
        Ok(Self {
            command: header.command,
            session_id: header.session_id,
            elements,
        })
    }

    /// Encodes the frame, header and body, as one buffer to send in one write.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::with_capacity(HEADER_LEN.saturating_add(self.body_capacity_hint()));
        let header = FrameHeader {
            command: self.command,
            session_id: self.session_id,
            body_length: 0,
        };
        out.extend_from_slice(&header.to_bytes());
        for element in &self.elements {
            element.encode_into(&mut out)?;
        }
        let length = out.len().saturating_sub(HEADER_LEN);
        let body_length = u16::try_from(length).map_err(|_| EncodeError::BodyTooLong { length })?;
        if let Some(slot) = out.get_mut(BODY_LENGTH_OFFSET..HEADER_LEN) {
            slot.copy_from_slice(&body_length.to_be_bytes());
        }
        Ok(out)
    }

    /// The header this frame encodes to, if the body fits.
    pub fn header(&self) -> Result<FrameHeader, EncodeError> {
        let mut body = Vec::with_capacity(self.body_capacity_hint());
        for element in &self.elements {
            element.encode_into(&mut body)?;
        }
        let length = body.len();
        let body_length = u16::try_from(length).map_err(|_| EncodeError::BodyTooLong { length })?;
        Ok(FrameHeader {
            command: self.command,
            session_id: self.session_id,
            body_length,
        })
    }

    fn body_capacity_hint(&self) -> usize {
        self.elements
            .iter()
            .map(|element| match element {
                Element::Certificate(certificate) => certificate.der.len().saturating_add(8),
                Element::SudiData(sudi) => sudi
                    .certificate
                    .data
                    .len()
                    .saturating_add(sudi.sha1_signature.data.len())
                    .saturating_add(sudi.sha512_signature.data.len())
                    .saturating_add(12),
                Element::SignedData(raw) | Element::PublicKey(raw) => raw.len().saturating_add(3),
                Element::Sha2SignedData(signed) => signed.signature.len().saturating_add(6),
                _ => 20,
            })
            .fold(0, usize::saturating_add)
            .min(usize::from(MAX_BODY_LEN))
    }

    /// The first element with this tag.
    pub fn find(&self, tag: ElementTag) -> Option<&Element> {
        self.elements.iter().find(|element| element.tag() == tag)
    }

    /// The first tag that occurs more than once, if any.
    pub fn duplicate_tag(&self) -> Option<ElementTag> {
        self.elements
            .iter()
            .enumerate()
            .find_map(|(index, element)| {
                let tag = element.tag();
                self.elements
                    .get(..index)
                    .is_some_and(|before| before.iter().any(|earlier| earlier.tag() == tag))
                    .then_some(tag)
            })
    }

    /// The elements whose tag is not in section 6 (to log them).
    pub fn unknown_elements(&self) -> impl Iterator<Item = &Element> {
        self.elements
            .iter()
            .filter(|element| matches!(element, Element::Unknown { .. }))
    }

    /// REASON, if present.
    pub fn reason(&self) -> Option<Reason> {
        self.elements.iter().find_map(|element| match element {
            Element::Reason(reason) => Some(*reason),
            _ => None,
        })
    }

    /// VERSION, if present.
    pub fn version(&self) -> Option<Version> {
        self.elements.iter().find_map(|element| match element {
            Element::Version(version) => Some(*version),
            _ => None,
        })
    }

    /// AUTH_TYPE, if present.
    pub fn auth_type(&self) -> Option<AuthType> {
        self.elements.iter().find_map(|element| match element {
            Element::AuthType(auth) => Some(*auth),
            _ => None,
        })
    }

    /// CERT_TYPE, if present.
    pub fn certificate_type(&self) -> Option<CertificateType> {
        self.elements.iter().find_map(|element| match element {
            Element::CertificateType(kind) => Some(*kind),
            _ => None,
        })
    }

    /// CERTIFICATE, if present.
    pub fn certificate(&self) -> Option<&WrappedCertificate> {
        self.elements.iter().find_map(|element| match element {
            Element::Certificate(certificate) => Some(certificate),
            _ => None,
        })
    }

    /// SIGNED_DATA (the SHA-1 signature), if present.
    pub fn signed_data(&self) -> Option<&[u8]> {
        self.elements.iter().find_map(|element| match element {
            Element::SignedData(signature) => Some(signature.as_slice()),
            _ => None,
        })
    }

    /// SHA2_SIGNED_DATA, if present.
    pub fn sha2_signed_data(&self) -> Option<&Sha2SignedData> {
        self.elements.iter().find_map(|element| match element {
            Element::Sha2SignedData(signed) => Some(signed),
            _ => None,
        })
    }

    /// SUDI_DATA, if present.
    pub fn sudi_data(&self) -> Option<&SudiData> {
        self.elements.iter().find_map(|element| match element {
            Element::SudiData(sudi) => Some(sudi),
            _ => None,
        })
    }

    /// PUBLIC_KEY (DER SubjectPublicKeyInfo), if present.
    pub fn public_key(&self) -> Option<&[u8]> {
        self.elements.iter().find_map(|element| match element {
            Element::PublicKey(spki) => Some(spki.as_slice()),
            _ => None,
        })
    }

    /// KEY_SIZE in bits, if present.
    pub fn key_size(&self) -> Option<u16> {
        self.elements.iter().find_map(|element| match element {
            Element::KeySize(bits) => Some(*bits),
            _ => None,
        })
    }

    /// KEY_TYPE, if present (absent means RSA, section 7.4).
    pub fn key_type(&self) -> Option<KeyType> {
        self.elements.iter().find_map(|element| match element {
            Element::KeyType(kind) => Some(*kind),
            _ => None,
        })
    }

    /// CURVE, if present.
    pub fn curve(&self) -> Option<Curve> {
        self.elements.iter().find_map(|element| match element {
            Element::Curve(curve) => Some(*curve),
            _ => None,
        })
    }

    /// PASSWORD, if present.
    pub fn password(&self) -> Option<&Password> {
        self.elements.iter().find_map(|element| match element {
            Element::Password(password) => Some(password),
            _ => None,
        })
    }

    /// DEVICE_NAME, if present.
    pub fn device_name(&self) -> Option<&WireDeviceName> {
        self.elements.iter().find_map(|element| match element {
            Element::DeviceName(name) => Some(name),
            _ => None,
        })
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
    fn worked_example_of_section_3() {
        let bytes = hex("55 01 00000001 0008 07 0001 03 08 0001 00");
        let frame = Frame::decode(&bytes).unwrap();
        assert_eq!(frame.command, Command::AuthRequest);
        assert_eq!(frame.session_id, 1);
        assert_eq!(
            frame.elements,
            [
                Element::Version(Version(3)),
                Element::AuthType(AuthType::NotStated)
            ]
        );
        assert_eq!(frame.encode().unwrap(), bytes);
    }

    #[test]
    fn header_parse_waits_and_checks_protocol_id_early() {
        assert_eq!(FrameHeader::parse(&[]), Ok(None));
        assert_eq!(FrameHeader::parse(&[0x55, 1, 0]), Ok(None));
        assert_eq!(
            FrameHeader::parse(&[0x56]),
            Err(WireError::BadProtocolId {
                offset: 0,
                found: 0x56
            })
        );
        let header = FrameHeader::parse(&hex("55 0f 01020304 0004 01"))
            .unwrap()
            .unwrap();
        assert_eq!(header.session_id, 0x0102_0304);
        assert_eq!(header.frame_length(), 12);
        assert_eq!(header.to_bytes().to_vec(), hex("55 0f 01020304 0004"));
    }

    #[test]
    fn decode_needs_exactly_one_frame() {
        assert_eq!(
            Frame::decode(&hex("55 11 00000001")),
            Err(WireError::Truncated {
                offset: 6,
                needed: 8
            })
        );
        assert_eq!(
            Frame::decode(&hex("55 0f 00000001 0004 01 00")),
            Err(WireError::Truncated {
                offset: 10,
                needed: 12
            })
        );
        assert_eq!(
            Frame::decode(&hex("55 11 00000001 0000 55")),
            Err(WireError::TrailingBytes {
                offset: 8,
                extra: 1
            })
        );
        assert_eq!(
            Frame::decode(&hex("54 11 00000001 0000")),
            Err(WireError::BadProtocolId {
                offset: 0,
                found: 0x54
            })
        );
        assert_eq!(
            Frame::decode(&[]),
            Err(WireError::Truncated {
                offset: 0,
                needed: 8
            })
        );
    }

    #[test]
    fn duplicate_and_unknown_elements() {
        let frame =
            Frame::decode(&hex("55 0f 00000001 000c 01 0001 00 0e 0001 ff 01 0001 01")).unwrap();
        assert_eq!(frame.reason(), Some(Reason::NoAction));
        assert_eq!(frame.duplicate_tag(), Some(ElementTag::Reason));
        assert_eq!(frame.unknown_elements().count(), 1);
        assert_eq!(frame.find(ElementTag::Unknown(14)), frame.elements.get(1));
    }

    #[test]
    fn oversized_body_does_not_encode() {
        let frame = Frame::new(
            Command::AuthResponse,
            1,
            vec![
                Element::PublicKey(vec![0; 40_000]),
                Element::SignedData(vec![0; 40_000]),
            ],
        );
        assert_eq!(
            frame.encode(),
            Err(EncodeError::BodyTooLong { length: 80_006 })
        );
        assert_eq!(
            frame.header(),
            Err(EncodeError::BodyTooLong { length: 80_006 })
        );
    }
}
