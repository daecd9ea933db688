//! `serve_http`: a machine's Prometheus metrics, health checks and live dashboard, served
//! from the notebook's process.

use std::net::SocketAddr;

use parking_lot::Mutex;
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use timbr_http::{HttpOptions, HttpServer};

use crate::machine::PyMachine;

/// A running HTTP server for one machine: `/metrics`, `/livez`, `/readyz` and the
/// dashboard at `/`. `close()` (or leaving a `with` block) stops it.
#[pyclass(frozen, module = "timbr", name = "HttpServer")]
pub(crate) struct PyHttpServer {
    addr: SocketAddr,
    server: Mutex<Option<HttpServer>>,
}

#[pymethods]
impl PyHttpServer {
    /// The dashboard's URL.
    #[getter]
    fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// The address served, as `host:port`.
    #[getter]
    fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// Stops serving (idempotent).
    fn close(&self, py: Python<'_>) {
        let server = self.server.lock().take();
        py.detach(move || drop(server));
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(
        &self,
        py: Python<'_>,
        _kind: Option<Bound<'_, PyAny>>,
        _value: Option<Bound<'_, PyAny>>,
        _traceback: Option<Bound<'_, PyAny>>,
    ) {
        self.close(py);
    }

    fn __repr__(&self) -> String {
        format!("HttpServer({})", self.url())
    }
}

/// Serves `machine`'s metrics, health and dashboard on `addr` (`"127.0.0.1:0"`: a free
/// loopback port; see `url`). Addresses beyond this host need `allow_remote=True`.
#[pyfunction]
#[pyo3(signature = (machine, addr="127.0.0.1:0", *, allow_remote=false))]
pub(crate) fn serve_http(
    py: Python<'_>,
    machine: &Bound<'_, PyMachine>,
    addr: &str,
    allow_remote: bool,
) -> PyResult<PyHttpServer> {
    let addr: SocketAddr = addr
        .parse()
        .map_err(|e| PyValueError::new_err(format!("{addr:?} is not host:port: {e}")))?;
    let options = HttpOptions::new().addr(addr).allow_remote(allow_remote);
    let machine = std::sync::Arc::clone(machine.get().machine());
    let server = py
        .detach(move || timbr_http::serve(&machine, options))
        .map_err(|e| PyOSError::new_err(e.to_string()))?;
    Ok(PyHttpServer {
        addr: server.addr(),
        server: Mutex::new(Some(server)),
    })
}
