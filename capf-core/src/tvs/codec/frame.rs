//! TVS frames: header, commands, elements (spec `tvs-protocol.md` 3-6).

use ctl_format::trust_list::Role;

use super::error::{TvsEncodeError, TvsWireError};
use crate::framing::walk_elements;

/// The protocol id, header byte 0.
pub const TVS_PROTOCOL_ID: u8 = 0x57;
/// The only protocol version known, header byte 1.
pub const TVS_PROTOCOL_VERSION: u8 = 1;
/// Header length: protocol id, version, command, reserved, session id (4),
/// body length (2).
pub const TVS_HEADER_LEN: usize = 10;
/// Tag (1 byte) and length (2 bytes) before each element value.
pub const TVS_ELEMENT_HEADER_LEN: usize = crate::framing::ELEMENT_HEADER_LEN;
/// The lead byte the reference client puts before the device name (its
/// meaning is unknown; receivers accept any value).
pub const DEVICE_NAME_LEAD_BYTE: u8 = 1;
/// Offset of the body-length field in the header.
const BODY_LENGTH_OFFSET: usize = 8;

/// The command byte (header byte 2, spec section 5).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TvsCommand {
    /// 1, phone to server: DEVICE_NAME, CERTIFICATE.
    VerifyRequest,
    /// 2, server to phone: STATUS, and ROLES and TTL when known.
    VerifyResponse,
    /// 3, defined but never seen; the reference server does not answer it.
    QueryRequest,
    /// 4, defined but never sent.
    QueryResponse,
    /// Any other code (0 included), kept as received.
    Unknown(u8),
}

impl TvsCommand {
    /// The command for a code.
    pub const fn from_code(code: u8) -> Self {
        match code {
            1 => Self::VerifyRequest,
            2 => Self::VerifyResponse,
            3 => Self::QueryRequest,
            4 => Self::QueryResponse,
            other => Self::Unknown(other),
        }
    }

    /// The code on the wire.
    pub const fn code(self) -> u8 {
        match self {
            Self::VerifyRequest => 1,
            Self::VerifyResponse => 2,
            Self::QueryRequest => 3,
            Self::QueryResponse => 4,
            Self::Unknown(code) => code,
        }
    }
}

/// The STATUS element's value.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TvsStatus {
    /// 0: the certificate is known; ROLES and TTL follow.
    Valid,
    /// 1: the certificate is not known (or refused).
    Invalid,
    /// Any other value, kept as received.
    Unknown(u8),
}

impl TvsStatus {
    /// The status for a byte.
    pub const fn from_code(code: u8) -> Self {
        match code {
            0 => Self::Valid,
            1 => Self::Invalid,
            other => Self::Unknown(other),
        }
    }

    /// The byte on the wire.
    pub const fn code(self) -> u8 {
        match self {
            Self::Valid => 0,
            Self::Invalid => 1,
            Self::Unknown(code) => code,
        }
    }
}

/// The tag of an element (spec section 4).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TvsElementTag {
    /// 1.
    DeviceName,
    /// 2.
    Certificate,
    /// 7.
    Status,
    /// 8.
    Roles,
    /// 9.
    Ttl,
    /// Any other tag.
    Unknown(u8),
}

impl TvsElementTag {
    /// The tag for a byte.
    pub const fn from_code(code: u8) -> Self {
        match code {
            1 => Self::DeviceName,
            2 => Self::Certificate,
            7 => Self::Status,
            8 => Self::Roles,
            9 => Self::Ttl,
            other => Self::Unknown(other),
        }
    }

    /// The byte on the wire.
    pub const fn code(self) -> u8 {
        match self {
            Self::DeviceName => 1,
            Self::Certificate => 2,
            Self::Status => 7,
            Self::Roles => 8,
            Self::Ttl => 9,
            Self::Unknown(code) => code,
        }
    }
}

/// The DEVICE_NAME value: a lead byte (1 from every known client), then the
/// name as sent (ASCII expected, kept as bytes; see
/// [`TvsDeviceName::parse`](super::device_name::TvsDeviceName::parse) for the check).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceNameValue {
    /// The lead byte.
    pub lead_byte: u8,
    /// The name bytes, without terminator.
    pub name: Vec<u8>,
}

impl DeviceNameValue {
    /// A name with the usual lead byte 1.
    pub fn new(name: impl Into<Vec<u8>>) -> Self {
        Self {
            lead_byte: DEVICE_NAME_LEAD_BYTE,
            name: name.into(),
        }
    }
}

