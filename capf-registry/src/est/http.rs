//! The little HTTP/1.1 the EST client speaks: one `POST` per connection
//! (`Connection: close`), and the parsing of the one response, bounded and
//! without panics on the CA's bytes: a status line, headers, and a body
//! delimited by `Content-Length`, by chunked transfer coding, or by the end
//! of the connection.

use std::fmt::Write as _;

/// Most bytes of a response's status line and headers.
pub const MAX_HEAD: usize = 64 * 1024;
/// Most bytes of a response's body (a certs-only PKCS#7 of a few
/// certificates, base64: a few kilobytes).
pub const MAX_BODY: usize = 1024 * 1024;

/// Why a response could not be read.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// The status line and headers are longer than [`MAX_HEAD`].
    #[error("the response headers exceed {MAX_HEAD} bytes")]
    HeadTooLarge,
    /// The body is longer than [`MAX_BODY`].
    #[error("the response body exceeds {MAX_BODY} bytes")]
    BodyTooLarge,
    /// The status line is not `HTTP/1.x NNN reason`.
    #[error("malformed HTTP status line")]
    StatusLine,
    /// A header line has no colon, or is not text.
    #[error("malformed HTTP header line")]
    HeaderLine,
    /// `Content-Length` is not a number, or appears twice with two values.
    #[error("malformed Content-Length")]
    ContentLength,
    /// A chunk size line or chunk framing is malformed.
    #[error("malformed chunked body")]
    Chunked,
    /// The connection ended before the response did.
    #[error("the response ended early")]
    Truncated,
}

/// One parsed response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code (200, 202, 401…).
    pub status: u16,
    /// The reason phrase, as sent (for messages).
    pub reason: String,
    /// The headers, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// The body, transfer coding removed.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// The bytes of a `POST` of `body` to `path` on `host` (the `Host`
/// header's value, with its port when not the default), with
/// `content_type`, an optional `Authorization` value, and any `extra`
/// headers; `Connection: close`.
pub fn post_request(
    host: &str,
    path: &str,
    content_type: &str,
    authorization: Option<&str>,
    extra: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let mut head = String::new();
    // Writing to a String cannot fail.
    let _ = write!(
        head,
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n"
    );
    for (name, value) in extra {
        let _ = write!(head, "{name}: {value}\r\n");
    }
    if let Some(value) = authorization {
        let _ = write!(head, "Authorization: {value}\r\n");
    }
    let _ = write!(
        head,
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// The bytes of a `GET` of `path` on `host` with an optional
/// `Authorization` value; `Connection: close`.
pub fn get_request(host: &str, path: &str, authorization: Option<&str>) -> Vec<u8> {
    let mut head =
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/pkcs7-mime\r\n");
    if let Some(value) = authorization {
        let _ = write!(head, "Authorization: {value}\r\n");
    }
    head.push_str("Connection: close\r\n\r\n");
    head.into_bytes()
}

/// Where a response's bytes stand while they arrive.
#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    /// More bytes are needed (or the end of the connection, for a body
    /// delimited by it).
    Incomplete,
    /// The response is complete.
    Complete(Response),
}

/// Parses `bytes`, everything received so far; `closed` says the
/// connection has ended (no more bytes will come). Returns
/// [`Progress::Incomplete`] when more bytes are needed, the response once
/// it is complete, or why it cannot be one.
pub fn parse_response(bytes: &[u8], closed: bool) -> Result<Progress, HttpError> {
    let Some(head_end) = find(bytes, b"\r\n\r\n") else {
        if bytes.len() > MAX_HEAD {
            return Err(HttpError::HeadTooLarge);
        }
        return if closed {
            Err(HttpError::Truncated)
        } else {
            Ok(Progress::Incomplete)
        };
    };
    if head_end > MAX_HEAD {
        return Err(HttpError::HeadTooLarge);
    }
    let head = std::str::from_utf8(bytes.get(..head_end).unwrap_or_default())
        .map_err(|_| HttpError::HeaderLine)?;
    let rest = bytes.get(head_end.saturating_add(4)..).unwrap_or_default();
    let mut lines = head.split("\r\n");
    let (status, reason) = status_line(lines.next().unwrap_or_default())?;
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line.split_once(':').ok_or(HttpError::HeaderLine)?;
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(HttpError::HeaderLine);
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
    }
    let mut response = Response {
        status,
        reason,
        headers,
        body: Vec::new(),
    };
    // 1xx, 204 and 304 have no body.
    if (100..200).contains(&status) || status == 204 || status == 304 {
        return Ok(Progress::Complete(response));
    }
    let chunked = response
        .header("transfer-encoding")
        .is_some_and(|coding| coding.to_ascii_lowercase().contains("chunked"));
    let body = if chunked {
        match dechunk(rest)? {
            Some(body) => body,
            None if closed => return Err(HttpError::Truncated),
            None => return Ok(Progress::Incomplete),
        }
    } else if let Some(length) = content_length(&response.headers)? {
        if length > MAX_BODY {
            return Err(HttpError::BodyTooLarge);
        }
        match rest.get(..length) {
            Some(body) => body.to_vec(),
            None if closed => return Err(HttpError::Truncated),
            None => return Ok(Progress::Incomplete),
        }
    } else {
        if rest.len() > MAX_BODY {
            return Err(HttpError::BodyTooLarge);
        }
        if !closed {
            return Ok(Progress::Incomplete);
        }
        rest.to_vec()
    };
    response.body = body;
    Ok(Progress::Complete(response))
}

