//! The delivery client against Postfix in a mail world: the route comes from BIND (MX
//! → A), the session upgrades with STARTTLS, and the message lands in the mailbox with
//! the TLS session recorded in Postfix's Received header.
//!
//! The client runs inside the world's network namespace (so `mx.receiver.test` and port
//! 25 are the world's): the outer test starts the world and runs the `#[ignore]`d inner
//! test there with `Netns::run_test`.

use std::time::Duration;

use sendwell_delivery::client::{ClientConfig, Envelope, RecipientOutcome, TlsPolicy};
use sendwell_delivery::deliver;
use sendwell_dns::HickoryLookup;
use sendwell_testkit::MailWorld;

const MESSAGE: &str = "From: alice@sender.test\r\nTo: bob@receiver.test\r\nSubject: over TLS\r\n\
Message-ID: <tls-1@sender.test>\r\n\r\n.a line with a leading dot\r\nbye\r\n";

#[test]
fn delivers_to_postfix_over_starttls_via_mx() {
    let world = MailWorld::start(&[("sender.test", "@ TXT \"v=spf1 ip4:127.0.0.2 -all\"\n")]);
    world.netns().run_test("inner_deliver_over_starttls", &[]);
    let mail = world.wait_for_mail(1, Duration::from_secs(30));
    let text = String::from_utf8_lossy(&mail[0]).into_owned();
    assert!(text.contains("Message-ID: <tls-1@sender.test>"), "{text}");
    assert!(
        text.contains("using TLSv1.3"),
        "Postfix records the TLS session:\n{text}"
    );
    assert!(text.contains("\n.a line with a leading dot\n"), "{text}");
    assert!(text.contains("Received-SPF: Pass"), "{text}");
}

#[tokio::test]
#[ignore = "runs inside the mail world's namespace, started by delivers_to_postfix_over_starttls_via_mx"]
async fn inner_deliver_over_starttls() {
    let lookup = HickoryLookup::system().expect("the namespace's resolv.conf");
    let mut config = ClientConfig::new("mail.sender.test");
    config.source_v4 = Some([127, 0, 0, 2].into());
    config.tls = TlsPolicy::Required;
    let rcpts = vec!["bob@receiver.test".to_string()];
    let report = deliver(
        &lookup,
        &config,
        "receiver.test",
        Envelope {
            mail_from: "alice@sender.test",
            recipients: &rcpts,
        },
        MESSAGE.as_bytes(),
    )
    .await;
    assert!(
        matches!(report.recipients[0], RecipientOutcome::Delivered { .. }),
        "{report:?}"
    );
    assert_eq!(report.remote_host.as_deref(), Some("mx.receiver.test"));
    let tls = report.attempts[0].tls.as_deref().unwrap_or_default();
    assert!(tls.contains("TLSv1_3"), "{tls}");
}
