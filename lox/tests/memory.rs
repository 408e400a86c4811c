//! Programs whose live data is small stay small: the `lox` binary's peak resident memory, for
//! programs that make hundreds of megabytes of garbage the collector must see and free. (One
//! test, so that the peak the system reports for this process's children is one program's.)

use std::process::Command;

/// The largest peak resident memory of the children this process has waited for, in bytes.
#[cfg(unix)]
fn children_peak_rss() -> usize {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `getrusage` writes a `rusage` into the pointer it is given, which is valid.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr()) };
    assert_eq!(rc, 0, "getrusage");
    // SAFETY: written by the successful call above.
    let kib = unsafe { usage.assume_init() }.ru_maxrss;
    usize::try_from(kib).expect("a peak") * 1024
}

/// Run `source` with the `lox` binary; its standard output.
fn run(name: &str, source: &str) -> String {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let path = dir.join(format!("{name}.lox"));
    std::fs::write(&path, source).expect("write the program");
    let out = Command::new(env!("CARGO_BIN_EXE_lox")).arg(&path).output().expect("run lox");
    assert!(out.status.success(), "{name}: {}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

const MB: usize = 1 << 20;

#[test]
#[cfg(unix)]
fn garbage_programs_stay_small() {
    // 4000 strings of 128 KiB, each garbage at once: 500 MB. The text of a string lives in the
    // heap (it lived in a `Box<str>` the collector did not see: no cycle ever started, and the
    // process reached 532 MB), and the loop, which calls nothing and jumps back 4096 times
    // between budget checks, reaches a safepoint when an allocation finds the collector waiting.
    let strings = "var s = \"x\";
        for (var i = 0; i < 16; i = i + 1) s = s + s;
        var n = 0;
        for (var i = 0; i < 4000; i = i + 1) { var t = s + s; n = n + 1; }
        print n;";
    assert_eq!(run("string_garbage", strings), "4000\n");
    let peak = children_peak_rss();
    assert!(peak < 128 * MB, "string garbage: peak {} MiB", peak / MB);

    // One instance of a class given 20,000 fields, then 2,000 instances of it with one field
    // each: a new instance's first table follows the widest its class has seen only up to a
    // bound (it followed it all the way: 2,000 tables of 512 KiB, 1 GB).
    let mut wide = String::from("class A {}\nfun widen(o) {\n");
    for f in 0..80 {
        wide.push_str(&format!("fun g{f}(o) {{"));
        for i in 0..250 {
            wide.push_str(&format!(" o.f{f}_{i} = nil;"));
        }
        wide.push_str(&format!(" }}\ng{f}(o);\n"));
    }
    wide.push_str(
        "}
        var big = A();
        widen(big);
        big = nil;
        var list = nil;
        for (var i = 0; i < 2000; i = i + 1) { var a = A(); a.next = list; list = a; }
        var count = 0;
        while (list != nil) { count = count + 1; list = list.next; }
        print count;",
    );
    assert_eq!(run("wide_instance", &wide), "2000\n");
    let peak = children_peak_rss();
    assert!(peak < 128 * MB, "narrow instances after a wide one: peak {} MiB", peak / MB);
}
