//! Writing responses: always a length or a stream, never keep-alive (one request per
//! connection keeps the bounds simple: a connection's thread is free when it is answered).

use std::io::Write;

/// A complete response.
pub(crate) struct Response {
    pub(crate) code: u16,
    pub(crate) reason: &'static str,
    pub(crate) content_type: &'static str,
    pub(crate) body: Vec<u8>,
    pub(crate) extra: Vec<(&'static str, String)>,
}

impl Response {
    pub(crate) fn new(content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        Response {
            code: 200,
            reason: "OK",
            content_type,
            body: body.into(),
            extra: Vec::new(),
        }
    }

    pub(crate) fn json(code: u16, value: &impl serde::Serialize) -> Self {
        // Serializing our own plain structs to a vector does not fail; an empty object if it
        // ever did.
        let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
        Response {
            code,
            reason: reason(code),
            ..Response::new("application/json", body)
        }
    }

    /// A plain-text error: `code` with its reason phrase (from [`reason`]), then `message`.
    pub(crate) fn error(code: u16, message: &str) -> Self {
        let reason = reason(code);
        Response {
            code,
            reason,
            ..Response::new(
                "text/plain; charset=utf-8",
                format!("{code} {reason}: {message}\n"),
            )
        }
    }

    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.extra.push((name, value.into()));
        self
    }

    /// Writes the response; the body only if `with_body` (not for `HEAD`).
    pub(crate) fn write_to(&self, w: &mut impl Write, with_body: bool) -> std::io::Result<()> {
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n",
            self.code,
            self.reason,
            self.content_type,
            self.body.len()
        );
        for (name, value) in &self.extra {
            head.push_str(name);
            head.push_str(": ");
            head.push_str(value);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        w.write_all(head.as_bytes())?;
        if with_body {
            w.write_all(&self.body)?;
        }
        w.flush()
    }
}

/// The reason phrase of each status code this server answers with: the one table of them.
pub(crate) fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        414 => "URI Too Long",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::reason;

    #[test]
    fn every_code_the_server_sends_has_its_reason() {
        for code in [200, 400, 404, 405, 408, 414, 431, 500, 503] {
            assert!(!reason(code).is_empty(), "{code}");
        }
    }
}
