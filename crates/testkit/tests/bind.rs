//! The harness itself works: BIND starts and answers with `dig`.

use std::process::Command;

#[test]
fn bind_serves_a_zone() {
    let dns = sendwell_testkit::Bind::start(&[(
        "example.test",
        "@ TXT \"hello\" \"world\"\nwww A 192.0.2.7\n",
    )]);
    let out = Command::new("dig")
        .args([
            "+short",
            "-p",
            &dns.addr().port().to_string(),
            "@127.0.0.1",
            "www.example.test",
            "A",
        ])
        .output()
        .expect("run dig (package bind9-dnsutils)");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "192.0.2.7");
}