/// One element of a TVS frame body.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TvsElement {
    /// 1, DEVICE_NAME.
    DeviceName(DeviceNameValue),
    /// 2, CERTIFICATE: raw DER, exactly as sent (the lookup key is its
    /// SHA-256).
    Certificate(Vec<u8>),
    /// 7, STATUS.
    Status(TvsStatus),
    /// 8, ROLES: one byte per role, in wire order.
    Roles(Vec<Role>),
    /// 9, TTL in seconds.
    Ttl(u32),
    /// Any other tag: kept when received, never produced by this crate.
    Unknown {
        /// The tag.
        tag: u8,
        /// The value.
        value: Vec<u8>,
    },
}

impl TvsElement {
    /// This element's tag.
    pub fn tag(&self) -> TvsElementTag {
        match self {
            Self::DeviceName(_) => TvsElementTag::DeviceName,
            Self::Certificate(_) => TvsElementTag::Certificate,
            Self::Status(_) => TvsElementTag::Status,
            Self::Roles(_) => TvsElementTag::Roles,
            Self::Ttl(_) => TvsElementTag::Ttl,
            Self::Unknown { tag, .. } => TvsElementTag::from_code(*tag),
        }
    }

    /// Decodes one element value; `offset` is where its tag sits in the
    /// frame (for errors).
    fn decode(tag: u8, value: &[u8], offset: usize) -> Result<Self, TvsWireError> {
        let length = u16::try_from(value.len()).unwrap_or(u16::MAX);
        let fixed = |expected: u16| TvsWireError::BadValueLength {
            offset,
            tag,
            expected,
            found: length,
        };
        Ok(match TvsElementTag::from_code(tag) {
            TvsElementTag::DeviceName => {
                let Some((&lead_byte, name)) = value.split_first() else {
                    return Err(TvsWireError::EmptyDeviceName { offset });
                };
                Self::DeviceName(DeviceNameValue {
                    lead_byte,
                    name: name.to_vec(),
                })
            }
            TvsElementTag::Certificate => Self::Certificate(value.to_vec()),
            TvsElementTag::Status => match value {
                &[status] => Self::Status(TvsStatus::from_code(status)),
                _ => return Err(fixed(1)),
            },
            TvsElementTag::Roles => Self::Roles(
                value
                    .iter()
                    .map(|&code| Role::from_code(u16::from(code)))
                    .collect(),
            ),
            TvsElementTag::Ttl => match value {
                &[a, b, c, d] => Self::Ttl(u32::from_be_bytes([a, b, c, d])),
                _ => return Err(fixed(4)),
            },
            TvsElementTag::Unknown(_) => Self::Unknown {
                tag,
                value: value.to_vec(),
            },
        })
    }

    /// Appends tag, length and value to `out`.
    fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), TvsEncodeError> {
        let tag = self.tag().code();
        let mut value = Vec::new();
        let value: &[u8] = match self {
            Self::DeviceName(name) => {
                value.reserve(name.name.len().saturating_add(1));
                value.push(name.lead_byte);
                value.extend_from_slice(&name.name);
                &value
            }
            Self::Certificate(der) => der,
            Self::Status(status) => {
                value.push(status.code());
                &value
            }
            Self::Roles(roles) => {
                for role in roles {
                    let code = role.code();
                    let byte = u8::try_from(code)
                        .map_err(|_| TvsEncodeError::RoleCodeTooLarge { code })?;
                    value.push(byte);
                }
                &value
            }
            Self::Ttl(ttl) => {
                value.extend_from_slice(&ttl.to_be_bytes());
                &value
            }
            Self::Unknown { value, .. } => value,
        };
        let length = u16::try_from(value.len()).map_err(|_| TvsEncodeError::ValueTooLong {
            tag,
            length: value.len(),
        })?;
        out.push(tag);
        out.extend_from_slice(&length.to_be_bytes());
        out.extend_from_slice(value);
        Ok(())
    }
}

/// The 10-byte header of a TVS frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TvsFrameHeader {
    /// The command.
    pub command: TvsCommand,
    /// Byte 3: 0 from every known peer; receivers ignore it (kept so a
    /// decoded frame re-encodes exactly).
    pub reserved: u8,
    /// Chosen by the client, echoed by the server.
    pub session_id: u32,
    /// Body bytes after the header.
    pub body_length: u16,
}

