//! The serialized (`_s`) form of a value: JSON text, or an `{"_exception": …}` object when the
//! value could not be serialized.

use std::fmt;
use std::ops::Deref;

use serde::Serialize;

/// A key's serialized form: JSON text (for `oid_s`, the 24 hex characters).
///
/// Dereferences to `String` (and so to `str`), which is how stages receive `_s` arguments.
/// When serialization failed, the text is the JSON object `{"_exception": "<message>"}` and
/// [`is_exception`](Serialized::is_exception) is true: a value that cannot be serialized
/// never stops the machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Serialized {
    text: String,
    /// For an `_exception` object, its message (so that nobody parses the text back).
    exception: Option<Box<str>>,
}

impl Serialized {
    /// `value` as JSON, or an `_exception` object if it cannot be serialized.
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Self {
        match serde_json::to_string(value) {
            Ok(text) => Serialized {
                text,
                exception: None,
            },
            Err(e) => Serialized::exception(format_args!("cannot serialize: {e}")),
        }
    }

    /// Text taken as already serialized.
    pub fn raw(text: String) -> Self {
        Serialized {
            text,
            exception: None,
        }
    }

    /// The object `{"_exception": message}`.
    pub fn exception(message: impl fmt::Display) -> Self {
        let message = message.to_string();
        let text = serde_json::json!({ "_exception": message }).to_string();
        Serialized {
            text,
            exception: Some(message.into_boxed_str()),
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether this stands for a failure (an `_exception` object) rather than a value.
    pub fn is_exception(&self) -> bool {
        self.exception.is_some()
    }

    /// The message of an `_exception` object (`None` for a value).
    pub fn exception_message(&self) -> Option<&str> {
        self.exception.as_deref()
    }

    /// The text, owned.
    pub fn into_string(self) -> String {
        self.text
    }
}

impl Deref for Serialized {
    type Target = String;

    fn deref(&self) -> &String {
        &self.text
    }
}

impl fmt::Display for Serialized {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn values_become_json() {
        let s = Serialized::json(&serde_json::json!({"a": [1, 2]}));
        assert_eq!(s.as_str(), r#"{"a":[1,2]}"#);
        assert!(!s.is_exception());
    }

    #[test]
    fn unserializable_values_become_exceptions() {
        let mut m = HashMap::new();
        m.insert((1, 2), 3); // JSON object keys must be strings
        let s = Serialized::json(&m);
        assert!(s.is_exception());
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert!(v["_exception"]
            .as_str()
            .unwrap()
            .contains("key must be a string"));
    }

    #[test]
    fn exception_messages_are_escaped() {
        let s = Serialized::exception("quote \" and newline \n");
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["_exception"], "quote \" and newline \n");
        assert_eq!(s.exception_message(), Some("quote \" and newline \n"));
    }
}
