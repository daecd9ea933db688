//! What a Redis URL does wrong or must hide: a clear error for a wrong one, no password in any banner.

use super::*;

#[test]
fn a_wrong_url_is_a_clear_error_not_a_panic() {
    // A port nothing listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let url = format!("redis://127.0.0.1:{port}");
    for role in ["work", "produce", "both"] {
        let out = Command::new(tweets())
            .args(["--redis", &url, "--role", role])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{role}: {err}");
        assert!(err.contains("cannot connect to Redis at"), "{role}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let out = Command::new(tweets())
        .args(["--redis", "http://not-redis", "--role", "work"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("is not a valid Redis URL"), "{err}");
    let out = watch(&url);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot connect to Redis at"), "{err}");
}

/// Issue 20, item 22: the password of a Redis URL appeared in clear in the start banners and
/// hints (errors redacted it).
#[test]
fn the_password_never_shows() {
    const PASSWORD: &str = "s3cret-pw";
    let server = Server::start_with(&["--requirepass", PASSWORD]);
    let url = format!("redis://:{PASSWORD}@127.0.0.1:{}", server.port);
    let out = Command::new(tweets())
        .args(["--redis", &url, "--role", "both", "--count", "20"])
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let all = format!("{stdout}\n{stderr}");
    assert!(!all.contains(PASSWORD), "{all}");
    assert!(
        all.contains("redis://…@127.0.0.1"),
        "the banners still say where: {all}"
    );
}
