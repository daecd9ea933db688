//! The dashboard's files: plain HTML, CSS and JavaScript kept as data files beside the code,
//! served as they are (no build step, nothing fetched from elsewhere).

/// The page.
pub(crate) const INDEX: &str = include_str!("../assets/index.html");
/// Its script: follows `/api/events` and draws the tables and charts.
pub(crate) const SCRIPT: &str = include_str!("../assets/dashboard.js");
/// Its style.
pub(crate) const STYLE: &str = include_str!("../assets/dashboard.css");
