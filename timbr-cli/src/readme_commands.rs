//! The README's command lines for one program, for its test that each parses (included by
//! the programs' tests with `#[path]`; not part of the library).

/// The arguments of every README line that runs the program: after one of `markers`
/// (`--bin timbr-watch -- `, `$F `), without the comment (`  # …`) or a trailing `&`, with
/// `$R` as a Redis URL. Lines of `--help` are left out (clap's own).
pub(crate) fn readme_commands(markers: &[&str]) -> Vec<(String, String)> {
    let readme = include_str!("../../README.md");
    readme
        .lines()
        .filter_map(|l| markers.iter().find_map(|m| l.split_once(m)))
        .map(|(_, args)| args.split("  #").next().unwrap_or_default().trim())
        .filter(|args| !args.starts_with("--help"))
        .map(|args| {
            let args = args.trim_end_matches('&').trim_end();
            (
                args.to_owned(),
                args.replace("$R", "redis://127.0.0.1:6379"),
            )
        })
        .collect()
}
