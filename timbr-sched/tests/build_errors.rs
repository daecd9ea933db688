//! `GraphBuilder::build` refuses malformed graphs with a typed error naming the keys involved.

use timbr_sched::{BuildError, Dep, GraphBuilder, TaskError, TypeInfo};

fn inc(a: &timbr_sched::Args<'_>) -> Result<u64, TaskError> {
    Ok(a.get::<u64>(0)? + 1)
}

fn build_err(g: GraphBuilder) -> BuildError {
    match g.build() {
        Ok(graph) => panic!("expected a build error, got a graph of {graph:?}"),
        Err(e) => e,
    }
}

/// The cycle's keys, rotated to start at `first` (the error may start anywhere on it).
fn cycle_from(e: &BuildError, first: &str) -> Vec<String> {
    let BuildError::Cycle { keys } = e else {
        panic!("expected a cycle, got {e:?}");
    };
    assert!(keys.len() >= 2, "a cycle has at least one edge: {keys:?}");
    assert_eq!(keys.first(), keys.last(), "the first key is repeated last");
    let ring = &keys[..keys.len() - 1];
    let at = ring
        .iter()
        .position(|k| k == first)
        .unwrap_or_else(|| panic!("`{first}` is not on the cycle {keys:?}"));
    let mut rotated: Vec<String> = ring[at..].iter().chain(&ring[..at]).cloned().collect();
    rotated.push(first.to_owned());
    rotated
}

#[test]
fn a_cycle_is_reported_with_its_keys_in_dependency_order() {
    let mut g = GraphBuilder::new();
    g.input::<u64>("x");
    g.task("entry", ["x"], inc);
    // b needs a, c needs b, a needs c (and the entry, which is not on the cycle).
    g.task("a", ["entry", "c"], inc);
    g.task("b", ["a"], inc);
    g.task("c", ["b"], inc);
    g.task("downstream", ["c"], inc);
    g.task("unrelated", ["x"], inc);
    let e = build_err(g);
    assert_eq!(cycle_from(&e, "a"), ["a", "b", "c", "a"]);
    let BuildError::Cycle { keys } = &e else {
        unreachable!()
    };
    assert_eq!(e.to_string(), format!("cycle: {}", keys.join(" -> ")));
    for key in ["x", "entry", "downstream", "unrelated"] {
        assert!(
            !keys.iter().any(|k| k == key),
            "`{key}` is not on the cycle"
        );
    }
}

#[test]
fn a_two_node_cycle_is_reported() {
    let mut g = GraphBuilder::new();
    g.task("p", ["q"], inc);
    g.task("q", ["p"], inc);
    assert_eq!(cycle_from(&build_err(g), "p"), ["p", "q", "p"]);
}

#[test]
fn a_self_loop_is_a_cycle_of_one() {
    let mut g = GraphBuilder::new();
    g.input::<u64>("x");
    g.task("me", ["x", "me"], inc);
    let e = build_err(g);
    assert_eq!(
        e,
        BuildError::Cycle {
            keys: vec!["me".into(), "me".into()]
        }
    );
    assert_eq!(e.to_string(), "cycle: me -> me");
}

#[test]
fn a_self_loop_through_an_alias_is_a_cycle() {
    let mut g = GraphBuilder::new();
    g.task("me", ["myself"], inc);
    g.alias("myself", "me");
    assert_eq!(cycle_from(&build_err(g), "me"), ["me", "me"]);
}

#[test]
fn a_cycle_through_aliases_between_tasks_is_reported_with_the_tasks_keys() {
    let mut g = GraphBuilder::new();
    g.task("a", ["b_alias"], inc);
    g.task("b", ["a_alias"], inc);
    g.alias("a_alias", "a");
    g.alias("b_alias", "b");
    // Aliases resolve to nodes before the graph is walked: the cycle names the nodes.
    assert_eq!(cycle_from(&build_err(g), "a"), ["a", "b", "a"]);
}

#[test]
fn an_alias_cycle_is_reported() {
    let mut g = GraphBuilder::new();
    g.input::<u64>("x");
    g.alias("p", "q");
    g.alias("q", "r");
    g.alias("r", "p");
    let e = build_err(g);
    assert_eq!(cycle_from(&e, "p"), ["p", "q", "r", "p"]);
    assert!(e.to_string().starts_with("cycle: "), "{e}");
}

#[test]
fn an_alias_of_itself_is_a_cycle() {
    let mut g = GraphBuilder::new();
    g.alias("loop", "loop");
    assert_eq!(
        build_err(g),
        BuildError::Cycle {
            keys: vec!["loop".into(), "loop".into()]
        }
    );
}

