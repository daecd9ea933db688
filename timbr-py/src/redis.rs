//! The Redis Streams queue from Python: a fleet's producer (`put`, `put_all`) and, passed
//! as `Machine(queue=…)`, a machine's queue shared with the other machines of the group.

use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use timbr_core::{Queue, TryPutError};
use timbr_redis::{Announce, Fleet, RedisOptions, RedisQueue};

use crate::value::{json_to_py, PyValue};

/// A Redis stream consumed by a group of machines (at-least-once: a datum is
/// acknowledged once its record reached the sink; a crashed consumer's data are claimed by
/// the others). Connects at once; raises OSError if Redis cannot be reached.
#[pyclass(frozen, module = "timbr", name = "RedisQueue")]
pub(crate) struct PyRedisQueue {
    queue: RedisQueue<PyValue>,
}

#[pymethods]
impl PyRedisQueue {
    #[new]
    #[pyo3(signature = (
        url, stream, *, group=None, consumer=None, capacity=None, batch=None, pack=None,
        claim_after=None, max_deliveries=None
    ))]
    #[allow(
        clippy::too_many_arguments,
        reason = "keyword arguments of a Python constructor"
    )]
    fn new(
        py: Python<'_>,
        url: String,
        stream: String,
        group: Option<String>,
        consumer: Option<String>,
        capacity: Option<usize>,
        batch: Option<usize>,
        pack: Option<usize>,
        claim_after: Option<f64>,
        max_deliveries: Option<u64>,
    ) -> PyResult<PyRedisQueue> {
        let mut options = RedisOptions::new(url, stream);
        if let Some(g) = group {
            options = options.group(g);
        }
        if let Some(c) = consumer {
            options = options.consumer(c);
        }
        if let Some(c) = capacity {
            options = options.capacity(c);
        }
        if let Some(b) = batch {
            options = options.batch(b);
        }
        if let Some(p) = pack {
            options = options.pack(p);
        }
        if let Some(s) = claim_after {
            options = options.claim_after(crate::handlers::seconds(s)?);
        }
        if let Some(m) = max_deliveries {
            options = options.max_deliveries(m);
        }
        let queue = py
            .detach(|| RedisQueue::connect(options))
            .map_err(|e| PyOSError::new_err(e.to_string()))?;
        Ok(PyRedisQueue { queue })
    }

    /// Adds `datum` to the stream without waiting: raises `timbr.Full` carrying the datum
    /// when the writer's buffer is full or Redis is unreachable.
    fn put(&self, py: Python<'_>, datum: Py<PyAny>) -> PyResult<()> {
        let queue = self.queue.clone();
        let value = PyValue(datum);
        match py.detach(move || queue.try_put(value)) {
            Ok(()) => Ok(()),
            Err(e) => {
                let message = e.to_string();
                let datum = match e {
                    TryPutError::Full(d) | TryPutError::Closed(d) => d,
                    TryPutError::Rejected { datum, .. } => datum,
                };
                Err(crate::errors::full(py, datum.0, message))
            }
        }
    }

    /// Adds every item of `data` to the stream, waiting while Redis is unreachable.
    /// Raises ValueError if an item cannot be written as JSON (those before it were put).
    fn put_all(&self, py: Python<'_>, data: Bound<'_, PyAny>) -> PyResult<()> {
        let items: Vec<PyValue> = data
            .try_iter()?
            .map(|item| item.map(|i| PyValue(i.unbind())))
            .collect::<PyResult<_>>()?;
        let queue = self.queue.clone();
        py.detach(move || queue.put_all(items))
            .map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// Waits until everything put was written to Redis (the writer's own bound applies).
    fn flush(&self, py: Python<'_>) {
        let queue = self.queue.clone();
        py.detach(move || queue.flush());
    }

    /// The queue's view of Redis: connection state, group lag, pending, dead letters…
    fn report<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let queue = self.queue.clone();
        let report = py.detach(move || serde_json::to_value(queue.report()));
        let report = report.map_err(|e| PyValueError::new_err(e.to_string()))?;
        json_to_py(py, &report)
    }

    fn __repr__(&self) -> String {
        format!(
            "RedisQueue(stream={:?}, group={:?}, consumer={:?})",
            self.queue.options().stream(),
            self.queue.options().group_name(),
            self.queue.options().consumer_name()
        )
    }
}

/// A fleet's view from Redis: every machine the registry knows and the balance of the
/// stream (produced = acknowledged + pending + unread + dead), for a notebook watching a
/// fleet it drives.
#[pyclass(module = "timbr", name = "Fleet")]
pub(crate) struct PyFleet {
    fleet: parking_lot::Mutex<Fleet>,
}

#[pymethods]
impl PyFleet {
    #[new]
    #[pyo3(signature = (url, stream, *, group=None))]
    fn new(
        py: Python<'_>,
        url: String,
        stream: String,
        group: Option<String>,
    ) -> PyResult<PyFleet> {
        let mut options = RedisOptions::new(url, stream);
        if let Some(g) = group {
            options = options.group(g);
        }
        let fleet = py
            .detach(|| Fleet::connect(options))
            .map_err(|e| PyOSError::new_err(e.to_string()))?;
        Ok(PyFleet {
            fleet: parking_lot::Mutex::new(fleet),
        })
    }

    /// The stream's balance, as a dict: `produced`, `acked`, `pending`, `unread`, `dead`
    /// and whether they add up (`balanced`).
    fn balance<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let balance = py
            .detach(|| self.fleet.lock().balance())
            .map_err(|e| PyOSError::new_err(e.to_string()))?;
        let mut value =
            serde_json::to_value(&balance).map_err(|e| PyValueError::new_err(e.to_string()))?;
        if let Some(map) = value.as_object_mut() {
            map.insert("balanced".to_owned(), balance.is_balanced().into());
        }
        json_to_py(py, &value)
    }

    /// Every machine the registry knows (producers and workers: role, state, counts, rate)
    /// with the totals and the stream as Redis sees it, as a dict.
    fn view<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let view = py
            .detach(|| self.fleet.lock().view())
            .map_err(|e| PyOSError::new_err(e.to_string()))?;
        let value =
            serde_json::to_value(&view).map_err(|e| PyValueError::new_err(e.to_string()))?;
        json_to_py(py, &value)
    }
}

/// The queue behind `Machine(queue=…)`, and the plugin announcing the machine in the fleet's
/// registry (so `Fleet.view()` and `timbr-watch fleet` list it).
pub(crate) fn queue_of(spec: &Bound<'_, PyAny>) -> PyResult<(RedisQueue<PyValue>, Announce)> {
    match spec.cast::<PyRedisQueue>() {
        Ok(q) => {
            let queue = q.get().queue.clone();
            let announce = spec
                .py()
                .detach(|| Announce::for_queue(&queue, "worker"))
                .map_err(|e| PyOSError::new_err(e.to_string()))?;
            Ok((queue, announce))
        }
        Err(_) => Err(crate::errors::type_error(format!(
            "a queue is a timbr.RedisQueue, not {}",
            spec.get_type().name()?
        ))),
    }
}
