//! The documented config, generated from the types.
//!
//! [`render_documented`] walks a value serialised to TOML next to the JSON schema that
//! schemars derives from the same Rust types; each key gets its field's doc comment
//! as `#` lines above it. [`initial`] builds the config `sendwell init` writes, and
//! [`render`] is what it writes. `docs/sendwell.example.toml` is this output for the
//! `--local` example (a test keeps it in step).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value as Json;

use crate::types::*;

/// Fixed ports of a `--local` config (documented in the README).
pub mod local_ports {
    /// MX (stands in for 25).
    pub const MX: u16 = 2525;
    /// Submission with STARTTLS (stands in for 587).
    pub const SUBMISSION: u16 = 2587;
    /// Submission over implicit TLS (stands in for 465).
    pub const SUBMISSIONS: u16 = 2465;
}

/// What `sendwell init` is told.
#[derive(Clone, Debug)]
pub struct InitParams {
    /// The mail domain.
    pub domain: String,
    /// The server's host name.
    pub hostname: String,
    /// Public IPv4 address.
    pub ipv4: Option<Ipv4Addr>,
    /// Public IPv6 address.
    pub ipv6: Option<Ipv6Addr>,
    /// Listen on 127.0.0.1 at the fixed high ports instead of 25/587/465 on all addresses.
    pub local: bool,
    /// The DKIM keys written (relative paths).
    pub dkim: Vec<DkimKey>,
}

/// The config `sendwell init` writes.
pub fn initial(p: &InitParams) -> Config {
    let listen = if p.local {
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        Listen {
            mx: vec![SocketAddr::new(lo, local_ports::MX)],
            submission: vec![SocketAddr::new(lo, local_ports::SUBMISSION)],
            submissions: vec![SocketAddr::new(lo, local_ports::SUBMISSIONS)],
        }
    } else {
        let mut all: Vec<IpAddr> = vec![IpAddr::V4(Ipv4Addr::UNSPECIFIED)];
        if p.ipv6.is_some() {
            all.push(IpAddr::V6(Ipv6Addr::UNSPECIFIED));
        }
        let on = |port| all.iter().map(|ip| SocketAddr::new(*ip, port)).collect();
        Listen {
            mx: on(25),
            submission: on(587),
            submissions: on(465),
        }
    };
    let d = &p.domain;
    Config {
        hostname: p.hostname.clone(),
        ipv4: p.ipv4,
        ipv6: p.ipv6,
        listen,
        tls: Tls {
            certificate: PathBuf::from("tls/cert.pem"),
            private_key: PathBuf::from("tls/key.pem"),
        },
        limits: Limits::default(),
        smtp: Smtp::default(),
        auth: Auth::default(),
        delivery: Delivery {
            // Send from the address the SPF record and the PTR are about; a --local
            // trial sends from whatever address the system picks.
            source_ipv4: if p.local { None } else { p.ipv4 },
            source_ipv6: if p.local { None } else { p.ipv6 },
            ..Delivery::default()
        },
        domains: vec![Domain {
            name: d.clone(),
            dmarc_reports: None,
            dmarc_policy: DmarcPolicy::default(),
            dkim: p.dkim.clone(),
        }],
        mailboxes: ["postmaster", "abuse", "no-reply", "dmarc-reports"]
            .iter()
            .map(|l| Mailbox {
                address: format!("{l}@{d}"),
            })
            .collect(),
        aliases: Vec::new(),
    }
}

/// The example config in `docs/sendwell.example.toml`: `sendwell init --local` for
/// example.test, with an alias added to show the form.
pub fn example() -> Config {
    let mut c = initial(&InitParams {
        domain: "example.test".into(),
        hostname: "mail.example.test".into(),
        ipv4: Some(Ipv4Addr::new(192, 0, 2, 25)),
        ipv6: None,
        local: true,
        dkim: vec![
            DkimKey {
                selector: "sw-rsa".into(),
                algorithm: DkimAlgorithm::Rsa,
                private_key: PathBuf::from("dkim/example.test.sw-rsa.pem"),
            },
            DkimKey {
                selector: "sw-ed".into(),
                algorithm: DkimAlgorithm::Ed25519,
                private_key: PathBuf::from("dkim/example.test.sw-ed.pem"),
            },
        ],
    });
    c.aliases.push(Alias {
        address: "info@example.test".into(),
        to: vec!["postmaster@example.test".into()],
    });
    c
}

