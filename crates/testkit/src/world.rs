//! A whole mail world in one network namespace: the receiving side of the Internet as
//! a self-hosted sender meets it.
//!
//! - BIND on 127.0.0.1:53 serving the test's zones (the namespace's resolver);
//! - Postfix on 127.0.0.3:25 (`mx.receiver.test`, STARTTLS offered with a self-signed
//!   certificate) accepting mail for `receiver.test` into one Maildir;
//! - policyd-spf as Postfix's policy service, twice: one instance adds `Received-SPF`,
//!   the other `Authentication-Results` with `spf=` (policyd-spf writes one kind of
//!   header per instance; its manual says to run two for both), so a test can read the
//!   SPF verdict from Authentication-Results like the DKIM and DMARC ones;
//! - OpenDKIM in verify mode and OpenDMARC as milters (each adds `Authentication-Results`
//!   with the authserv-id `mx.receiver.test`).
//!
//! With [`MailWorld::start_with`] and [`WorldOptions::opendkim_signs`], OpenDKIM also
//! signs (`Mode sv`), as a sending site's OpenDKIM does: mail that reaches Postfix from
//! [`SIGNING_CLIENT_ADDR`] (its only `InternalHosts` entry) with a From in the signing
//! domain leaves with OpenDKIM's DKIM-Signature, relaxed/relaxed, in the chosen algorithm;
//! mail from every other address is verified exactly as without the option. The signed
//! message is read from the mailbox like any other.
//!
//! Programs under test run inside the namespace with [`MailWorld::command`], e.g. a
//! sender bound to 127.0.0.2. Verdicts are read from the delivered files, never from logs.
//!
//! The configuration follows ../shared/REAL-PEERS.md, with two findings of our own:
//! OpenDKIM on Debian resolves through libunbound, which ignores resolv.conf, refuses to
//! query localhost and answers NXDOMAIN for `.test` by default (RFC 6761 special-use
//! names), so it gets an unbound configuration that forwards to the namespace's BIND;
//! and OpenDMARC needs a public suffix list that knows `test`. When OpenDKIM signs, its
//! key is copied into the world's directory, owned by the `opendkim` user, mode 0600;
//! OpenDKIM's safe-key check would still refuse it because the directory lies under the
//! world-writable /tmp, so `RequireSafeKeys` is off (a test fixture, not a server).

use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Bind, Netns, TempDir, require_program};

/// The receiving MX's address inside the namespace.
pub const MX_ADDR: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);
/// The domain Postfix accepts mail for.
pub const RECEIVER_DOMAIN: &str = "receiver.test";
/// The MX host name, also the authserv-id in Authentication-Results.
pub const MX_HOSTNAME: &str = "mx.receiver.test";
/// The `smtpd_recipient_restrictions` entries that run both policyd-spf instances (the
/// `Received-SPF` one, then the `Authentication-Results` one): a test that sets its own
/// restrictions with [`MailWorld::postconf`] ends them with this to keep both headers.
pub const SPF_POLICY_SERVICES: &str = "check_policy_service unix:private/policyd-spf, check_policy_service unix:private/policyd-spf-ar";
/// The Maildir every message for `receiver.test` lands in.
const MAILBOX: &str = "inbox";
/// The one client address whose mail OpenDKIM signs when [`WorldOptions::opendkim_signs`]
/// is set (OpenDKIM's `InternalHosts`): send from here to have a message signed.
pub const SIGNING_CLIENT_ADDR: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 9);

/// How to start a [`MailWorld`]; the default is the world of [`MailWorld::start`].
#[derive(Clone, Debug, Default)]
pub struct WorldOptions {
    /// Let OpenDKIM sign as well as verify (`Mode sv`): mail from
    /// [`SIGNING_CLIENT_ADDR`] whose From is in [`SigningSetup::domain`] is signed.
    pub opendkim_signs: Option<SigningSetup>,
}

/// What OpenDKIM signs with, when it signs.
#[derive(Clone, Debug)]
pub struct SigningSetup {
    /// The signing domain (`d=`, OpenDKIM's `Domain`): mail whose From is in it is signed.
    pub domain: String,
    /// The selector (`s=`); the test publishes `SELECTOR._domainkey.DOMAIN` in a zone.
    pub selector: String,
    /// The private key, PEM (PKCS#1 or PKCS#8 RSA, or PKCS#8 Ed25519). It is copied.
    pub key_file: PathBuf,
    /// OpenDKIM's `SignatureAlgorithm`: `rsa-sha256` or `ed25519-sha256` (one per
    /// OpenDKIM instance: the algorithm is a global setting there).
    pub algorithm: String,
}

