//! [`Timestamp`]: when something happened (a failure, a start, a snapshot), on the wall clock.

use std::fmt;
use std::time::SystemTime;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A wall-clock time, serialized as an RFC 3339 string (millisecond precision).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub SystemTime);

impl Timestamp {
    /// Now.
    pub fn now() -> Self {
        Timestamp(SystemTime::now())
    }

    /// As RFC 3339, e.g. `2026-11-28T04:05:15.123Z`.
    pub fn to_rfc3339(&self) -> String {
        let dt = bson::DateTime::from_system_time(self.0);
        dt.try_to_rfc3339_string()
            .unwrap_or_else(|_| format!("{} ms since the epoch", dt.timestamp_millis()))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        bson::DateTime::parse_rfc3339_str(&text)
            .map(|dt| Timestamp(dt.to_system_time()))
            .map_err(serde::de::Error::custom)
    }
}
