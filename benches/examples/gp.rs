use extwasm_benches::root;
use extwasm_engine::{Config, Engine, Isolation, JsonState, Worker};
fn main() {
    let state = JsonState::from_path(root().join("examples/states/benchmarks.json")).unwrap();
    let engine = Engine::new(Config::default().isolation(Isolation::Fresh)).unwrap();
    let package = engine.load_package("b", extwasm_go_examples::BENCHMARKS.wasm, &["doNothing"]).unwrap();
    let mut w = Worker::new(&engine);
    w.add_package(&package).unwrap();
    for _ in 0..100000 { w.invoke("b", "doNothing", &state).unwrap(); }
}