/// `HTTP/1.x NNN reason` → (NNN, reason).
fn status_line(line: &str) -> Result<(u16, String), HttpError> {
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(HttpError::StatusLine);
    }
    let code = parts.next().unwrap_or_default();
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HttpError::StatusLine);
    }
    let status = code.parse::<u16>().map_err(|_| HttpError::StatusLine)?;
    let reason = parts.next().unwrap_or_default();
    // The reason goes into messages: printable ASCII only, bounded.
    let reason: String = reason
        .chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(100)
        .collect();
    Ok((status, reason))
}

/// The `Content-Length`, if any (two different values are an error).
fn content_length(headers: &[(String, String)]) -> Result<Option<usize>, HttpError> {
    let mut found = None;
    for (name, value) in headers {
        if name != "content-length" {
            continue;
        }
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(HttpError::ContentLength);
        }
        let length = value
            .parse::<usize>()
            .map_err(|_| HttpError::ContentLength)?;
        if found.is_some_and(|earlier| earlier != length) {
            return Err(HttpError::ContentLength);
        }
        found = Some(length);
    }
    Ok(found)
}

/// The body of a chunked message, or `None` when its last chunk has not
/// arrived yet. Chunk extensions and trailers are skipped.
fn dechunk(mut rest: &[u8]) -> Result<Option<Vec<u8>>, HttpError> {
    let mut body = Vec::new();
    loop {
        let Some(line_end) = find(rest, b"\r\n") else {
            if rest.len() > 1024 {
                return Err(HttpError::Chunked);
            }
            return Ok(None);
        };
        let line = std::str::from_utf8(rest.get(..line_end).unwrap_or_default())
            .map_err(|_| HttpError::Chunked)?;
        let size = line.split(';').next().unwrap_or_default().trim();
        if size.is_empty() || size.len() > 8 {
            return Err(HttpError::Chunked);
        }
        let size = usize::from_str_radix(size, 16).map_err(|_| HttpError::Chunked)?;
        rest = rest.get(line_end.saturating_add(2)..).unwrap_or_default();
        if size == 0 {
            // Trailers end with an empty line; the body is complete once
            // it has arrived.
            return Ok(
                if rest.starts_with(b"\r\n") || find(rest, b"\r\n\r\n").is_some() {
                    Some(body)
                } else {
                    None
                },
            );
        }
        if body.len().saturating_add(size) > MAX_BODY {
            return Err(HttpError::BodyTooLarge);
        }
        let Some(chunk) = rest.get(..size) else {
            return Ok(None);
        };
        let Some(after) = rest.get(size..) else {
            return Ok(None);
        };
        if after.len() < 2 {
            return Ok(None);
        }
        if !after.starts_with(b"\r\n") {
            return Err(HttpError::Chunked);
        }
        body.extend_from_slice(chunk);
        rest = after.get(2..).unwrap_or_default();
    }
}

