//! Commands encoded by hand into one reused buffer, for the outbox's transaction of a whole
//! batch: building it with `redis::Pipeline` cost a `Cmd` (two growing vectors) and a hash
//! of ignored replies per record, a third of a worker's time in a Redis-bound fleet.

use redis::{ConnectionLike, RedisResult, Value};

/// A transaction (`MULTI` … `EXEC`) being encoded.
#[derive(Default)]
pub(crate) struct Transaction {
    buf: Vec<u8>,
    commands: usize,
}

impl Transaction {
    /// Empties it for the next batch, keeping its buffer.
    pub(crate) fn clear(&mut self) {
        self.buf.clear();
        self.commands = 0;
    }

    /// Appends a command of `args.len()` arguments.
    pub(crate) fn command(&mut self, args: &[&[u8]]) {
        self.start(args.len());
        for a in args {
            self.arg(a);
        }
    }

    /// Starts a command of `n` arguments, each to be appended with [`arg`](Self::arg).
    pub(crate) fn start(&mut self, n: usize) {
        self.commands += 1;
        self.buf.push(b'*');
        push_decimal(&mut self.buf, n);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// Appends one argument of the command started last.
    pub(crate) fn arg(&mut self, a: &[u8]) {
        self.buf.push(b'$');
        push_decimal(&mut self.buf, a.len());
        self.buf.extend_from_slice(b"\r\n");
        self.buf.extend_from_slice(a);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// Appends one argument of the command started last: `parts` joined by `sep`, without
    /// copying them into one buffer first.
    pub(crate) fn joined<'a>(&mut self, parts: impl Iterator<Item = &'a [u8]> + Clone, sep: u8) {
        let (n, len) = parts
            .clone()
            .fold((0, 0), |(n, len), p| (n + 1, len + p.len()));
        self.buf.push(b'$');
        push_decimal(&mut self.buf, len + n.max(1) - 1);
        self.buf.extend_from_slice(b"\r\n");
        for (i, p) in parts.enumerate() {
            if i > 0 {
                self.buf.push(sep);
            }
            self.buf.extend_from_slice(p);
        }
        self.buf.extend_from_slice(b"\r\n");
    }

    /// Sends the commands as one transaction and returns their replies, in order. An error
    /// reply of any of them is the error.
    pub(crate) fn exec(&self, con: &mut impl ConnectionLike) -> RedisResult<Vec<Value>> {
        if self.commands == 0 {
            return Ok(Vec::new());
        }
        let mut packed = Vec::with_capacity(self.buf.len() + 32);
        packed.extend_from_slice(b"*1\r\n$5\r\nMULTI\r\n");
        packed.extend_from_slice(&self.buf);
        packed.extend_from_slice(b"*1\r\n$4\r\nEXEC\r\n");
        // The replies of MULTI and of each command queued are skipped: EXEC's is the one.
        let mut replies = con.req_packed_commands(&packed, self.commands + 1, 1)?;
        match replies.pop() {
            Some(Value::Array(items)) => items.into_iter().map(Value::extract_error).collect(),
            Some(other) => other.extract_error().map(|v| vec![v]),
            None => Ok(Vec::new()),
        }
    }
}

impl Transaction {
    /// Sends the commands one after another in one round trip, *not* as a transaction, and
    /// returns their replies; an error reply of any of them is the error. For commands
    /// each atomic by itself (scripts) that must run when Redis is out of memory: Redis
    /// then refuses every command queued in a `MULTI`, whatever it is.
    pub(crate) fn pipeline(&self, con: &mut impl ConnectionLike) -> RedisResult<Vec<Value>> {
        if self.commands == 0 {
            return Ok(Vec::new());
        }
        let replies = con.req_packed_commands(&self.buf, 0, self.commands)?;
        replies.into_iter().map(Value::extract_error).collect()
    }
}

fn push_decimal(buf: &mut Vec<u8>, mut n: usize) {
    let mut digits = [0_u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[i..]);
}

#[cfg(test)]
mod tests {
    use super::{push_decimal, Transaction};

    #[test]
    fn commands_are_encoded_as_redis_reads_them() {
        let mut t = Transaction::default();
        t.command(&[b"XADD", b"s", b"*", b"k", b""]);
        t.start(2);
        t.arg(b"GET");
        t.arg(&[b'x'; 12]);
        assert_eq!(t.commands, 2);
        assert_eq!(
            t.buf,
            b"*5\r\n$4\r\nXADD\r\n$1\r\ns\r\n$1\r\n*\r\n$1\r\nk\r\n$0\r\n\r\n\
              *2\r\n$3\r\nGET\r\n$12\r\nxxxxxxxxxxxx\r\n"
        );
        t.clear();
        assert!(t.buf.is_empty());
        t.start(2);
        t.joined([&b"ab"[..], b"", b"c"].into_iter(), b'\n');
        t.joined(std::iter::empty(), b'\n');
        assert_eq!(t.buf, b"*2\r\n$5\r\nab\n\nc\r\n$0\r\n\r\n");
        t.clear();
        let mut b = Vec::new();
        for n in [0, 7, 10, 12345, usize::MAX] {
            b.clear();
            push_decimal(&mut b, n);
            assert_eq!(b, n.to_string().as_bytes());
        }
    }
}
