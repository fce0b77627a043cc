//! The mail world works: a message signed by dkimpy and sent with swaks from an address
//! the sender's SPF record allows arrives with spf, dkim and dmarc all passing, as judged
//! by policyd-spf, OpenDKIM and OpenDMARC; and a message whose body was changed after
//! signing arrives with dkim=fail (and dmarc=pass, on aligned SPF alone); and with
//! `WorldOptions::opendkim_signs` OpenDKIM signs the mail of the signing host, and only
//! that, with a signature dkimpy verifies. This checks the harness (and the peers) before
//! any Sendwell test relies on them.

use std::process::Command;
use std::time::Duration;

use sendwell_testkit::{MailWorld, TempDir};

fn keypair(dir: &std::path::Path) -> (std::path::PathBuf, String) {
    let key = dir.join("dkim.pem");
    let ok = Command::new("openssl")
        .args(["genrsa", "-out"])
        .arg(&key)
        .arg("2048")
        .output()
        .expect("openssl genrsa");
    assert!(ok.status.success());
    let der = Command::new("openssl")
        .args(["rsa", "-pubout", "-outform", "DER", "-in"])
        .arg(&key)
        .output()
        .expect("openssl rsa -pubout");
    assert!(der.status.success());
    let b64 = Command::new("base64")
        .arg("-w0")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().expect("stdin").write_all(&der.stdout)?;
            child.wait_with_output()
        })
        .expect("base64");
    (key, String::from_utf8(b64.stdout).expect("base64 is ASCII"))
}

