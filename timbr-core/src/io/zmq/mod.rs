//! ZeroMQ plumbing shared by the records sink and the remote endpoints: which endpoints may
//! be bound and why a bind fails, the private socket directory, and binding itself.

pub(crate) mod bind;
pub(crate) mod endpoint;
#[cfg(unix)]
pub(crate) mod guard;
#[cfg(unix)]
pub(crate) mod socket_dir;

pub use self::endpoint::BindError;
#[cfg(unix)]
pub use self::guard::raise_nofile;
/// Connections one `ipc://` endpoint holds at most before it is closed to new ones (it
/// reopens below three quarters); the whole process holds at most half its open-files limit.
#[cfg(unix)]
pub use self::guard::MAX_CONNECTIONS;
