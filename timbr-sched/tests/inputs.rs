//! Filling a run's inputs: by name or by id, checked against the declared type.

mod common;

use timbr_sched::{GraphBuilder, InputError, TaskError, TypeMismatch, UnknownKey, Value};

fn graph() -> timbr_sched::Graph {
    let mut g = GraphBuilder::new();
    g.input::<u64>("x");
    g.alias("ex", "x");
    g.input::<String>("name");
    g.task("greeting", ["name", "x"], |a| {
        Ok(format!("{} #{}", a.get::<String>(0)?, a.get::<u64>(1)?))
    });
    g.build().unwrap()
}

#[test]
fn setting_an_input_checks_key_kind_and_type() {
    let plan = graph().plan_all();
    let mut run = plan.run();
    assert_eq!(
        run.set("y", 1_u64).err(),
        Some(InputError::UnknownKey(UnknownKey("y".into())))
    );
    assert_eq!(
        run.set("greeting", String::new()).err(),
        Some(InputError::NotAnInput("greeting".into()))
    );
    let e = run.set("x", 1_i32).err().unwrap();
    assert_eq!(
        e,
        InputError::TypeMismatch(TypeMismatch {
            key: "x".into(),
            expected: "u64",
            found: "i32",
        })
    );
    assert_eq!(e.to_string(), "`x` holds `i32`, not `u64`");
    assert_eq!(
        run.set("greeting", 1_u64).err().unwrap().to_string(),
        "`greeting` is a task, not an input"
    );
}

#[test]
fn inputs_set_by_alias_by_id_and_reset_are_all_seen() {
    let graph = graph();
    let plan = graph.plan(["greeting"]).unwrap();
    let name = graph.node("name").unwrap();
    for (label, executor) in common::executors() {
        let mut run = plan.run();
        run.set("ex", 1_u64).unwrap();
        run.set("x", 2_u64).unwrap(); // replaces the value set through the alias
        run.set_value(name, Value::new(String::from("run")))
            .unwrap();
        let out = executor.execute(run, None);
        assert_eq!(
            out.value::<String>("greeting").unwrap(),
            "run #2",
            "{label}"
        );
        assert_eq!(out.value::<u64>("ex").unwrap(), &2, "{label}");
    }
}

#[test]
fn set_value_refuses_the_wrong_type_and_tasks() {
    let graph = graph();
    let plan = graph.plan_all();
    let mut run = plan.run();
    let x = graph.node("x").unwrap();
    let greeting = graph.node("greeting").unwrap();
    assert!(matches!(
        run.set_value(x, Value::new("not a u64")),
        Err(InputError::TypeMismatch(_))
    ));
    assert_eq!(
        run.set_value(greeting, Value::new(String::new())).err(),
        Some(InputError::NotAnInput("greeting".into()))
    );
}

#[test]
fn set_input_checks_as_set_value_does() {
    let graph = graph();
    let plan = graph.plan_all();
    let x = graph.node("x").unwrap();
    let greeting = graph.node("greeting").unwrap();
    let mut run = plan.run();
    assert!(matches!(
        run.set_input(x, "not a u64"),
        Err(InputError::TypeMismatch(m)) if m.expected == "u64" && m.found == "&str"
    ));
    assert_eq!(
        run.set_input(greeting, String::new()).err(),
        Some(InputError::NotAnInput("greeting".into()))
    );
    run.set_input(x, 6_u64).unwrap();
    for (label, executor) in common::executors() {
        let mut run = plan.run();
        run.set_input(x, 6_u64).unwrap();
        let out = executor.execute(run, None);
        assert_eq!(
            out.get("x")
                .and_then(|o| o.value())
                .and_then(|v| v.downcast_ref::<u64>()),
            Some(&6),
            "{label}"
        );
    }
}

#[test]
fn each_run_starts_empty() {
    let mut g = GraphBuilder::new();
    g.input::<u64>("x");
    g.task("y", ["x"], |a| -> Result<u64, TaskError> {
        Ok(a.get::<u64>(0)? * 10)
    });
    let plan = g.build().unwrap().plan_all();
    for (label, executor) in common::executors() {
        let mut run = plan.run();
        run.set("x", 4_u64).unwrap();
        assert_eq!(executor.execute(run, None).value::<u64>("y").unwrap(), &40);
        // A new run does not remember the last one's input.
        let out = executor.execute(plan.run(), None);
        assert_eq!(
            out.get("x")
                .and_then(|o| o.error())
                .map(ToString::to_string),
            Some("input `x` was not set".to_owned()),
            "{label}"
        );
    }
}
