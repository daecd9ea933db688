//! The dashboard's files: plain HTML, CSS and JavaScript kept as data files beside the code,
//! served as they are (no build step, nothing fetched from elsewhere).

/// The page.
pub(crate) const INDEX: &str = include_str!("../assets/index.html");
/// Its script: follows `/api/events` and draws the tables and charts.
pub(crate) const SCRIPT: &str = include_str!("../assets/dashboard.js");
/// The charts over time, drawn from `/api/history/…`.
pub(crate) const CHARTS: &str = include_str!("../assets/charts.js");
/// The stage graph.
pub(crate) const GRAPH: &str = include_str!("../assets/graph.js");
/// A fleet registry's card.
pub(crate) const REGISTRY: &str = include_str!("../assets/registry.js");
/// The failures card.
pub(crate) const FAILURES: &str = include_str!("../assets/failures.js");
/// Its style.
pub(crate) const STYLE: &str = include_str!("../assets/dashboard.css");