/// The first position of `needle` in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(bytes: &[u8], closed: bool) -> Response {
        match parse_response(bytes, closed) {
            Ok(Progress::Complete(response)) => response,
            other => panic!("not complete: {other:?}"),
        }
    }

    #[test]
    fn a_request_carries_its_headers_and_body() {
        let request = post_request(
            "ca.example:8443",
            "/.well-known/est/simpleenroll",
            "application/pkcs10",
            Some("Basic dTpw"),
            &[("Content-Transfer-Encoding", "base64")],
            b"MIIB",
        );
        assert_eq!(
            String::from_utf8(request).unwrap(),
            "POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: ca.example:8443\r\n\
             Content-Type: application/pkcs10\r\nContent-Transfer-Encoding: base64\r\n\
             Authorization: Basic dTpw\r\nContent-Length: 4\r\nConnection: close\r\n\r\nMIIB"
        );
    }

    #[test]
    fn content_length_bodies_wait_for_their_bytes() {
        let bytes = b"HTTP/1.1 200 OK\r\nContent-Type: application/pkcs7-mime\r\nContent-Length: 5\r\n\r\nhello";
        for cut in 0..bytes.len() {
            assert_eq!(
                parse_response(&bytes[..cut], false),
                Ok(Progress::Incomplete),
                "{cut}"
            );
            assert_eq!(
                parse_response(&bytes[..cut], true),
                Err(HttpError::Truncated),
                "{cut}"
            );
        }
        let response = complete(bytes, false);
        assert_eq!(response.status, 200);
        assert_eq!(response.reason, "OK");
        assert_eq!(
            response.header("content-type"),
            Some("application/pkcs7-mime")
        );
        assert_eq!(response.body, b"hello");
    }

    #[test]
    fn chunked_bodies_are_joined_and_extensions_skipped() {
        let bytes = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n";
        assert_eq!(complete(bytes, false).body, b"hello");
        for cut in 40..bytes.len() {
            assert_eq!(
                parse_response(&bytes[..cut], false),
                Ok(Progress::Incomplete),
                "{cut}"
            );
        }
        let trailer =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nX-T: 1\r\n\r\n";
        assert_eq!(complete(trailer, false).body, b"x");
    }

    #[test]
    fn a_body_without_length_ends_with_the_connection() {
        let bytes = b"HTTP/1.0 401 Unauthorized\r\nWWW-Authenticate: Basic\r\n\r\nno";
        assert_eq!(parse_response(bytes, false), Ok(Progress::Incomplete));
        let response = complete(bytes, true);
        assert_eq!(
            (response.status, response.body.as_slice()),
            (401, &b"no"[..])
        );
    }

    #[test]
    fn malformed_responses_are_errors_not_panics() {
        let cases: &[(&[u8], HttpError)] = &[
            (b"HTTP/2 200 OK\r\n\r\n", HttpError::StatusLine),
            (b"HTTP/1.1 2000 OK\r\n\r\n", HttpError::StatusLine),
            (b"HTTP/1.1 +20 OK\r\n\r\n", HttpError::StatusLine),
            (b"garbage\r\n\r\n", HttpError::StatusLine),
            (b"\r\n\r\n", HttpError::StatusLine),
            (
                b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
                HttpError::HeaderLine,
            ),
            (b"HTTP/1.1 200 OK\r\n: empty\r\n\r\n", HttpError::HeaderLine),
            (b"HTTP/1.1 200 OK\r\n\xff: x\r\n\r\n", HttpError::HeaderLine),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
                HttpError::ContentLength,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
                HttpError::ContentLength,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
                HttpError::ContentLength,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 2000000\r\n\r\n",
                HttpError::BodyTooLarge,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                HttpError::Chunked,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
                HttpError::Chunked,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffff\r\n",
                HttpError::Chunked,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcd",
                HttpError::Chunked,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n100001\r\n",
                HttpError::BodyTooLarge,
            ),
        ];
        for (bytes, expected) in cases {
            assert_eq!(
                parse_response(bytes, true).as_ref().err(),
                Some(expected),
                "{}",
                String::from_utf8_lossy(bytes)
            );
        }
        assert_eq!(
            parse_response(&vec![b'a'; MAX_HEAD + 1], false),
            Err(HttpError::HeadTooLarge)
        );
        let mut long = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
        long.extend(std::iter::repeat_n(b'x', MAX_BODY + 1));
        assert_eq!(parse_response(&long, true), Err(HttpError::BodyTooLarge));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // Seeded: the same bytes every run.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let alphabet = b"HTTP/1.0 2\r\n:;Content-Length0123456789abcdefTransfer-Encoding chunked";
        for _ in 0..20_000 {
            let length = usize::try_from(next() % 120).unwrap();
            let bytes: Vec<u8> = (0..length)
                .map(|_| {
                    let pick = usize::try_from(next() % 80).unwrap();
                    alphabet.get(pick).copied().unwrap_or(b'\r')
                })
                .collect();
            let _ = parse_response(&bytes, false);
            let _ = parse_response(&bytes, true);
        }
    }
}
