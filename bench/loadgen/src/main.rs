//! `sendwell-loadgen`: submit N messages over C authenticated sessions and report the
//! rate. See the library's documentation and `bench/relay/run.sh`.
//!
//! Exit codes: 0 when the server accepted every message, 1 when it did not, 2 when
//! the arguments are wrong.

use std::io::Read as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use clap::Parser;
use sendwell_loadgen::message::{MIN_SIZE, MessageTemplate};
use sendwell_loadgen::{LoadConfig, Report, run};

/// Submit messages with STARTTLS and AUTH PLAIN and report messages per second.
#[derive(Debug, Parser)]
#[command(name = "sendwell-loadgen", version)]
struct Args {
    /// The server's submission address (STARTTLS and AUTH PLAIN required).
    #[arg(long, value_name = "IP:PORT")]
    server: SocketAddr,
    /// Messages in all.
    #[arg(long, short = 'n', default_value_t = 1000)]
    messages: usize,
    /// Sessions at once (each gets an equal share of the messages).
    #[arg(long, short = 'c', default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    sessions: u16,
    /// Size of each message in octets, header and body.
    #[arg(long, default_value_t = 2048)]
    size: usize,
    /// AUTH PLAIN user name.
    #[arg(long)]
    user: String,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    password_stdin: bool,
    /// The envelope sender and From address [default: the user name].
    #[arg(long)]
    from: Option<String>,
    /// The recipient (envelope and To).
    #[arg(long)]
    to: String,
    /// The name sent in EHLO.
    #[arg(long, default_value = "loadgen.bench.test")]
    helo: String,
    /// The TLS server name (SNI); the certificate is not checked.
    #[arg(long, default_value = "localhost")]
    tls_name: String,
    /// Runtime worker threads (1: everything on one thread, the smallest footprint on
    /// a machine the servers share).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match real_main(args) {
        Ok(report) => {
            if report.accepted == report.messages {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("sendwell-loadgen: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn real_main(args: Args) -> anyhow::Result<Report> {
    anyhow::ensure!(
        args.size >= MIN_SIZE,
        "--size must be at least {MIN_SIZE} octets (the header fields take most of that)"
    );
    anyhow::ensure!(
        args.password_stdin,
        "give the password on standard input with --password-stdin"
    );
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .context("read the password from standard input")?;
    let password = password.lines().next().unwrap_or_default().to_string();
    let run_token = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let config = LoadConfig {
        server: args.server,
        tls_name: args.tls_name,
        helo: args.helo,
        password,
        sessions: usize::from(args.sessions),
        messages: args.messages,
        template: MessageTemplate {
            from: args.from.unwrap_or_else(|| args.user.clone()),
            to: args.to,
            size: args.size,
            run: format!("{run_token:x}"),
        },
        user: args.user,
        tls: sendwell_delivery::opportunistic_tls(),
    };
    let runtime = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()
    }
    .context("start the tokio runtime")?;
    let report = runtime.block_on(run(config));
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_table(&report);
    }
    Ok(report)
}

fn print_table(r: &Report) {
    println!(
        "server {}  sessions {}  messages {} of {} octets",
        r.server, r.sessions, r.messages, r.size
    );
    println!(
        "accepted {}  rejected {}  failed {}  elapsed {:.3} s  {:.1} msg/s",
        r.accepted, r.rejected, r.failed, r.elapsed_secs, r.msgs_per_sec
    );
    println!(
        "latency MAIL to final reply: p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        r.latency_ms_p50, r.latency_ms_p99, r.latency_ms_max
    );
    for e in &r.errors {
        println!("error: {e}");
    }
}
