//! The companion reduced configuration of an encrypted config (spec
//! `sgn-files.md` section 5.4), built with a small bounds-checked scanner
//! that finds the direct children of the root `<device>` element. It is not
//! a general XML parser: it recognises comments, processing instructions,
//! CDATA sections, a DOCTYPE, start, end and empty-element tags (with
//! quoted attribute values), checks that tags nest, and copies the wanted
//! children verbatim.

use crate::certificate::Certificate;
use crate::error::{Error, MalformedFile, Result};
use core::ops::Range;
use md5::{Digest, Md5};

/// The children of `<device>` the reduced configuration keeps, when
/// present, in the order they appear in the original.
const KEPT_CHILDREN: [&[u8]; 4] = [
    b"ipAddressMode",
    b"loadInformation",
    b"capfAuthMode",
    b"capfList",
];

/// Builds the payload of the reduced `SEP<MAC>.cnf.xml.sgn` that certutils
/// `enccnf` writes next to the encrypted file:
///
/// ```text
/// <?xml version="1.0" encoding="UTF-8"?>
/// <device>
///   <fullConfig>false</fullConfig>
///   …ipAddressMode, loadInformation, capfAuthMode, capfList as found…
///   <certHash>MD5 of the phone certificate DER, lower-case hex</certHash>
///   <encrConfig>true</encrConfig>
/// </device>
/// ```
///
/// The kept elements are copied as text, byte for byte from their start
/// tag to their end tag, each on its own line indented by two spaces, in
/// document order (every occurrence, should one appear twice). Their inner
/// lines keep the original indentation, which gives certutils' output
/// exactly for a configuration indented by two spaces per level (as Unified
/// CM and the vectors write them). certutils re-serialises with lxml, so for
/// other inputs its output may differ in formatting only (indentation of
/// inner lines, attribute quoting, `<a/>` versus `<a></a>`, character
/// references); the elements and their values are the same.
pub fn reduced_config(original_xml: &[u8], phone_certificate: &Certificate) -> Result<Vec<u8>> {
    let children = device_children(original_xml)?;
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<device>\n");
    out.extend_from_slice(b"  <fullConfig>false</fullConfig>\n");
    for child in children
        .iter()
        .filter(|child| KEPT_CHILDREN.contains(&child.name))
    {
        out.extend_from_slice(b"  ");
        out.extend_from_slice(child.text);
        out.push(b'\n');
    }
    out.extend_from_slice(b"  <certHash>");
    for byte in Md5::digest(phone_certificate.der()) {
        out.extend_from_slice(format!("{byte:02x}").as_bytes());
    }
    out.extend_from_slice(b"</certHash>\n  <encrConfig>true</encrConfig>\n</device>\n");
    Ok(out)
}

/// One direct child of the root element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Child<'x> {
    name: &'x [u8],
    text: &'x [u8],
}

/// One markup token.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// `<name …>` or `<name …/>`.
    Start { name: Range<usize>, empty: bool },
    /// `</name>`.
    End { name: Range<usize> },
    /// Text, comment, processing instruction, CDATA or DOCTYPE.
    Other,
}

fn bad(offset: usize, reason: &'static str) -> Error {
    MalformedFile::BadXml { offset, reason }.into()
}

/// Position just after the first occurrence of `needle` at or after `from`.
fn find_after(xml: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    let rest = xml.get(from..)?;
    let found = rest
        .windows(needle.len())
        .position(|window| window == needle)?;
    from.checked_add(found)?.checked_add(needle.len())
}

/// End of a tag starting at `from` (after `<`): the position after the `>`
/// that is not inside a quoted attribute value.
fn tag_end(xml: &[u8], from: usize) -> Option<usize> {
    let mut quote: Option<u8> = None;
    for (index, byte) in xml.get(from..)?.iter().enumerate() {
        match (quote, *byte) {
            (Some(open), byte) if byte == open => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(*byte),
            (None, b'>') => return from.checked_add(index)?.checked_add(1),
            (None, _) => {}
        }
    }
    None
}

/// End of a DOCTYPE declaration starting at `from`, allowing an internal
/// subset in brackets.
fn doctype_end(xml: &[u8], from: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    for (index, byte) in xml.get(from..)?.iter().enumerate() {
        match (quote, *byte) {
            (Some(open), byte) if byte == open => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(*byte),
            (None, b'[') => depth = depth.saturating_add(1),
            (None, b']') => depth = depth.saturating_sub(1),
            (None, b'>') if depth == 0 => return from.checked_add(index)?.checked_add(1),
            (None, _) => {}
        }
    }
    None
}

/// The name at `from`: bytes up to whitespace, `/` or `>`.
fn name_at(xml: &[u8], from: usize) -> Range<usize> {
    let length = xml
        .get(from..)
        .unwrap_or_default()
        .iter()
        .take_while(|byte| !matches!(byte, b' ' | b'\t' | b'\r' | b'\n' | b'/' | b'>'))
        .count();
    from..from.saturating_add(length)
}

