//! Reading one request head within the server's bounds: size, time and shape.

use std::io::Read;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use thiserror::Error;

/// The most headers a request may have.
const MAX_HEADERS: usize = 64;
/// The longest request target accepted, in bytes.
const MAX_TARGET: usize = 2048;

/// What the server needs of a request.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) method: String,
    /// The path, without the query.
    pub(crate) path: String,
    pub(crate) accept: Option<String>,
}

/// Why a request could not be read: each maps to the HTTP status it is answered with.
#[derive(Debug, Error)]
pub(crate) enum RequestError {
    /// The head did not fit in the limit, or had too many headers.
    #[error("request head too large (limit {0} bytes, {MAX_HEADERS} headers)")]
    TooLarge(usize),
    /// The target was too long.
    #[error("request target too long (limit {MAX_TARGET} bytes)")]
    UriTooLong,
    /// The client did not send its head in time.
    #[error("request head not received within {0:?}")]
    Timeout(Duration),
    /// Not HTTP/1.x.
    #[error("malformed request: {0}")]
    Malformed(String),
    /// The client went away before sending a whole head (nothing to answer).
    #[error("connection closed")]
    Closed,
}

impl RequestError {
    /// The status code it is answered with.
    pub(crate) fn status(&self) -> u16 {
        match self {
            RequestError::TooLarge(_) => 431,
            RequestError::UriTooLong => 414,
            RequestError::Timeout(_) => 408,
            RequestError::Malformed(_) | RequestError::Closed => 400,
        }
    }
}

/// Reads a request head from `stream`: at most `limit` bytes, all within `timeout` (a
/// client sending a byte at a time cannot hold the connection longer).
pub(crate) fn read(
    stream: &mut TcpStream,
    limit: usize,
    timeout: Duration,
) -> Result<Request, RequestError> {
    let deadline = Instant::now() + timeout;
    let mut buf = vec![0_u8; limit];
    let mut len = 0;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(RequestError::Timeout(timeout));
        }
        stream
            .set_read_timeout(Some(left))
            .map_err(|e| RequestError::Malformed(e.to_string()))?;
        let n = match stream.read(&mut buf[len..]) {
            Ok(0) => return Err(RequestError::Closed),
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(RequestError::Timeout(timeout))
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return Err(RequestError::Closed),
        };
        len += n;
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf[..len]) {
            Ok(httparse::Status::Complete(_)) => return request(&req),
            Ok(httparse::Status::Partial) if len == buf.len() => {
                return Err(RequestError::TooLarge(limit))
            }
            Ok(httparse::Status::Partial) => {}
            Err(httparse::Error::TooManyHeaders) => return Err(RequestError::TooLarge(limit)),
            Err(e) => return Err(RequestError::Malformed(e.to_string())),
        }
    }
}

fn request(req: &httparse::Request<'_, '_>) -> Result<Request, RequestError> {
    // A complete parse has a method and a path.
    let method = req.method.unwrap_or_default().to_owned();
    let target = req.path.unwrap_or_default();
    if target.len() > MAX_TARGET {
        return Err(RequestError::UriTooLong);
    }
    let path = target
        .split(['?', '#'])
        .next()
        .unwrap_or_default()
        .to_owned();
    let accept = req
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("accept"))
        .map(|h| String::from_utf8_lossy(h.value).into_owned());
    Ok(Request {
        method,
        path,
        accept,
    })
}
