//! `sendwell send` in the world in a box: a message signed by Sendwell and delivered
//! straight to the recipient's MX (found through BIND, named with `--resolver`) arrives
//! at Postfix judged spf=pass, dkim=pass and dmarc=pass by policyd-spf, OpenDKIM and
//! OpenDMARC, as read from the Authentication-Results fields of the delivered file.

mod world_verdicts;

use std::process::Command;
use std::time::Duration;

use sendwell_testkit::{MailWorld, TempDir};
use world_verdicts::Verdicts;

/// The text `sendwell send` prints on standard error for a message it sends unsigned.
const UNSIGNED_WARNING: &str = "the message is not DKIM-signed";

fn sendwell() -> &'static str {
    env!("CARGO_BIN_EXE_sendwell")
}

/// An RSA-2048 key made by openssl (an independent tool), and its public key base64.
fn openssl_key(dir: &std::path::Path) -> (std::path::PathBuf, String) {
    let key = dir.join("dkim.pem");
    let made = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&key)
        .output()
        .expect("openssl genpkey");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let der = Command::new("openssl")
        .args(["pkey", "-pubout", "-outform", "DER", "-in"])
        .arg(&key)
        .output()
        .expect("openssl pkey -pubout");
    assert!(der.status.success());
    use base64::Engine;
    (
        key,
        base64::engine::general_purpose::STANDARD.encode(der.stdout),
    )
}

fn zone_strings(value: &str) -> String {
    value
        .as_bytes()
        .chunks(250)
        .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn headers(message: &[u8]) -> String {
    let text = String::from_utf8_lossy(message).into_owned();
    text.split("\n\n").next().unwrap_or_default().to_string()
}

#[test]
fn signed_message_passes_spf_dkim_dmarc_at_postfix() {
    let tmp = TempDir::new("send-world");
    let (key, public) = openssl_key(tmp.path());
    let zone = format!(
        "@ TXT \"v=spf1 ip4:127.0.0.2 -all\"\n\
         _dmarc TXT \"v=DMARC1; p=reject; adkim=s; aspf=s\"\n\
         s1._domainkey TXT {}\n\
         mail A 127.0.0.2\n",
        zone_strings(&format!("v=DKIM1; k=rsa; p={public}"))
    );
    let reverse = "2 PTR mail.sender.test.\n";
    let world = MailWorld::start(&[("sender.test", &zone), ("0.0.127.in-addr.arpa", reverse)]);

    let out = world
        .command(sendwell())
        .args([
            "send",
            "--from",
            "alice@sender.test",
            "--to",
            "bob@receiver.test",
        ])
        .args([
            "--subject",
            "Sendwell to Postfix",
            "--body",
            "Hello Bob.\n.leading dot\n",
        ])
        .args(["--key"])
        .arg(&key)
        .args([
            "--selector",
            "s1",
            "--helo",
            "mail.sender.test",
            "--source-ip",
            "127.0.0.2",
        ])
        .args(["--tls", "required", "--json", "--resolver"])
        .arg(world.dns_addr().to_string())
        .output()
        .expect("run sendwell send");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "sendwell send failed: {stdout}\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        world.postfix_log()
    );
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("JSON output");
    assert_eq!(report["recipients"][0]["outcome"], "delivered");
    assert_eq!(report["recipients"][0]["host"], "mx.receiver.test");
    assert!(
        report["recipients"][0]["reply"]
            .as_str()
            .unwrap()
            .starts_with("250")
    );

    let mail = world.wait_for_mail(1, Duration::from_secs(30));
    assert_eq!(mail.len(), 1, "exactly one copy");
    let h = headers(&mail[0]);
    let verdicts = Verdicts::of(&mail[0]);
    verdicts.assert_spf_pass("sender.test");
    verdicts.assert_dkim_pass("sender.test", "rsa-sha256");
    verdicts.assert_dmarc_pass("sender.test");
    assert!(h.contains("Received-SPF: Pass"), "{h}");
    assert!(h.contains("using TLSv1.3"), "{h}");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains(UNSIGNED_WARNING),
        "signed with --key: no warning"
    );
    let text = String::from_utf8_lossy(&mail[0]);
    assert!(
        text.contains("\n.leading dot\n"),
        "dots survive exactly: {text}"
    );
}

#[test]
fn a_null_mx_domain_fails_at_once() {
    let world = MailWorld::start(&[("nomail.test", "@ MX 0 .\n")]);
    let out = world
        .command(sendwell())
        .args([
            "send",
            "--from",
            "alice@sender.test",
            "--to",
            "x@nomail.test",
            "--json",
            "--resolver",
        ])
        .arg(world.dns_addr().to_string())
        .output()
        .expect("run sendwell send");
    assert_eq!(
        out.status.code(),
        Some(21),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["recipients"][0]["outcome"], "failed");
    assert_eq!(report["recipients"][0]["status"], "5.1.10");
    // Straight to the MX without --key: the user is told the message goes unsigned.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(UNSIGNED_WARNING), "{stderr}");
}