/// The documented TOML of a config.
pub fn render(config: &Config) -> String {
    render_documented(
        config,
        "Sendwell configuration. Every key is documented below; unknown keys are errors.\n\
         Paths are relative to this file's directory. Restart `sendwell serve` to apply.",
    )
}

/// TOML text for `value`, each key preceded by its doc comment, under a header.
pub fn render_documented<T: Serialize + JsonSchema>(value: &T, header: &str) -> String {
    let schema = schemars::schema_for!(T);
    let root = schema.as_value();
    let defs = root.get("$defs").cloned().unwrap_or(Json::Null);
    let table = match toml::Value::try_from(value) {
        Ok(toml::Value::Table(t)) => t,
        // Our config types are all structs: serialising them always gives a table.
        _ => toml::Table::new(),
    };
    let mut out = String::new();
    for line in header.lines() {
        out.push_str(&format!("# {line}\n"));
    }
    write_table(&mut out, &[], &table, root, &defs, true);
    out
}

/// Follow a `$ref` into `$defs`, and unwrap `Option<T>` (`anyOf [T, null]`).
fn resolve<'a>(schema: &'a Json, defs: &'a Json) -> &'a Json {
    if let Some(r) = schema.get("$ref").and_then(Json::as_str)
        && let Some(name) = r.strip_prefix("#/$defs/")
        && let Some(def) = defs.get(name)
    {
        return resolve(def, defs);
    }
    if let Some(any) = schema.get("anyOf").and_then(Json::as_array)
        && let Some(first) = any
            .iter()
            .find(|s| s.get("type").and_then(Json::as_str) != Some("null"))
    {
        return resolve(first, defs);
    }
    schema
}

fn description<'a>(schema: &'a Json, defs: &'a Json) -> Option<&'a str> {
    schema
        .get("description")
        .and_then(Json::as_str)
        .or_else(|| {
            resolve(schema, defs)
                .get("description")
                .and_then(Json::as_str)
        })
}

/// Write `text` as `#` lines wrapped at 88 columns.
fn comment(out: &mut String, text: &str) {
    for paragraph in text.split("\n\n") {
        let mut line = String::from("#");
        for word in paragraph.split_whitespace() {
            if line.len() + 1 + word.len() > 88 && line.len() > 1 {
                out.push_str(&line);
                out.push('\n');
                line = String::from("#");
            }
            line.push(' ');
            line.push_str(word);
        }
        out.push_str(&line);
        out.push('\n');
    }
}

fn is_table_array(v: &toml::Value) -> bool {
    matches!(v, toml::Value::Array(a) if !a.is_empty() && a.iter().all(toml::Value::is_table))
}

/// Write one table's keys and sub-tables. `document` is false for the second and later
/// items of an array of tables, whose keys the first item already explained.
fn write_table(
    out: &mut String,
    path: &[String],
    table: &toml::Table,
    schema: &Json,
    defs: &Json,
    document: bool,
) {
    let schema = resolve(schema, defs);
    let props = schema.get("properties").and_then(Json::as_object);
    let prop = |k: &str| props.and_then(|p| p.get(k)).unwrap_or(&Json::Null);
    // Plain keys first (TOML puts a table's own keys before its sub-tables).
    for (k, v) in table {
        if v.is_table() || is_table_array(v) {
            continue;
        }
        if document && let Some(d) = description(prop(k), defs) {
            comment(out, d);
        }
        out.push_str(&format!("{k} = {v}\n"));
    }
    // Keys with no value (optional and unset): the documentation, commented out.
    if let Some(p) = props.filter(|_| document) {
        for (k, s) in p {
            if table.contains_key(k) || is_table_array_schema(s, defs) {
                continue;
            }
            if let Some(d) = description(s, defs) {
                comment(out, d);
            }
            out.push_str(&format!("# {k} = (not set)\n"));
        }
    }
    for (k, v) in table {
        let mut sub = path.to_vec();
        sub.push(k.clone());
        let name = sub.join(".");
        match v {
            toml::Value::Table(t) => {
                out.push('\n');
                if document && let Some(d) = description(prop(k), defs) {
                    comment(out, d);
                }
                out.push_str(&format!("[{name}]\n"));
                write_table(out, &sub, t, prop(k), defs, document);
            }
            toml::Value::Array(items) if is_table_array(v) => {
                let item_schema = resolve(prop(k), defs).get("items").unwrap_or(&Json::Null);
                for (i, item) in items.iter().enumerate() {
                    out.push('\n');
                    if i == 0
                        && document
                        && let Some(d) = description(prop(k), defs)
                    {
                        comment(out, d);
                    }
                    out.push_str(&format!("[[{name}]]\n"));
                    if let toml::Value::Table(t) = item {
                        write_table(out, &sub, t, item_schema, defs, document && i == 0);
                    }
                }
            }
            _ => {}
        }
    }
    // Arrays of tables with no item yet: the documentation and the header to copy.
    if let Some(p) = props.filter(|_| document) {
        for (k, s) in p {
            if table.contains_key(k) || !is_table_array_schema(s, defs) {
                continue;
            }
            let mut sub = path.to_vec();
            sub.push(k.clone());
            out.push('\n');
            if let Some(d) = description(s, defs) {
                comment(out, d);
            }
            out.push_str(&format!("# [[{}]] (none yet)\n", sub.join(".")));
        }
    }
}