#[test]
fn a_missing_dependency_names_the_task_and_the_missing_key() {
    let mut g = GraphBuilder::new();
    g.input::<u64>("x");
    g.task("f", ["x", "nope"], |a| Ok(*a.get::<u64>(0)?));
    let e = build_err(g);
    assert_eq!(
        e,
        BuildError::MissingDependency {
            key: "f".into(),
            missing: "nope".into()
        }
    );
    assert_eq!(
        e.to_string(),
        "`f` depends on `nope`, which is not a key of the graph"
    );
}

#[test]
fn a_missing_alias_target_names_the_alias() {
    let mut g = GraphBuilder::new();
    g.input::<u64>("x");
    g.alias("y", "z");
    g.alias("z", "nowhere");
    let e = build_err(g);
    // Whichever alias is resolved first, the dangling link is `z -> nowhere`.
    assert_eq!(
        e,
        BuildError::MissingDependency {
            key: "z".into(),
            missing: "nowhere".into()
        }
    );
}

#[test]
fn a_duplicate_key_is_refused_whatever_the_kinds() {
    type Fill = fn(&mut GraphBuilder);
    let cases: [(&str, Fill); 4] = [
        ("two inputs", |g| {
            g.input::<u64>("k");
            g.input::<u64>("k");
        }),
        ("input and task", |g| {
            g.input::<u64>("k");
            g.task("k", Vec::<Dep>::new(), |_| Ok(1_u64));
        }),
        ("two tasks", |g| {
            g.input::<u64>("x");
            g.task("k", ["x"], inc);
            g.task("k", ["x"], inc);
        }),
        ("task and alias", |g| {
            g.input::<u64>("x");
            g.task("k", ["x"], inc);
            g.alias("k", "x");
        }),
    ];
    for (what, fill) in cases {
        let mut g = GraphBuilder::new();
        fill(&mut g);
        let e = build_err(g);
        assert_eq!(e, BuildError::DuplicateKey("k".into()), "{what}");
        assert_eq!(e.to_string(), "duplicate key `k`", "{what}");
    }
}

#[test]
fn a_declared_type_that_differs_from_an_input_is_refused() {
    let mut g = GraphBuilder::new();
    g.input::<i64>("x");
    g.task("f", [Dep::typed::<u8>("x")], |a| Ok(*a.get::<u8>(0)?));
    let e = build_err(g);
    assert_eq!(
        e,
        BuildError::TypeMismatch {
            key: "f".into(),
            dependency: "x".into(),
            expected: "u8",
            found: "i64",
        }
    );
    assert_eq!(e.to_string(), "`f` expects `x` to be `u8`, but it is `i64`");
}

#[test]
fn a_declared_type_that_differs_from_a_task_output_is_refused_through_an_alias() {
    let mut g = GraphBuilder::new();
    g.input::<u64>("x");
    g.task("text", ["x"], |a| Ok(a.get::<u64>(0)?.to_string()));
    g.alias("label", "text");
    g.task("len", [Dep::typed::<u64>("label")], |a| {
        Ok(*a.get::<u64>(0)?)
    });
    assert_eq!(
        build_err(g),
        BuildError::TypeMismatch {
            key: "len".into(),
            dependency: "label".into(),
            expected: "u64",
            found: "alloc::string::String",
        }
    );
}

#[test]
fn declared_types_that_agree_or_cannot_be_known_build() {
    let mut g = GraphBuilder::new();
    g.input::<u64>("x");
    g.task("s", [Dep::typed::<u64>("x")], |a| {
        Ok(a.get::<u64>(0)?.to_string())
    });
    g.alias("t", "s");
    g.task("n", [Dep::typed::<String>("t")], |a| {
        Ok(a.get::<String>(0)?.len())
    });
    // An erased task of unknown output type cannot be checked at build time.
    g.task_erased(
        "opaque",
        ["x"],
        None,
        std::sync::Arc::new(|a: &timbr_sched::Args<'_>| {
            Ok(timbr_sched::Value::new(*a.get::<u64>(0)?))
        }),
    );
    g.task("after", [Dep::typed::<i8>("opaque")], |a| {
        Ok(*a.get::<i8>(0)?)
    });
    g.task(
        "declared",
        [Dep::with_type("n", Some(TypeInfo::of::<usize>()))],
        |a| Ok(*a.get::<usize>(0)?),
    );
    let graph = g.build().expect("types agree where they are known");
    assert_eq!(graph.len(), 6);
    assert_eq!(graph.node("t"), graph.node("s"));
}

#[test]
fn planning_an_unknown_key_is_an_error() {
    let mut g = GraphBuilder::new();
    g.input::<u64>("x");
    let graph = g.build().unwrap();
    let e = graph.plan(["x", "y"]).unwrap_err();
    assert_eq!(e, timbr_sched::UnknownKey("y".into()));
    assert_eq!(e.to_string(), "unknown key `y`");
}
