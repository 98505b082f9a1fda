#![no_main]
//! Any bytes as a hive: opened or refused, every key and value walked within
//! bounds, never a panic, a hang or unbounded memory.

use libfuzzer_sys::fuzz_target;
use rdp_doctor_regf::{Hive, Key};

fn walk(k: Key, budget: &mut u32) {
    if *budget == 0 {
        return;
    }
    *budget -= 1;
    let _ = k.name();
    let _ = k.values();
    if let Ok(subs) = k.subkeys() {
        for s in subs {
            walk(s, budget);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = Hive::new(data) {
        if let Ok(root) = h.root() {
            let mut budget = 10_000;
            walk(root, &mut budget);
        }
        let _ = rdp_doctor_host::check(&h, None, None);
    }
});