/// True when a property's schema is an array of objects (a TOML array of tables).
fn is_table_array_schema(schema: &Json, defs: &Json) -> bool {
    let s = resolve(schema, defs);
    s.get("type").and_then(Json::as_str) == Some("array")
        && s.get("items")
            .map(|i| resolve(i, defs))
            .and_then(|i| i.get("type"))
            .and_then(Json::as_str)
            == Some("object")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Users;

    #[test]
    fn rendered_example_parses_back_to_the_same_config() {
        let c = example();
        assert!(c.validate().is_empty(), "{:?}", c.validate());
        let text = render(&c);
        let back = crate::Config::parse(&text).unwrap();
        assert_eq!(back, c);
        // Every key is documented: no key line without a comment line above it.
        let lines: Vec<&str> = text.lines().collect();
        // (Later items of an array of tables are explained by the first.)
        let mut first_item = true;
        for (i, l) in lines.iter().enumerate() {
            if l.starts_with("[[") {
                first_item = !lines[..i].contains(l);
            } else if l.starts_with('[') {
                first_item = true;
            }
            if first_item && l.contains(" = ") && !l.starts_with('#') {
                assert!(lines[i - 1].starts_with('#'), "undocumented: {l}");
            }
        }
        assert!(text.contains("[limits]"));
        assert!(text.contains("[[domain.dkim]]"));
    }

    #[test]
    fn docs_example_is_current() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/sendwell.example.toml"
        );
        let want = render(&example());
        if std::env::var_os("SENDWELL_BLESS").is_some() {
            std::fs::write(path, &want).unwrap();
        }
        let doc = std::fs::read_to_string(path).unwrap_or_default();
        assert_eq!(
            doc, want,
            "docs/sendwell.example.toml is stale; regenerate with: \
             SENDWELL_BLESS=1 cargo test -p sendwell-config docs_example_is_current"
        );
    }

    #[test]
    fn tables_can_be_appended_to_a_config_without_them() {
        let mut c = example();
        c.aliases.clear();
        let text = render(&c);
        assert!(text.contains("# [[alias]] (none yet)"), "{text}");
        let more =
            format!("{text}\n[[alias]]\naddress = \"a@example.test\"\nto = [\"b@x.test\"]\n");
        assert_eq!(crate::Config::parse(&more).unwrap().aliases.len(), 1);
    }

    #[test]
    fn users_round_trip() {
        let u = Users {
            users: vec![crate::User {
                address: "a@example.test".into(),
                password_hash: "$argon2id$x".into(),
                may_send_from: vec!["example.test".into()],
            }],
        };
        let text = render_documented(&u, "h");
        assert_eq!(toml::from_str::<Users>(&text).unwrap(), u);
    }

    #[test]
    fn unknown_keys_are_errors() {
        let text = render(&example()).replace("[limits]", "[limits]\nmax_recipeints = 5");
        let e = crate::Config::parse(&text).unwrap_err().to_string();
        assert!(e.contains("max_recipeints"), "{e}");
    }
}