fn zone_txt(value: &str) -> String {
    value
        .as_bytes()
        .chunks(250)
        .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn header_block(message: &[u8]) -> String {
    let text = String::from_utf8_lossy(message);
    text.split("\n\n").next().unwrap_or("").to_string()
}

#[test]
fn peers_judge_spf_dkim_dmarc() {
    let tmp = TempDir::new("world-test");
    let (key, public) = keypair(tmp.path());
    let sender_zone = format!(
        "@ TXT \"v=spf1 ip4:127.0.0.2 -all\"\n_dmarc TXT \"v=DMARC1; p=reject\"\n\
         sel._domainkey TXT {}\n",
        zone_txt(&format!("v=DKIM1; k=rsa; p={public}"))
    );
    let world = MailWorld::start(&[("sender.test", &sender_zone)]);

    let message = "From: Alice <alice@sender.test>\r\nTo: bob@receiver.test\r\nSubject: hello\r\n\
                   Date: Fri, 27 Nov 2026 10:00:00 +0000\r\nMessage-ID: <1@sender.test>\r\n\r\nHello Bob.\r\n";
    let unsigned = tmp.path().join("unsigned.eml");
    std::fs::write(&unsigned, message).unwrap();
    let signed = tmp.path().join("signed.eml");
    let tampered = tmp.path().join("tampered.eml");
    let script = format!(
        "import dkim\nm=open({u:?},'rb').read()\nk=open({k:?},'rb').read()\n\
         s=dkim.sign(m,b'sel',b'sender.test',k,include_headers=[b'from',b'to',b'subject',b'date',b'message-id'])\n\
         open({s:?},'wb').write(s+m)\nopen({t:?},'wb').write(s+m.replace(b'Hello Bob.',b'Hello Bob!'))\n",
        u = unsigned.display().to_string(),
        k = key.display().to_string(),
        s = signed.display().to_string(),
        t = tampered.display().to_string(),
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "dkimpy: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    for file in [&signed, &tampered] {
        let out = world
            .command("swaks")
            .args(["--server", "127.0.0.3", "--local-interface", "127.0.0.2"])
            .args(["--helo", "mail.sender.test", "--from", "alice@sender.test"])
            .args(["--to", "bob@receiver.test", "--data"])
            .arg(file)
            .output()
            .expect("run swaks");
        assert!(
            out.status.success(),
            "swaks: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            world.postfix_log()
        );
    }
    let mail = world.wait_for_mail(2, Duration::from_secs(30));
    let good = header_block(&mail[0]);
    let bad = header_block(&mail[1]);
    assert!(good.contains("Received-SPF: Pass"), "{good}");
    assert!(good.contains("dkim=pass"), "{good}");
    assert!(good.contains("dmarc=pass"), "{good}");
    assert!(bad.contains("Received-SPF: Pass"), "{bad}");
    assert!(bad.contains("dkim=fail"), "{bad}");
    // SPF still passes and aligns, so DMARC passes on SPF alone (RFC 7489 §4.2).
    assert!(bad.contains("dmarc=pass"), "{bad}");
}

/// With `opendkim_signs`, OpenDKIM signs mail from the signing host (and only that):
/// the delivered message carries its rsa-sha256 relaxed/relaxed signature, which dkimpy,
/// asking the world's BIND, verifies; the same message from another host arrives
/// unsigned and is verified as before (OpenDKIM says dkim=none).
#[test]
fn opendkim_signs_for_the_signing_host_only() {
    use sendwell_testkit::world::{MX_ADDR, RECEIVER_DOMAIN, SIGNING_CLIENT_ADDR};
    use sendwell_testkit::{SigningSetup, WorldOptions};

    let tmp = TempDir::new("world-test");
    let (key, public) = keypair(tmp.path());
    let zone = format!(
        "@ MX 10 mx\nmx A {MX_ADDR}\nsig._domainkey TXT {}\n",
        zone_txt(&format!("v=DKIM1; k=rsa; p={public}"))
    );
    let world = MailWorld::start_with(
        &[(RECEIVER_DOMAIN, &zone)],
        WorldOptions {
            opendkim_signs: Some(SigningSetup {
                domain: RECEIVER_DOMAIN.to_string(),
                selector: "sig".to_string(),
                key_file: key,
                algorithm: "rsa-sha256".to_string(),
            }),
        },
    );
    let message = "From: Carol <carol@receiver.test>\r\nTo: bob@receiver.test\r\nSubject: signed here\r\n\
                   Date: Fri, 27 Nov 2026 10:00:00 +0000\r\nMessage-ID: <2@receiver.test>\r\n\r\nHello Bob.\r\n";
    let file = tmp.path().join("message.eml");
    std::fs::write(&file, message).unwrap();
    for (n, client) in [SIGNING_CLIENT_ADDR.to_string(), "127.0.0.2".to_string()]
        .iter()
        .enumerate()
    {
        let out = world
            .command("swaks")
            .args(["--server", "127.0.0.3", "--local-interface", client])
            .args([
                "--helo",
                "mail.receiver.test",
                "--from",
                "carol@receiver.test",
            ])
            .args(["--to", "bob@receiver.test", "--data"])
            .arg(&file)
            .output()
            .expect("run swaks");
        assert!(
            out.status.success(),
            "swaks: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            world.postfix_log()
        );
        world.wait_for_mail(n + 1, Duration::from_secs(30));
    }
    let mail = world.mailbox();
    let signed = header_block(&mail[0]);
    assert!(
        signed.contains("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=receiver.test;"),
        "{signed}"
    );
    let unsigned = header_block(&mail[1]);
    assert!(!unsigned.contains("DKIM-Signature:"), "{unsigned}");
    assert!(unsigned.contains("dkim=none"), "{unsigned}");

    // dkimpy, run inside the world so that it resolves through the world's BIND.
    let delivered = tmp.path().join("delivered.eml");
    std::fs::write(&delivered, &mail[0]).unwrap();
    let out = world
        .command("python3")
        .arg("-c")
        .arg("import sys, dkim\nm = open(sys.argv[1], 'rb').read()\nprint(dkim.verify(m))\n")
        .arg(&delivered)
        .output()
        .expect("python3 (dkimpy)");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "True",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