/// Reads the token at `position`; returns it and the position after it.
fn next_token(xml: &[u8], position: usize) -> Result<(Token, usize)> {
    let rest = xml.get(position..).unwrap_or_default();
    if !rest.starts_with(b"<") {
        let text_length = rest
            .iter()
            .position(|byte| *byte == b'<')
            .unwrap_or(rest.len());
        return Ok((Token::Other, position.saturating_add(text_length)));
    }
    let unterminated = |reason| bad(position, reason);
    if rest.starts_with(b"<!--") {
        let end = find_after(xml, position.saturating_add(4), b"-->")
            .ok_or(unterminated("unterminated comment"))?;
        return Ok((Token::Other, end));
    }
    if rest.starts_with(b"<![CDATA[") {
        let end = find_after(xml, position.saturating_add(9), b"]]>")
            .ok_or(unterminated("unterminated CDATA section"))?;
        return Ok((Token::Other, end));
    }
    if rest.starts_with(b"<?") {
        let end = find_after(xml, position.saturating_add(2), b"?>")
            .ok_or(unterminated("unterminated processing instruction"))?;
        return Ok((Token::Other, end));
    }
    if rest.starts_with(b"<!") {
        let end = doctype_end(xml, position.saturating_add(2))
            .ok_or(unterminated("unterminated declaration"))?;
        return Ok((Token::Other, end));
    }
    if rest.starts_with(b"</") {
        let name = name_at(xml, position.saturating_add(2));
        let end = tag_end(xml, name.end).ok_or(unterminated("unterminated end tag"))?;
        if name.is_empty() {
            return Err(bad(position, "end tag without a name"));
        }
        return Ok((Token::End { name }, end));
    }
    let name = name_at(xml, position.saturating_add(1));
    if name.is_empty() {
        return Err(bad(position, "tag without a name"));
    }
    let end = tag_end(xml, name.end).ok_or(unterminated("unterminated start tag"))?;
    let empty = end
        .checked_sub(2)
        .and_then(|slash| xml.get(slash))
        .is_some_and(|byte| *byte == b'/');
    Ok((Token::Start { name, empty }, end))
}

/// The direct children of the root element, which must be `<device>`.
fn device_children(xml: &[u8]) -> Result<Vec<Child<'_>>> {
    let text = |range: Range<usize>| xml.get(range).unwrap_or_default();
    let mut position = 0usize;
    // Prolog: up to the root start tag.
    let root_empty = loop {
        if position >= xml.len() {
            return Err(bad(position, "no root element"));
        }
        let (token, next) = next_token(xml, position)?;
        match token {
            Token::Start { name, empty } => {
                if text(name) != b"device" {
                    return Err(bad(position, "the root element is not <device>"));
                }
                position = next;
                break empty;
            }
            Token::End { .. } => return Err(bad(position, "end tag before the root element")),
            Token::Other => position = next,
        }
    };
    let mut children = Vec::new();
    if root_empty {
        return Ok(children);
    }
    // Open elements below the root, and where the current child started.
    let mut open: Vec<Range<usize>> = Vec::new();
    let mut child_start = 0usize;
    while position < xml.len() {
        let (token, next) = next_token(xml, position)?;
        match token {
            Token::Start { name, empty } => {
                if open.is_empty() {
                    child_start = position;
                    if empty {
                        children.push(Child {
                            name: text(name.clone()),
                            text: text(position..next),
                        });
                    }
                }
                if !empty {
                    open.push(name);
                }
            }
            Token::End { name } => match open.pop() {
                None => {
                    if text(name) != b"device" {
                        return Err(bad(position, "mismatched end tag"));
                    }
                    return Ok(children);
                }
                Some(opened) => {
                    if text(opened.clone()) != text(name) {
                        return Err(bad(position, "mismatched end tag"));
                    }
                    if open.is_empty() {
                        children.push(Child {
                            name: text(opened),
                            text: text(child_start..next),
                        });
                    }
                }
            },
            Token::Other => {}
        }
        position = next;
    }
    Err(bad(position, "the <device> element is not closed"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(xml: &[u8]) -> Vec<String> {
        device_children(xml)
            .unwrap()
            .iter()
            .map(|c| String::from_utf8_lossy(c.name).into_owned())
            .collect()
    }

    #[test]
    fn finds_direct_children_only() {
        let xml = b"<?xml version=\"1.0\"?>\n<!-- c --><device a='>'><x><y/></x><!-- <z> --><w v=\"/>\"/><![CDATA[<q>]]></device>";
        assert_eq!(names(xml), ["x", "w"]);
        let children = device_children(xml).unwrap();
        assert_eq!(children[0].text, b"<x><y/></x>");
        assert_eq!(children[1].text, b"<w v=\"/>\"/>");
    }

    #[test]
    fn refuses_broken_documents() {
        for xml in [
            &b"<device><a></b></device>"[..],
            b"<device><a>",
            b"<phone></phone>",
            b"",
            b"<device><!-- ",
            b"<device><a x=\"></a></device>",
            b"</device>",
            b"<device></>",
        ] {
            assert!(
                matches!(
                    device_children(xml),
                    Err(Error::Malformed(MalformedFile::BadXml { .. }))
                ),
                "{}",
                String::from_utf8_lossy(xml)
            );
        }
    }
}