impl TvsFrameHeader {
    /// Reads a header from the start of `bytes`: `Ok(None)` while fewer than
    /// 10 bytes are there. The protocol id and version are checked as soon
    /// as their byte arrives, so garbage fails at once.
    pub fn parse(bytes: &[u8]) -> Result<Option<Self>, TvsWireError> {
        match bytes.first() {
            None | Some(&TVS_PROTOCOL_ID) => {}
            Some(&found) => return Err(TvsWireError::BadProtocolId { offset: 0, found }),
        }
        match bytes.get(1) {
            None | Some(&TVS_PROTOCOL_VERSION) => {}
            Some(&found) => return Err(TvsWireError::UnsupportedVersion { offset: 1, found }),
        }
        let &[_, _, command, reserved, s0, s1, s2, s3, l0, l1, ..] = bytes else {
            return Ok(None);
        };
        Ok(Some(Self {
            command: TvsCommand::from_code(command),
            reserved,
            session_id: u32::from_be_bytes([s0, s1, s2, s3]),
            body_length: u16::from_be_bytes([l0, l1]),
        }))
    }

    /// The whole frame's length, header included.
    pub fn frame_length(&self) -> usize {
        TVS_HEADER_LEN.saturating_add(usize::from(self.body_length))
    }

    /// The 10 header bytes.
    pub fn to_bytes(&self) -> [u8; TVS_HEADER_LEN] {
        let [s0, s1, s2, s3] = self.session_id.to_be_bytes();
        let [l0, l1] = self.body_length.to_be_bytes();
        [
            TVS_PROTOCOL_ID,
            TVS_PROTOCOL_VERSION,
            self.command.code(),
            self.reserved,
            s0,
            s1,
            s2,
            s3,
            l0,
            l1,
        ]
    }
}

/// One TVS frame: command, session id, elements in wire order.
///
/// A decoded frame re-encodes byte for byte (the reserved byte and unknown
/// elements are kept). The message constructors emit the elements in the
/// reference's order and nothing else.
///
/// ```
/// use capf_core::tvs::{TvsFrame, TvsStatus};
/// let unknown = TvsFrame::verify_response_invalid(1);
/// assert_eq!(unknown.encode().unwrap(), [0x57, 1, 2, 0, 0, 0, 0, 1, 0, 4, 7, 0, 1, 1]);
/// assert_eq!(TvsFrame::decode(&unknown.encode().unwrap()).unwrap().status(), Some(TvsStatus::Invalid));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TvsFrame {
    /// The command.
    pub command: TvsCommand,
    /// Header byte 3 (0 when we send).
    pub reserved: u8,
    /// The client's session id.
    pub session_id: u32,
    /// The body's elements, in order.
    pub elements: Vec<TvsElement>,
}

impl TvsFrame {
    /// A frame from its parts (reserved byte 0).
    pub fn new(command: TvsCommand, session_id: u32, elements: Vec<TvsElement>) -> Self {
        Self {
            command,
            reserved: 0,
            session_id,
            elements,
        }
    }

    /// VERIFY_REQUEST: DEVICE_NAME (lead byte 1) then CERTIFICATE.
    pub fn verify_request(session_id: u32, device_name: &str, certificate_der: &[u8]) -> Self {
        Self::new(
            TvsCommand::VerifyRequest,
            session_id,
            vec![
                TvsElement::DeviceName(DeviceNameValue::new(device_name)),
                TvsElement::Certificate(certificate_der.to_vec()),
            ],
        )
    }

    /// VERIFY_RESPONSE for a known certificate: STATUS 0, ROLES, TTL.
    pub fn verify_response_valid(session_id: u32, roles: &[Role], ttl: u32) -> Self {
        Self::new(
            TvsCommand::VerifyResponse,
            session_id,
            vec![
                TvsElement::Status(TvsStatus::Valid),
                TvsElement::Roles(roles.to_vec()),
                TvsElement::Ttl(ttl),
            ],
        )
    }

    /// VERIFY_RESPONSE for an unknown certificate: STATUS 1 alone.
    pub fn verify_response_invalid(session_id: u32) -> Self {
        Self::new(
            TvsCommand::VerifyResponse,
            session_id,
            vec![TvsElement::Status(TvsStatus::Invalid)],
        )
    }

