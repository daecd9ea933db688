//! A failure a debugger kept, as a notebook user meets it: its values by the names stages
//! use, its displays (text, `Debug`, HTML), and the status of the machine it stopped.

use timbr_core::crossbeam_channel;
use timbr_core::io::SourceState;
use timbr_core::{Debugger, Machine, MachineState, Progress, Serialized, Stage, StopMode};

fn halve_fails_on_odd() -> Stage {
    Stage::try_new(1, "halve", ["f0", "input_s"], |n: &u64, _: &Serialized| {
        if n % 2 == 0 {
            Ok(n / 2)
        } else {
            Err(format!("{n} is odd <b>not</b> even"))
        }
    })
    .unwrap()
}

fn plus_one() -> Stage {
    Stage::new(0, "plus_one", ["input"], |n: &u64| n + 1).unwrap()
}

fn stopped_on(datum: u64) -> Machine<u64> {
    let machine = Machine::<u64>::builder()
        .stages([plus_one(), halve_fails_on_odd()])
        .handler(Debugger)
        .build()
        .unwrap();
    machine.put(datum).unwrap();
    machine.start().unwrap();
    assert!(matches!(machine.wait(), MachineState::Failed(_)));
    machine
}

#[test]
fn failure_values_answer_to_the_names_stages_use() {
    let machine = stopped_on(4); // 4 + 1 = 5 is odd
    let kept = machine.kept().unwrap();
    let failure = kept.failure().unwrap();
    assert_eq!(failure.value::<u64>("input"), Some(&4));
    assert_eq!(
        failure.value::<u64>("in"),
        Some(&4),
        "graph keys still work"
    );
    assert_eq!(failure.value::<u64>("f0"), Some(&5));
    assert_eq!(
        failure
            .value::<Serialized>("input_s")
            .map(Serialized::as_str),
        Some("4")
    );
    assert_eq!(
        failure.value::<Serialized>("in_s").map(Serialized::as_str),
        Some("4")
    );
    assert_eq!(
        failure.value::<bson::oid::ObjectId>("oid"),
        Some(&failure.oid())
    );
    assert_eq!(
        failure.value::<u64>("f1"),
        None,
        "the failing stage has no value"
    );
    assert_eq!(failure.value::<u64>("nonsense"), None);
}

#[test]
fn a_kept_failure_reads_well_as_text_debug_and_html() {
    let machine = stopped_on(4);
    let kept = machine.kept().unwrap();
    let failure = kept.failure().unwrap();
    let oid = failure.oid().to_hex();

    let text = kept.to_string();
    println!("{text}");
    assert!(
        text.starts_with(&format!(
            "kept: stage `halve` (f1) failed on {oid}: 5 is odd <b>not</b> even"
        )),
        "{text}"
    );
    assert!(text.contains("datum     4"), "{text}");
    assert!(text.contains(&failure.at().to_rfc3339()), "{text}");

    let debug = format!("{kept:?}");
    println!("{debug}");
    assert!(
        !debug.contains("SystemTime") && !debug.contains("tv_sec"),
        "{debug}"
    );
    assert!(debug.contains(&failure.at().to_rfc3339()), "{debug}");
    assert!(debug.contains(&oid), "{debug}");
    assert!(debug.contains("5 is odd"), "{debug}");

    for html in [kept.to_html(), failure.to_html()] {
        assert!(html.contains("halve") && html.contains(&oid), "{html}");
        assert!(
            html.contains("5 is odd &lt;b&gt;not&lt;/b&gt; even"),
            "{html}"
        );
        assert!(!html.contains("<b>not"), "user text is escaped: {html}");
        assert!(!html.contains('\n') || html.lines().all(|l| !l.starts_with("EVCXR")));
    }
}

#[test]
fn a_machine_stopped_by_the_debugger_shows_no_running_source_and_no_eta() {
    // A source that blocks in `next` (as a live stream does) once it has given its data:
    // its thread cannot notice the stop until `next` returns.
    let (entered_tx, entered) = crossbeam_channel::bounded::<()>(1);
    let (gate, closed) = crossbeam_channel::bounded::<()>(0);
    let mut data = vec![1_u64, 3, 4].into_iter(); // 4 + 1 fails
    let source = std::iter::from_fn(move || {
        data.next().or_else(|| {
            let _ = entered_tx.send(());
            let _ = closed.recv(); // until the test drops `gate`
            None
        })
    });
    // The failing datum waits until the source thread is blocked in `next`: stopped first, a
    // source thread would end without calling `next` again (it was seen under load) and the
    // state this test looks at would never arise.
    let plus_one_once_the_source_waits = Stage::new(0, "plus_one", ["input"], move |n: &u64| {
        if *n == 4 {
            let _ = entered.recv();
        }
        n + 1
    })
    .unwrap();
    let machine = Machine::<u64>::builder()
        .stages([plus_one_once_the_source_waits, halve_fails_on_odd()])
        .handler(Debugger)
        .plugin(Progress::new(1_000).bar(false))
        .build()
        .unwrap();
    machine.set_source(source);
    machine.start().unwrap();
    assert!(matches!(machine.wait(), MachineState::Failed(_)));

    let status = machine.status();
    assert_eq!(status.source.as_ref().unwrap().state, SourceState::Ready);
    assert_eq!(machine.source_state(), SourceState::Ready);
    assert!(
        status.plugins["progress"]["eta"].is_null(),
        "{:?}",
        status.plugins
    );
    let text = status.to_string();
    assert!(!text.contains("source     running"), "{text}");
    let progress = text.lines().find(|l| l.starts_with("progress")).unwrap();
    assert!(progress.contains("ETA -"), "{progress}");

    // The source thread ends when its stream does; nothing was lost.
    drop(gate);
    machine.stop(StopMode::Return);
    let c = machine.counts();
    assert_eq!((c.processed, c.failed), (2, 1));
    assert!(c.is_balanced());
}
