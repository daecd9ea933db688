//! The dashboard's files: plain HTML, CSS and JavaScript kept as data files beside the code,
//! served as they are (no build step, nothing fetched from elsewhere).

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Every file of the page, by path: its content type and its text. The scripts load in the
/// order `index.html` gives: `charts.js` (the charts over time, from `/api/history/…`),
/// `graph.js` (the stage graph), `registry.js` (a fleet registry's card), `failures.js`
/// (the failures card), then `dashboard.js`, which follows `/api/events` and draws the rest.
const FILES: [(&str, &str, &str); 8] = [
    ("/", HTML, include_str!("../assets/index.html")),
    ("/index.html", HTML, include_str!("../assets/index.html")),
    (
        "/dashboard.css",
        CSS,
        include_str!("../assets/dashboard.css"),
    ),
    ("/charts.js", JS, include_str!("../assets/charts.js")),
    ("/graph.js", JS, include_str!("../assets/graph.js")),
    ("/registry.js", JS, include_str!("../assets/registry.js")),
    ("/failures.js", JS, include_str!("../assets/failures.js")),
    ("/dashboard.js", JS, include_str!("../assets/dashboard.js")),
];

/// The file at `path`, if it is one of the page's: its content type and text.
pub(crate) fn file(path: &str) -> Option<(&'static str, &'static str)> {
    FILES
        .iter()
        .find(|(p, _, _)| *p == path)
        .map(|&(_, kind, text)| (kind, text))
}

#[cfg(test)]
mod tests {
    use super::file;

    #[test]
    fn every_script_and_style_the_page_loads_is_served() {
        let (_, page) = file("/").unwrap();
        for part in page.split(['"']) {
            if part.ends_with(".js") || part.ends_with(".css") {
                assert!(file(&format!("/{part}")).is_some(), "{part} is not served");
            }
        }
    }
}
