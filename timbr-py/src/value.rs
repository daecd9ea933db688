//! A Python object as a timbr datum: what the machine carries and what Python stages produce.
//!
//! The engine treats it as any other value; only its JSON goes through Python, written
//! straight from the objects in Rust (no `json.dumps` round trip, as orjson does).

use std::fmt;

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::ser::{self, SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How deep JSON may nest: deeper is taken for a circular reference (as `json.dumps` says).
const MAX_DEPTH: usize = 255;

/// A Python object on its way through a machine.
pub(crate) struct PyValue(pub(crate) Py<PyAny>);

impl PyValue {
    /// The object, bound to the interpreter.
    pub(crate) fn bind<'py>(&self, py: Python<'py>) -> &Bound<'py, PyAny> {
        self.0.bind(py)
    }
}

impl fmt::Debug for PyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = Python::try_attach(|py| {
            self.0
                .bind(py)
                .repr()
                .map(|r| r.to_string_lossy().into_owned())
                .unwrap_or_else(|_| "<unprintable>".to_owned())
        });
        f.write_str(text.as_deref().unwrap_or("<python object>"))
    }
}

impl Serialize for PyValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Python::attach(|py| {
            Json {
                object: self.0.bind(py),
                depth: 0,
            }
            .serialize(serializer)
        })
    }
}

/// An object written as JSON, the way `json.dumps` writes it (keys of other types than `str`
/// made text as `json.dumps` does; anything it refuses refused with its message).
struct Json<'a, 'py> {
    object: &'a Bound<'py, PyAny>,
    depth: usize,
}

impl Json<'_, '_> {
    fn nested<'b, 'py>(&self, object: &'b Bound<'py, PyAny>) -> Json<'b, 'py> {
        Json {
            object,
            depth: self.depth + 1,
        }
    }
}

impl Serialize for Json<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let object = self.object;
        if self.depth > MAX_DEPTH {
            return Err(ser::Error::custom(
                "nested too deep (a circular reference?)",
            ));
        }
        if object.is_none() {
            return serializer.serialize_unit();
        }
        if let Ok(text) = object.cast::<PyString>() {
            return serializer.serialize_str(&text.to_cow().map_err(ser::Error::custom)?);
        }
        // `bool` first: it is an `int` too.
        if let Ok(flag) = object.cast::<PyBool>() {
            return serializer.serialize_bool(flag.is_true());
        }
        if let Ok(int) = object.cast::<PyInt>() {
            if let Ok(n) = int.extract::<i64>() {
                return serializer.serialize_i64(n);
            }
            if let Ok(n) = int.extract::<i128>() {
                return serializer.serialize_i128(n);
            }
            return Err(ser::Error::custom(
                "int too large for JSON (more than 128 bits)",
            ));
        }
        if let Ok(float) = object.cast::<PyFloat>() {
            let value = float.value();
            if !value.is_finite() {
                // JSON has no NaN or infinity (`json.dumps(allow_nan=False)` says the same).
                return Err(ser::Error::custom(format_args!(
                    "Out of range float values are not JSON compliant: {value}"
                )));
            }
            return serializer.serialize_f64(value);
        }
        if let Ok(dict) = object.cast::<PyDict>() {
            let mut map = serializer.serialize_map(Some(dict.len()))?;
            for (key, value) in dict.iter() {
                map.serialize_entry(&key_text(&key)?, &self.nested(&value))?;
            }
            return map.end();
        }
        if let Ok(list) = object.cast::<PyList>() {
            let mut seq = serializer.serialize_seq(Some(list.len()))?;
            for item in list.iter() {
                seq.serialize_element(&self.nested(&item))?;
            }
            return seq.end();
        }
        if let Ok(tuple) = object.cast::<PyTuple>() {
            let mut seq = serializer.serialize_seq(Some(tuple.len()))?;
            for item in tuple.iter() {
                seq.serialize_element(&self.nested(&item))?;
            }
            return seq.end();
        }
        Err(ser::Error::custom(format_args!(
            "Object of type {} is not JSON serializable",
            type_name(object)
        )))
    }
}

/// A dict key as `json.dumps` writes it.
fn key_text<E: ser::Error>(key: &Bound<'_, PyAny>) -> Result<String, E> {
    if let Ok(text) = key.cast::<PyString>() {
        return Ok(text.to_cow().map_err(E::custom)?.into_owned());
    }
    if key.is_none() {
        return Ok("null".to_owned());
    }
    if let Ok(flag) = key.cast::<PyBool>() {
        return Ok(if flag.is_true() { "true" } else { "false" }.to_owned());
    }
    if key.is_instance_of::<PyInt>() || key.is_instance_of::<PyFloat>() {
        return Ok(key.str().map_err(E::custom)?.to_string_lossy().into_owned());
    }
    Err(E::custom(format_args!(
        "keys must be str, int, float, bool or None, not {}",
        type_name(key)
    )))
}

fn type_name(object: &Bound<'_, PyAny>) -> String {
    object
        .get_type()
        .name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "?".to_owned())
}

impl<'de> Deserialize<'de> for PyValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<PyValue, D::Error> {
        Python::attach(|py| {
            ObjectSeed { py }
                .deserialize(deserializer)
                .map(|o| PyValue(o.unbind()))
        })
    }
}

/// Builds Python objects from JSON as `json.loads` does.
#[derive(Clone, Copy)]
struct ObjectSeed<'py> {
    py: Python<'py>,
}

impl<'de, 'py> DeserializeSeed<'de> for ObjectSeed<'py> {
    type Value = Bound<'py, PyAny>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, 'py> Visitor<'de> for ObjectSeed<'py> {
    type Value = Bound<'py, PyAny>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(self.py.None().into_bound(self.py))
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.visit_unit()
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(PyBool::new(self.py, v).to_owned().into_any())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        v.into_pyobject(self.py)
            .map(Bound::into_any)
            .map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        v.into_pyobject(self.py)
            .map(Bound::into_any)
            .map_err(E::custom)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(PyFloat::new(self.py, v).into_any())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(PyString::new(self.py, v).into_any())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let list = PyList::empty(self.py);
        while let Some(item) = seq.next_element_seed(self)? {
            list.append(item).map_err(de::Error::custom)?;
        }
        Ok(list.into_any())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let dict = PyDict::new(self.py);
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(self)?;
            dict.set_item(key, value).map_err(de::Error::custom)?;
        }
        Ok(dict.into_any())
    }
}

/// A `serde_json::Value` (a status, an event) as Python objects.
pub(crate) fn json_to_py<'py>(
    py: Python<'py>,
    value: &serde_json::Value,
) -> PyResult<Bound<'py, PyAny>> {
    ObjectSeed { py }
        .deserialize(value)
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))
}
