//! `move` closures carrying shared state, as the notebook's `recent_data` deque.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use timbr_core::{stage_fn, Machine};

fn main() {
    let recent: Arc<Mutex<VecDeque<String>>> = Arc::new(Mutex::new(VecDeque::new()));
    let remember = {
        let recent = Arc::clone(&recent);
        stage_fn!(0, name = "remember", move |input: &String, input_s: &str| {
            let mut recent = recent.lock().unwrap();
            recent.push_back(input_s.to_owned());
            while recent.len() > 2 {
                recent.pop_front();
            }
            format!("{input}: {} remembered", recent.len())
        })
    };
    let machine = Machine::<String>::builder().stage(remember).build().unwrap();
    for word in ["a", "b", "c"] {
        machine.call(word.to_owned());
    }
    let kept: Vec<String> = recent.lock().unwrap().iter().cloned().collect();
    assert_eq!(kept, [r#""b""#, r#""c""#]);
}