    /// Decodes exactly one whole frame, nothing less and nothing more.
    pub fn decode(bytes: &[u8]) -> Result<Self, TvsWireError> {
        let Some(header) = TvsFrameHeader::parse(bytes)? else {
            return Err(TvsWireError::Truncated {
                offset: bytes.len(),
                needed: TVS_HEADER_LEN,
            });
        };
        let needed = header.frame_length();
        let Some((frame, rest)) = bytes.split_at_checked(needed) else {
            return Err(TvsWireError::Truncated {
                offset: bytes.len(),
                needed,
            });
        };
        if !rest.is_empty() {
            return Err(TvsWireError::TrailingBytes {
                offset: needed,
                extra: rest.len(),
            });
        }
        Self::decode_body(header, frame.get(TVS_HEADER_LEN..).unwrap_or_default())
    }

    /// Decodes the body of a frame whose header is read; `body` is exactly
    /// the declared body. Offsets count from the start of the frame.
    pub fn decode_body(header: TvsFrameHeader, body: &[u8]) -> Result<Self, TvsWireError> {
        let mut elements = Vec::new();
        walk_elements(body, TVS_HEADER_LEN, |tag, value, offset| {
            elements.push(TvsElement::decode(tag, value, offset)?);
            Ok::<(), TvsWireError>(())
        })?;
        Ok(Self {
            command: header.command,
            reserved: header.reserved,
            session_id: header.session_id,
            elements,
        })
    }

    /// Encodes header and body as one buffer, to send in one write.
    pub fn encode(&self) -> Result<Vec<u8>, TvsEncodeError> {
        let mut out = Vec::with_capacity(TVS_HEADER_LEN.saturating_add(self.capacity_hint()));
        let header = TvsFrameHeader {
            command: self.command,
            reserved: self.reserved,
            session_id: self.session_id,
            body_length: 0,
        };
        out.extend_from_slice(&header.to_bytes());
        for element in &self.elements {
            element.encode_into(&mut out)?;
        }
        let length = out.len().saturating_sub(TVS_HEADER_LEN);
        let body_length =
            u16::try_from(length).map_err(|_| TvsEncodeError::BodyTooLong { length })?;
        if let Some(slot) = out.get_mut(BODY_LENGTH_OFFSET..TVS_HEADER_LEN) {
            slot.copy_from_slice(&body_length.to_be_bytes());
        }
        Ok(out)
    }

    fn capacity_hint(&self) -> usize {
        self.elements
            .iter()
            .map(|element| match element {
                TvsElement::Certificate(der) => der.len().saturating_add(3),
                _ => 32,
            })
            .fold(0, usize::saturating_add)
            .min(usize::from(u16::MAX))
    }

    /// The first element with this tag.
    pub fn find(&self, tag: TvsElementTag) -> Option<&TvsElement> {
        self.elements.iter().find(|element| element.tag() == tag)
    }

    /// The first known tag that occurs more than once (unknown tags may
    /// repeat: they are skipped anyway).
    pub fn duplicate_tag(&self) -> Option<TvsElementTag> {
        self.elements
            .iter()
            .enumerate()
            .find_map(|(index, element)| {
                let tag = element.tag();
                (!matches!(tag, TvsElementTag::Unknown(_))
                    && self
                        .elements
                        .get(..index)
                        .is_some_and(|before| before.iter().any(|earlier| earlier.tag() == tag)))
                .then_some(tag)
            })
    }

    /// DEVICE_NAME, if present.
    pub fn device_name(&self) -> Option<&DeviceNameValue> {
        self.elements.iter().find_map(|element| match element {
            TvsElement::DeviceName(name) => Some(name),
            _ => None,
        })
    }

    /// CERTIFICATE (raw DER), if present.
    pub fn certificate(&self) -> Option<&[u8]> {
        self.elements.iter().find_map(|element| match element {
            TvsElement::Certificate(der) => Some(der.as_slice()),
            _ => None,
        })
    }

    /// STATUS, if present.
    pub fn status(&self) -> Option<TvsStatus> {
        self.elements.iter().find_map(|element| match element {
            TvsElement::Status(status) => Some(*status),
            _ => None,
        })
    }

    /// ROLES, if present.
    pub fn roles(&self) -> Option<&[Role]> {
        self.elements.iter().find_map(|element| match element {
            TvsElement::Roles(roles) => Some(roles.as_slice()),
            _ => None,
        })
    }