/// A running mail world, torn down on drop.
#[derive(Debug)]
pub struct MailWorld {
    postfix: Child,
    opendkim: Child,
    opendmarc: Child,
    bind: Bind,
    dir: TempDir,
    // Last: dropping the namespace kills whatever is left in it.
    netns: Netns,
}

fn uid_gid(user: &str) -> (String, String) {
    let id = |flag: &str| {
        let out = Command::new("id")
            .args([flag, user])
            .output()
            .expect("run id");
        assert!(
            out.status.success(),
            "user {user} is missing (is its Debian package installed?)"
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    (id("-u"), id("-g"))
}

impl MailWorld {
    /// Start the world with `zones` (origin, records relative to the origin). A zone for
    /// `receiver.test` (MX 10 mx, mx A 127.0.0.3) is added unless the test gives one.
    /// Panics, saying what failed, if any peer does not start.
    pub fn start(zones: &[(&str, &str)]) -> MailWorld {
        MailWorld::start_with(zones, WorldOptions::default())
    }

    /// [`MailWorld::start`] with options: see [`WorldOptions`]. A test that has OpenDKIM
    /// sign in `receiver.test` gives that zone itself (with `@ MX 10 mx`, `mx A
    /// 127.0.0.3` and the key record).
    pub fn start_with(zones: &[(&str, &str)], options: WorldOptions) -> MailWorld {
        for (program, package) in [
            ("postfix", "postfix"),
            ("opendkim", "opendkim"),
            ("opendmarc", "opendmarc"),
            ("policyd-spf", "postfix-policyd-spf-python"),
            ("openssl", "openssl"),
        ] {
            require_program(program, package);
        }
        let netns = Netns::new("world");
        let mut all: Vec<(&str, &str)> = zones.to_vec();
        let receiver_zone = format!("@ MX 10 mx\nmx A {MX_ADDR}\n");
        if !zones
            .iter()
            .any(|(o, _)| o.trim_end_matches('.') == RECEIVER_DOMAIN)
        {
            all.push((RECEIVER_DOMAIN, &receiver_zone));
        }
        let bind = Bind::start_in(&netns, &all);
        let dir = TempDir::new("world");
        let d = dir.path();

        // OpenDKIM (verify mode) and OpenDMARC, milters on 127.0.0.3:8891 and :8893.
        let unbound = d.join("unbound.conf");
        std::fs::write(
            &unbound,
            "server:\n  do-not-query-localhost: no\n  do-ip6: no\n  module-config: \"iterator\"\n  \
             local-zone: \"test.\" nodefault\n  local-zone: \"invalid.\" nodefault\n  \
             local-zone: \"example.\" nodefault\n  local-zone: \"127.in-addr.arpa.\" nodefault\n\
             forward-zone:\n  name: \".\"\n  forward-addr: 127.0.0.1\n",
        )
        .expect("write unbound.conf");
        let opendkim_conf = d.join("opendkim.conf");
        let mut conf = format!(
            "Syslog no\nSocket inet:8891@{MX_ADDR}\nAuthservID {MX_HOSTNAME}\n\
             Background no\nUserID opendkim\nAlwaysAddARHeader yes\nMinimumKeyBits 1024\n\
             ResolverConfiguration {}\n",
            unbound.display()
        );
        match &options.opendkim_signs {
            None => conf.push_str("Mode v\n"),
            Some(signing) => conf.push_str(&signing_conf(signing, d)),
        }
        std::fs::write(&opendkim_conf, conf).expect("write opendkim.conf");
        let psl = d.join("public_suffix_list.dat");
        let mut list =
            String::from("// the test TLD, so OpenDMARC finds organizational domains\ntest\n");
        list.push_str(
            &std::fs::read_to_string("/usr/share/publicsuffix/public_suffix_list.dat")
                .unwrap_or_default(),
        );
        std::fs::write(&psl, list).expect("write the public suffix list");
        let opendmarc_conf = d.join("opendmarc.conf");
        std::fs::write(
            &opendmarc_conf,
            format!(
                "Syslog false\nSocket inet:8893@{MX_ADDR}\nAuthservID {MX_HOSTNAME}\n\
                 TrustedAuthservIDs {MX_HOSTNAME}\nBackground false\nUserID opendmarc\n\
                 PublicSuffixList {}\nSPFIgnoreResults false\nSPFSelfValidate false\n\
                 RejectFailures false\nFailureReports false\n",
                psl.display()
            ),
        )
        .expect("write opendmarc.conf");
        let opendkim = spawn_logged(
            netns
                .command("opendkim")
                .arg("-x")
                .arg(&opendkim_conf)
                .arg("-f"),
            &d.join("opendkim.log"),
        );
        let opendmarc = spawn_logged(
            netns
                .command("opendmarc")
                .arg("-c")
                .arg(&opendmarc_conf)
                .arg("-f"),
            &d.join("opendmarc.log"),
        );

        // policyd-spf: report, never reject, and do not skip loopback clients (its
        // default skips 127.0.0.0/8, which is every host of this world). The second
        // instance writes Authentication-Results (`Header_Type = AR`) instead of
        // Received-SPF, with the MX's authserv-id.
        let spf_common = "debugLevel = 1\nTestOnly = 1\nHELO_reject = False\n\
             Mail_From_reject = False\nPermError_reject = False\nTempError_Defer = False\n\
             skip_addresses = 192.0.2.255/32\n";
        let spf_conf = d.join("policyd-spf.conf");
        std::fs::write(&spf_conf, spf_common).expect("write policyd-spf.conf");
        let spf_ar_conf = d.join("policyd-spf-ar.conf");
        std::fs::write(
            &spf_ar_conf,
            format!("{spf_common}Header_Type = AR\nAuthserv_Id = {MX_HOSTNAME}\n"),
        )
        .expect("write policyd-spf-ar.conf");

        // Postfix, its own instance: config, queue and mailbox under the temp dir.
        let etc = d.join("postfix");
        let spool = d.join("spool");
        let data = d.join("data");
        let mail = d.join("mail");
        for p in [&etc, &spool, &data, &mail] {
            std::fs::create_dir_all(p).expect("create postfix directories");
        }
        let (uid, gid) = uid_gid("postfix");
        for p in [&data, &mail] {
            let ok = Command::new("chown")
                .arg(format!("{uid}:{gid}"))
                .arg(p)
                .status()
                .expect("chown");
            assert!(ok.success(), "chown {}", p.display());
        }
        for f in ["postfix-files", "dynamicmaps.cf"] {
            let _ = std::fs::copy(Path::new("/etc/postfix").join(f), etc.join(f));
        }
        for sub in ["postfix-files.d", "dynamicmaps.cf.d"] {
            let _ = std::fs::create_dir_all(etc.join(sub));
        }
        let cert = d.join("mx.pem");
        let key = d.join("mx.key");
        let out = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
            ])
            .arg(format!("/CN={MX_HOSTNAME}"))
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(
            etc.join("main.cf"),
            format!(
                "compatibility_level = 3.6\nqueue_directory = {spool}\ndata_directory = {data}\n\
                 command_directory = /usr/sbin\ndaemon_directory = /usr/lib/postfix/sbin\n\
                 shlib_directory = /usr/lib/postfix\nmeta_directory = {etc}\nmail_owner = postfix\n\
                 setgid_group = postdrop\nmyhostname = {MX_HOSTNAME}\nmydomain = {RECEIVER_DOMAIN}\n\
                 myorigin = {RECEIVER_DOMAIN}\ninet_interfaces = {MX_ADDR}\ninet_protocols = ipv4\n\
                 mydestination =\nmynetworks = 127.0.0.255/32\nrelay_domains =\n\
                 virtual_mailbox_domains = {RECEIVER_DOMAIN}\nvirtual_mailbox_base = {mail}\n\
                 virtual_mailbox_maps = static:{MAILBOX}/\nvirtual_uid_maps = static:{uid}\n\
                 virtual_gid_maps = static:{gid}\n\
                 smtpd_recipient_restrictions = reject_unauth_destination, {SPF_POLICY_SERVICES}\n\
                 policyd-spf_time_limit = 3600\npolicyd-spf-ar_time_limit = 3600\n\
                 smtpd_milters = inet:{MX_ADDR}:8891, inet:{MX_ADDR}:8893\nnon_smtpd_milters =\n\
                 milter_default_action = tempfail\nmaillog_file = /dev/stdout\nalias_maps =\n\
                 alias_database =\nsmtputf8_enable = yes\nsmtpd_tls_security_level = may\n\
                 smtpd_tls_cert_file = {cert}\nsmtpd_tls_key_file = {key}\n\
                 smtpd_tls_received_header = yes\nsmtp_dns_support_level = enabled\n",
                spool = spool.display(),
                data = data.display(),
                etc = etc.display(),
                mail = mail.display(),
                cert = cert.display(),
                key = key.display(),
            ),
        )
        .expect("write main.cf");
        std::fs::write(etc.join("master.cf"), master_cf(&spf_conf, &spf_ar_conf))
            .expect("write master.cf");
        let postfix = spawn_postfix(&netns, &etc, &d.join("postfix.log"));
        let mut world = MailWorld {
            postfix,
            opendkim,
            opendmarc,
            bind,
            dir,
            netns,
        };
        world.wait_listening(&[25, 8891, 8893]);
        world
    }

    /// The namespace, to run more programs in it.
    pub fn netns(&self) -> &Netns {
        &self.netns
    }

    /// A command that runs `program` inside the world (resolving through its DNS).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        self.netns.command(program)
    }

    /// The receiving MX, as seen from inside the namespace.
    pub fn mx_addr(&self) -> SocketAddr {
        SocketAddr::from((MX_ADDR, 25))
    }

    /// The DNS server, as seen from inside the namespace (also its resolv.conf).
    pub fn dns_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 53))
    }

    /// The BIND instance (its zone files are in `bind().dir()`).
    pub fn bind(&self) -> &Bind {
        &self.bind
    }

    /// The world's working directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Change Postfix's configuration (`postconf -e KEY=VALUE` lines) and reload it.
    pub fn postconf(&self, settings: &[&str]) {
        let etc = self.dir.path().join("postfix");
        let mut cmd = Command::new("postconf");
        cmd.arg("-c").arg(&etc).arg("-e").args(settings);
        let out = cmd.output().expect("run postconf");
        assert!(
            out.status.success(),
            "postconf: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let etc = etc.to_string_lossy().into_owned();
        self.netns.run(&["/usr/sbin/postfix", "-c", &etc, "reload"]);
    }

    /// Stop Postfix: from now on connections to the MX are refused (a receiver that
    /// is down). Mail already delivered stays in the mailbox.
    pub fn stop_postfix(&mut self) {
        let etc = self
            .dir
            .path()
            .join("postfix")
            .to_string_lossy()
            .into_owned();
        let _ = self
            .netns
            .command("/usr/sbin/postfix")
            .args(["-c", &etc, "stop"])
            .output();
        let _ = self.postfix.kill();
        let _ = self.postfix.wait();
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.listening().contains(&format!("{MX_ADDR}:25 ")) {
            assert!(Instant::now() < deadline, "Postfix did not stop");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Start Postfix again after [`MailWorld::stop_postfix`].
    pub fn start_postfix(&mut self) {
        let etc = self.dir.path().join("postfix");
        // Keep the log of the first run: append.
        let log = self.dir.path().join("postfix.2.log");
        self.postfix = spawn_postfix(&self.netns, &etc, &log);
        self.wait_listening(&[25]);
    }

    fn listening(&self) -> String {
        let out = self
            .netns
            .command("ss")
            .args(["-ltnH"])
            .output()
            .expect("run ss (package iproute2)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Postfix's log so far (for failure messages; verdicts come from the mailbox).
    pub fn postfix_log(&self) -> String {
        let d = self.dir.path();
        let mut log = std::fs::read_to_string(d.join("postfix.log")).unwrap_or_default();
        log.push_str(&std::fs::read_to_string(d.join("postfix.2.log")).unwrap_or_default());
        log
    }

    /// The messages delivered so far, oldest first.
    pub fn mailbox(&self) -> Vec<Vec<u8>> {
        let new = self.dir.path().join("mail").join(MAILBOX).join("new");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&new)
            .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.sort_by_key(|p| {
            let modified = std::fs::metadata(p).and_then(|m| m.modified()).ok();
            (modified, p.clone())
        });
        files.iter().filter_map(|p| std::fs::read(p).ok()).collect()
    }

    /// Wait until at least `count` messages are delivered; panic with the Postfix log
    /// if they do not arrive within `timeout`.
    pub fn wait_for_mail(&self, count: usize, timeout: Duration) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        loop {
            let mail = self.mailbox();
            if mail.len() >= count {
                return mail;
            }
            if Instant::now() > deadline {
                panic!(
                    "{} of {count} messages arrived within {timeout:?}; Postfix log:\n{}",
                    mail.len(),
                    self.postfix_log()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn wait_listening(&mut self, ports: &[u16]) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            for (name, child) in [
                ("postfix", &mut self.postfix),
                ("opendkim", &mut self.opendkim),
                ("opendmarc", &mut self.opendmarc),
            ] {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!(
                        "{name} exited ({status}) while the world started:\n{}",
                        std::fs::read_to_string(self.dir.path().join(format!("{name}.log")))
                            .unwrap_or_default()
                    );
                }
            }
            let listening = self.listening();
            if ports
                .iter()
                .all(|p| listening.contains(&format!("{MX_ADDR}:{p} ")))
            {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "the mail world did not come up in 30 s; listening:\n{listening}\npostfix:\n{}",
                    self.postfix_log()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for MailWorld {
    fn drop(&mut self) {
        for child in [&mut self.postfix, &mut self.opendkim, &mut self.opendmarc] {
            let _ = child.kill();
            let _ = child.wait();
        }
        // Postfix's master and its children are not our direct children: the
        // namespace's drop kills every process left in it.
        self.netns.kill_all();
    }
}

/// The signing half of opendkim.conf (`Mode sv`), with the key copied into `dir` and
/// made readable by the `opendkim` user only.
fn signing_conf(signing: &SigningSetup, dir: &Path) -> String {
    let key = dir.join("opendkim-signing.key");
    std::fs::copy(&signing.key_file, &key).unwrap_or_else(|e| {
        panic!(
            "copy the OpenDKIM signing key {}: {e}",
            signing.key_file.display()
        )
    });
    let (uid, gid) = uid_gid("opendkim");
    let ok = Command::new("chown")
        .arg(format!("{uid}:{gid}"))
        .arg(&key)
        .status()
        .expect("chown");
    assert!(ok.success(), "chown {}", key.display());
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))
        .expect("chmod 600 the signing key");
    format!(
        "Mode sv\nDomain {}\nSelector {}\nKeyFile {}\nSignatureAlgorithm {}\n\
         Canonicalization relaxed/relaxed\nInternalHosts {SIGNING_CLIENT_ADDR}\n\
         RequireSafeKeys false\n",
        signing.domain,
        signing.selector,
        key.display(),
        signing.algorithm
    )
}

fn spawn_postfix(netns: &Netns, etc: &Path, log: &Path) -> Child {
    spawn_logged(
        netns
            .command("/usr/sbin/postfix")
            .arg("-c")
            .arg(etc)
            .arg("start-fg"),
        log,
    )
}

fn spawn_logged(cmd: &mut Command, log: &Path) -> Child {
    let file = std::fs::File::create(log).expect("create a log file");
    cmd.stdout(Stdio::from(file.try_clone().expect("dup log")))
        .stderr(Stdio::from(file))
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {cmd:?}: {e}"))
}

fn master_cf(spf_conf: &Path, spf_ar_conf: &Path) -> String {
    format!(
        "smtp      inet  n       -       n       -       -       smtpd\n\
         pickup    unix  n       -       n       60      1       pickup\n\
         cleanup   unix  n       -       n       -       0       cleanup\n\
         qmgr      unix  n       -       n       300     1       qmgr\n\
         tlsmgr    unix  -       -       n       1000?   1       tlsmgr\n\
         rewrite   unix  -       -       n       -       -       trivial-rewrite\n\
         bounce    unix  -       -       n       -       0       bounce\n\
         defer     unix  -       -       n       -       0       bounce\n\
         trace     unix  -       -       n       -       0       bounce\n\
         verify    unix  -       -       n       -       1       verify\n\
         flush     unix  n       -       n       1000?   0       flush\n\
         proxymap  unix  -       -       n       -       -       proxymap\n\
         proxywrite unix -       -       n       -       1       proxymap\n\
         smtp      unix  -       -       n       -       -       smtp\n\
         relay     unix  -       -       n       -       -       smtp\n\
         showq     unix  n       -       n       -       -       showq\n\
         error     unix  -       -       n       -       -       error\n\
         retry     unix  -       -       n       -       -       error\n\
         discard   unix  -       -       n       -       -       discard\n\
         local     unix  -       n       n       -       -       local\n\
         virtual   unix  -       n       n       -       -       virtual\n\
         lmtp      unix  -       -       n       -       -       lmtp\n\
         anvil     unix  -       -       n       -       1       anvil\n\
         scache    unix  -       -       n       -       1       scache\n\
         postlog   unix-dgram n  -       n       -       1       postlogd\n\
         policyd-spf unix -     n       n       -       0       spawn user=policyd-spf argv=/usr/bin/policyd-spf {}\n\
         policyd-spf-ar unix -  n       n       -       0       spawn user=policyd-spf argv=/usr/bin/policyd-spf {}\n",
        spf_conf.display(),
        spf_ar_conf.display()
    )
}