    /// TTL in seconds, if present.
    pub fn ttl(&self) -> Option<u32> {
        self.elements.iter().find_map(|element| match element {
            TvsElement::Ttl(ttl) => Some(*ttl),
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
    fn known_response_of_section_6() {
        let bytes = hex("57 01 02 00 00000001 0010 07 0001 00 08 0002 01 03 09 0004 00000E10");
        let frame = TvsFrame::decode(&bytes).unwrap();
        assert_eq!(
            frame,
            TvsFrame::verify_response_valid(1, &[Role::CallManager, Role::Tftp], 3600)
        );
        assert_eq!(frame.encode().unwrap(), bytes);
    }

    #[test]
    fn header_checks_id_and_version_early() {
        assert_eq!(TvsFrameHeader::parse(&[]), Ok(None));
        assert_eq!(TvsFrameHeader::parse(&[0x57]), Ok(None));
        assert_eq!(
            TvsFrameHeader::parse(&[0x55]),
            Err(TvsWireError::BadProtocolId {
                offset: 0,
                found: 0x55
            })
        );
        assert_eq!(
            TvsFrameHeader::parse(&[0x57, 2]),
            Err(TvsWireError::UnsupportedVersion {
                offset: 1,
                found: 2
            })
        );
        let header = TvsFrameHeader::parse(&hex("57 01 09 ff a1b2c3d4 0102"))
            .unwrap()
            .unwrap();
        assert_eq!(header.command, TvsCommand::Unknown(9));
        assert_eq!(header.reserved, 0xff);
        assert_eq!(header.session_id, 0xa1b2_c3d4);
        assert_eq!(header.frame_length(), 10 + 0x102);
    }

    #[test]
    fn element_errors_carry_frame_offsets() {
        assert_eq!(
            TvsFrame::decode(&hex("57 01 02 00 00000001 0005 07 0002 00 00")),
            Err(TvsWireError::BadValueLength {
                offset: 10,
                tag: 7,
                expected: 1,
                found: 2
            })
        );
        assert_eq!(
            TvsFrame::decode(&hex("57 01 02 00 00000001 0008 07 0001 00 09 0001 00")),
            Err(TvsWireError::BadValueLength {
                offset: 14,
                tag: 9,
                expected: 4,
                found: 1
            })
        );
        assert_eq!(
            TvsFrame::decode(&hex("57 01 01 00 00000001 0003 01 0000")),
            Err(TvsWireError::EmptyDeviceName { offset: 10 })
        );
        assert_eq!(
            TvsFrame::decode(&hex("57 01 02 00 00000001 0006 07 0001 00 08 00")),
            Err(TvsWireError::ElementHeaderTruncated { offset: 14 })
        );
        assert_eq!(
            TvsFrame::decode(&hex("57 01 02 00 00000001 0005 08 0005 01 02")),
            Err(TvsWireError::ElementOverrun {
                offset: 10,
                tag: 8,
                length: 5,
                available: 2
            })
        );
        assert_eq!(
            TvsFrame::decode(&hex("57 01 02 00 00000001 0000 00")),
            Err(TvsWireError::TrailingBytes {
                offset: 10,
                extra: 1
            })
        );
        assert_eq!(
            TvsFrame::decode(&hex("57 01 02 00 00000001 0004 07")),
            Err(TvsWireError::Truncated {
                offset: 11,
                needed: 14
            })
        );
    }

    #[test]
    fn unknown_tags_and_commands_are_kept() {
        let bytes = hex("57 01 03 07 00000005 0008 05 0001 aa 07 0001 01");
        let frame = TvsFrame::decode(&bytes).unwrap();
        assert_eq!(frame.command, TvsCommand::QueryRequest);
        assert_eq!(
            frame.find(TvsElementTag::Unknown(5)),
            Some(&TvsElement::Unknown {
                tag: 5,
                value: vec![0xaa]
            })
        );
        assert_eq!(frame.encode().unwrap(), bytes);
        assert_eq!(frame.duplicate_tag(), None);
    }

    #[test]
    fn role_codes_above_255_do_not_encode() {
        let frame = TvsFrame::verify_response_valid(1, &[Role::Unknown(300)], 1);
        assert_eq!(
            frame.encode(),
            Err(TvsEncodeError::RoleCodeTooLarge { code: 300 })
        );
    }
}
