//! A lean load generator for the sign-in flow, and the raw argon2id rate it is
//! bounded by. Used by `bench/signin.sh`.
//!
//! ```text
//! signin_load http --url http://127.0.0.1:9000 --users 32 --password PW --concurrency 8 --seconds 10
//! signin_load hash --seconds 10
//! ```
//!
//! `http`: each of `--concurrency` workers keeps one keep-alive HTTP/1.1
//! connection and loops over the whole sign-in as `bench1`..`benchN` (round
//! robin), each time with an empty cookie jar: GET /login (flow cookie, CSRF
//! token), POST /login (identifier), GET /login (password page), POST
//! /login/password, which must answer 303 with a `gatehouse_session` cookie.
//! Anything else is an error, counted by its cause. Only loopback targets.
//!
//! `hash`: `--concurrency` tasks verify one stored hash in a loop through the
//! server's own hasher (`PasswordHasher::with_default_concurrency(HashParams::default())`,
//! one hashing thread per core, glibc tuned as the server
//! tunes it), so the rate is what the server's password checks can reach.
//!
//! Both count what completes inside a measuring window that starts after
//! `--warmup` seconds. Results: one `key=value` line on stdout (for scripts),
//! a readable summary on stderr.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use gatehouse_crypto::{HashParams, PasswordHasher};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Longest wait for one HTTP response (a storm queues behind the hasher).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest response head or body accepted.
const MAX_RESPONSE: usize = 1 << 20;

#[derive(Parser, Debug)]
#[command(about = "Sign-in load generator and argon2id rate for Gatehouse benchmarks")]
struct Args {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand, Debug)]
enum Mode {
    /// Full HTTP sign-ins against a running server.
    Http {
        /// Base URL of the server, e.g. http://127.0.0.1:9000 (loopback only).
        #[arg(long)]
        url: String,
        /// Users bench1..benchN, all with --password.
        #[arg(long)]
        users: usize,
        #[arg(long)]
        password: String,
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Length of the measuring window.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// Seconds of load before the window opens (not counted).
        #[arg(long, default_value_t = 1.0)]
        warmup: f64,
    },
    /// argon2id verifications through the server's hasher.
    Hash {
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        #[arg(long, default_value_t = 1.0)]
        warmup: f64,
        /// Verifications in flight (they queue for the hasher's threads).
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
    },
}

fn main() -> Result<(), BoxError> {
    tune_allocator();
    match Args::parse().mode {
        Mode::Http {
            url,
            users,
            password,
            concurrency,
            seconds,
            warmup,
        } => {
            // One thread is plenty to drive the server, and leaves the other cores to it.
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            rt.block_on(http_mode(url, users, password, concurrency, window(warmup, seconds)?))
        }
        Mode::Hash {
            seconds,
            warmup,
            concurrency,
        } => {
            // The same runtime the server builds.
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            rt.block_on(hash_mode(concurrency, window(warmup, seconds)?))
        }
    }
}

/// As the server does (crates/cli/src/main.rs), so that the hasher's
/// allocations behave alike.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only adjusts allocator tuning knobs; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// The measuring window: (opens, closes), from now.
#[derive(Clone, Copy)]
struct Window {
    opens: Instant,
    closes: Instant,
}

impl Window {
    fn contains(&self, t: Instant) -> bool {
        t >= self.opens && t < self.closes
    }

    fn seconds(&self) -> f64 {
        (self.closes - self.opens).as_secs_f64()
    }
}

fn window(warmup: f64, seconds: f64) -> Result<Window, BoxError> {
    if !(warmup >= 0.0 && seconds > 0.0 && warmup + seconds < 3600.0) {
        return Err("--warmup must be >= 0, --seconds > 0, together under an hour".into());
    }
    let opens = Instant::now() + Duration::from_secs_f64(warmup);
    Ok(Window {
        opens,
        closes: opens + Duration::from_secs_f64(seconds),
    })
}

/// CPU seconds (user + system) this process has used, and its minor page faults.
fn usage() -> (f64, i64) {
    // SAFETY: getrusage fills the struct we hand it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return (f64::NAN, 0);
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (tv(ru.ru_utime) + tv(ru.ru_stime), ru.ru_minflt as i64)
}

fn cpu_seconds() -> f64 {
    usage().0
}

/// Nearest-rank percentile of sorted microseconds, in ms.
fn pct_ms(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1] as f64 / 1000.0
}

async fn hash_mode(concurrency: usize, win: Window) -> Result<(), BoxError> {
    let hasher = PasswordHasher::with_default_concurrency(HashParams::default())?;
    let threads = hasher.concurrency();
    let stored = Arc::new(hasher.hash("bench-password-1").await?);
    let done = Arc::new(AtomicUsize::new(0));
    let all = Arc::new(AtomicUsize::new(0));
    let (cpu0, faults0) = usage();
    let mut tasks: JoinSet<Result<(), BoxError>> = JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let (hasher, stored, done, all) = (hasher.clone(), stored.clone(), done.clone(), all.clone());
        tasks.spawn(async move {
            while Instant::now() < win.closes {
                let verdict = hasher.verify("bench-password-1", &stored).await?;
                if !verdict.is_match() {
                    return Err("the stored hash did not verify".into());
                }
                all.fetch_add(1, Ordering::Relaxed);
                if win.contains(Instant::now()) {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    let (cpu1, faults1) = usage();
    let (cpu, faults) = (cpu1 - cpu0, faults1 - faults0);
    let n = done.load(Ordering::Relaxed);
    let rate = n as f64 / win.seconds();
    eprintln!(
        "argon2id m={} KiB t={} p={}: {n} verifications in {:.1} s = {rate:.1}/s on {threads} hashing threads \
         ({:.1} ms of a core each; {concurrency} in flight; process CPU {cpu:.1} s, {faults} minor page faults)",
        HashParams::default().m_cost_kib,
        HashParams::default().t_cost,
        HashParams::default().p_cost,
        win.seconds(),
        threads as f64 * 1000.0 / rate.max(1e-9),
    );
    println!(
        "mode=hash hashes={n} hashes_all={} window_s={:.2} rate={rate:.2} threads={threads} concurrency={concurrency} \
         cpu_s={cpu:.2} minflt={faults}",
        all.load(Ordering::Relaxed),
        win.seconds()
    );
    Ok(())
}

/// What one worker measured.
#[derive(Default)]
struct Tally {
    /// Whole sign-ins that succeeded, in µs.
    ok: Vec<u64>,
    /// The four requests of each successful sign-in, in µs.
    steps: [Vec<u64>; 4],
    /// Failed sign-ins, by cause.
    errors: BTreeMap<String, usize>,
    /// Successful sign-ins, window or not.
    ok_all: usize,
    connects: usize,
}

async fn http_mode(
    url: String,
    users: usize,
    password: String,
    concurrency: usize,
    win: Window,
) -> Result<(), BoxError> {
    if users == 0 || concurrency == 0 {
        return Err("--users and --concurrency must be at least 1".into());
    }
    let (addr, host) = loopback_target(&url).await?;
    let next_user = Arc::new(AtomicUsize::new(0));
    let password = Arc::new(password);
    let cpu0 = cpu_seconds();
    let mut tasks = JoinSet::new();
    for _ in 0..concurrency {
        let (host, next_user, password) = (host.clone(), next_user.clone(), password.clone());
        tasks.spawn(async move {
            let mut conn = Conn::new(addr, host);
            let mut tally = Tally::default();
            while Instant::now() < win.closes {
                let k = next_user.fetch_add(1, Ordering::Relaxed) % users + 1;
                let started = Instant::now();
                let outcome = sign_in(&mut conn, &format!("bench{k}"), &password).await;
                let ended = Instant::now();
                if outcome.is_ok() {
                    tally.ok_all += 1;
                }
                match outcome {
                    // Successes count inside the window only; errors count always.
                    Ok(_) if !win.contains(ended) => {}
                    Ok(steps) => {
                        tally.ok.push((ended - started).as_micros() as u64);
                        for (v, d) in tally.steps.iter_mut().zip(steps) {
                            v.push(d);
                        }
                    }
                    Err(e) => {
                        *tally.errors.entry(e).or_default() += 1;
                        // Do not spin on a dead server.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
            tally.connects = conn.connects;
            tally
        });
    }
    let mut all = Tally::default();
    while let Some(t) = tasks.join_next().await {
        let t = t?;
        all.ok.extend(t.ok);
        for (a, s) in all.steps.iter_mut().zip(t.steps) {
            a.extend(s);
        }
        for (k, v) in t.errors {
            *all.errors.entry(k).or_default() += v;
        }
        all.connects += t.connects;
        all.ok_all += t.ok_all;
    }
    let cpu = cpu_seconds() - cpu0;
    all.ok.sort_unstable();
    for s in &mut all.steps {
        s.sort_unstable();
    }
    let n = all.ok.len();
    let errors: usize = all.errors.values().sum();
    let rate = n as f64 / win.seconds();
    let (p50, p99) = (pct_ms(&all.ok, 50.0), pct_ms(&all.ok, 99.0));
    let step_p50: Vec<f64> = all.steps.iter().map(|s| pct_ms(s, 50.0)).collect();
    eprintln!(
        "{n} sign-ins in {:.1} s = {rate:.1}/s at concurrency {concurrency} over {users} users; \
         latency p50 {p50:.1} ms, p99 {p99:.1} ms; step p50s (GET, POST /login, GET, POST password) \
         {:.1} / {:.1} / {:.1} / {:.1} ms; {errors} errors; {} connections; client CPU {cpu:.1} s",
        win.seconds(),
        step_p50[0],
        step_p50[1],
        step_p50[2],
        step_p50[3],
        all.connects,
    );
    for (cause, count) in &all.errors {
        eprintln!("  error x{count}: {cause}");
    }
    println!(
        "mode=http signins={n} signins_all={} errors={errors} window_s={:.2} rate={rate:.2} p50_ms={p50:.1} p99_ms={p99:.1} \
         step1_p50_ms={:.1} step2_p50_ms={:.1} step3_p50_ms={:.1} step4_p50_ms={:.1} concurrency={concurrency} \
         connections={} client_cpu_s={cpu:.2}",
        all.ok_all,
        win.seconds(),
        step_p50[0],
        step_p50[1],
        step_p50[2],
        step_p50[3],
        all.connects,
    );
    Ok(())
}

/// `http://HOST:PORT` (no path) → a loopback socket address and the Host header.
async fn loopback_target(url: &str) -> Result<(SocketAddr, String), BoxError> {
    let rest = url
        .strip_prefix("http://")
        .ok_or("--url must start with http:// (plain HTTP only)")?;
    let host = rest.trim_end_matches('/');
    if host.contains('/') {
        return Err("--url takes no path: http://HOST:PORT".into());
    }
    let host_port = if host.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) {
        host.to_string()
    } else {
        format!("{host}:80")
    };
    let addr = tokio::net::lookup_host(&host_port)
        .await?
        .find(|a| a.ip().is_loopback())
        .ok_or_else(|| format!("{host} is not a loopback address; this tool only loads the local machine"))?;
    Ok((addr, host.to_string()))
}

/// One sign-in on a fresh cookie jar; the four request durations in µs, or the cause of failure.
async fn sign_in(conn: &mut Conn, username: &str, password: &str) -> Result<[u64; 4], String> {
    let mut jar = Jar::default();
    let mut steps = [0u64; 4];

    let t = Instant::now();
    let res = conn
        .request("GET", "/login", &jar, None)
        .await
        .map_err(|e| format!("GET /login: {e}"))?;
    steps[0] = t.elapsed().as_micros() as u64;
    expect_status(&res, 200, "GET /login")?;
    jar.absorb(&res);
    if jar.get("gatehouse_flow").is_none() {
        return Err("GET /login: no gatehouse_flow cookie".into());
    }
    let csrf = csrf_token(&res.body).ok_or("GET /login: no csrf_token field")?;

    let t = Instant::now();
    let form = format!("identifier={}&csrf_token={}", form_encode(username), form_encode(&csrf));
    let res = conn
        .request("POST", "/login", &jar, Some(&form))
        .await
        .map_err(|e| format!("POST /login: {e}"))?;
    steps[1] = t.elapsed().as_micros() as u64;
    expect_status(&res, 303, "POST /login")?;
    jar.absorb(&res);

    let t = Instant::now();
    let res = conn
        .request("GET", "/login", &jar, None)
        .await
        .map_err(|e| format!("GET /login (password page): {e}"))?;
    steps[2] = t.elapsed().as_micros() as u64;
    expect_status(&res, 200, "GET /login (password page)")?;
    jar.absorb(&res);
    if !contains(&res.body, b"name=\"password\"") {
        return Err("GET /login (password page): no password field".into());
    }
    let csrf = csrf_token(&res.body).ok_or("GET /login (password page): no csrf_token field")?;

    let t = Instant::now();
    let form = format!("password={}&csrf_token={}", form_encode(password), form_encode(&csrf));
    let res = conn
        .request("POST", "/login/password", &jar, Some(&form))
        .await
        .map_err(|e| format!("POST /login/password: {e}"))?;
    steps[3] = t.elapsed().as_micros() as u64;
    expect_status(&res, 303, "POST /login/password")?;
    jar.absorb(&res);
    if jar.get("gatehouse_session").is_none() {
        return Err("POST /login/password: 303 without a gatehouse_session cookie".into());
    }
    Ok(steps)
}

fn expect_status(res: &Response, want: u16, what: &str) -> Result<(), String> {
    if res.status == want {
        return Ok(());
    }
    let hint = if res.status == 200 && contains(&res.body, b"is not correct") {
        " (sign-in refused)"
    } else if res.status == 429 {
        " (throttled)"
    } else {
        ""
    };
    Err(format!("{what}: status {}{hint}, expected {want}", res.status))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    find(hay, needle, 0).is_some()
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// The value of `<input ... name="csrf_token" value="...">`.
fn csrf_token(body: &[u8]) -> Option<String> {
    let at = find(body, b"name=\"csrf_token\"", 0)?;
    let v = find(body, b"value=\"", at)? + b"value=\"".len();
    let end = find(body, b"\"", v)?;
    let token = std::str::from_utf8(&body[v..end]).ok()?;
    (!token.is_empty()).then(|| token.to_string())
}

/// application/x-www-form-urlencoded.
fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Cookies of one browser: name → value.
#[derive(Default)]
struct Jar(Vec<(String, String)>);

impl Jar {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Applies the response's Set-Cookie headers (an empty value or Max-Age=0 deletes).
    fn absorb(&mut self, res: &Response) {
        for line in &res.set_cookies {
            let mut attrs = line.split(';');
            let Some((name, value)) = attrs.next().and_then(|p| p.trim().split_once('=')) else {
                continue;
            };
            let expired = attrs.any(|a| a.trim().eq_ignore_ascii_case("max-age=0"));
            self.0.retain(|(k, _)| k != name);
            if !value.is_empty() && !expired {
                self.0.push((name.to_string(), value.to_string()));
            }
        }
    }

    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

struct Response {
    status: u16,
    set_cookies: Vec<String>,
    body: Vec<u8>,
}

/// One keep-alive HTTP/1.1 connection, reopened when the server closes it.
struct Conn {
    addr: SocketAddr,
    host: String,
    stream: Option<TcpStream>,
    /// Bytes read but not yet consumed.
    buf: Vec<u8>,
    connects: usize,
}

impl Conn {
    fn new(addr: SocketAddr, host: String) -> Self {
        Conn {
            addr,
            host,
            stream: None,
            buf: Vec::with_capacity(16 * 1024),
            connects: 0,
        }
    }

    async fn request(&mut self, method: &str, path: &str, jar: &Jar, form: Option<&str>) -> Result<Response, String> {
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: signin_load\r\n",
            self.host
        );
        if !jar.0.is_empty() {
            req.push_str(&format!("Cookie: {}\r\n", jar.header()));
        }
        if let Some(body) = form {
            req.push_str(&format!(
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ));
        } else {
            req.push_str("\r\n");
        }
        // A reused connection may have been closed by the server meanwhile: one retry
        // on a new connection if nothing at all came back.
        let reused = self.stream.is_some();
        match tokio::time::timeout(REQUEST_TIMEOUT, self.exchange(req.as_bytes())).await {
            Ok(Ok(res)) => Ok(res),
            Ok(Err(Failure::NothingBack(_))) if reused => {
                self.stream = None;
                match tokio::time::timeout(REQUEST_TIMEOUT, self.exchange(req.as_bytes())).await {
                    Ok(Ok(res)) => Ok(res),
                    Ok(Err(e)) => {
                        self.stream = None;
                        Err(e.to_string())
                    }
                    Err(_) => {
                        self.stream = None;
                        Err(format!("no response within {} s", REQUEST_TIMEOUT.as_secs()))
                    }
                }
            }
            Ok(Err(e)) => {
                self.stream = None;
                Err(e.to_string())
            }
            Err(_) => {
                self.stream = None;
                Err(format!("no response within {} s", REQUEST_TIMEOUT.as_secs()))
            }
        }
    }

    async fn exchange(&mut self, req: &[u8]) -> Result<Response, Failure> {
        if self.stream.is_none() {
            let s = TcpStream::connect(self.addr)
                .await
                .map_err(|e| Failure::Other(format!("connect: {e}")))?;
            let _ = s.set_nodelay(true);
            self.stream = Some(s);
            self.buf.clear();
            self.connects += 1;
        }
        self.stream
            .as_mut()
            .ok_or_else(|| Failure::Other("no connection".into()))?
            .write_all(req)
            .await
            .map_err(|e| Failure::NothingBack(format!("write: {e}")))?;

        // Head.
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n", 0) {
                break i;
            }
            if self.buf.len() > MAX_RESPONSE {
                return Err(Failure::Other("response head too large".into()));
            }
            match self.fill().await {
                Ok(0) if self.buf.is_empty() => return Err(Failure::NothingBack("connection closed".into())),
                Ok(0) => return Err(Failure::Other("connection closed inside the response head".into())),
                Ok(_) => {}
                Err(e) if self.buf.is_empty() => return Err(Failure::NothingBack(e.to_string())),
                Err(e) => return Err(e),
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        self.buf.drain(..head_end + 4);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| Failure::Other(format!("bad status line {status_line:?}")))?;
        let mut length = None;
        let mut chunked = false;
        let mut close = status_line.starts_with("HTTP/1.0");
        let mut set_cookies = Vec::new();
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = value.parse::<usize>().ok(),
                "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
                "connection" => close = value.eq_ignore_ascii_case("close"),
                "set-cookie" => set_cookies.push(value.to_string()),
                _ => {}
            }
        }

        // Body.
        let body = if status == 204 || status == 304 || (100..200).contains(&status) {
            Vec::new()
        } else if chunked {
            self.read_chunked().await?
        } else if let Some(n) = length {
            if n > MAX_RESPONSE {
                return Err(Failure::Other("response body too large".into()));
            }
            self.read_exact_buf(n).await?
        } else {
            close = true;
            while self.fill().await? > 0 {
                if self.buf.len() > MAX_RESPONSE {
                    return Err(Failure::Other("response body too large".into()));
                }
            }
            std::mem::take(&mut self.buf)
        };
        if close {
            self.stream = None;
        }
        Ok(Response {
            status,
            set_cookies,
            body,
        })
    }

    /// Reads more into `buf`; 0 at end of stream.
    async fn fill(&mut self) -> Result<usize, Failure> {
        let stream = self
            .stream
            .as_mut()
            .ok_or_else(|| Failure::Other("no connection".into()))?;
        let mut chunk = [0u8; 16 * 1024];
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| Failure::Other(format!("read: {e}")))?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    async fn read_exact_buf(&mut self, n: usize) -> Result<Vec<u8>, Failure> {
        while self.buf.len() < n {
            if self.fill().await? == 0 {
                return Err(Failure::Other("connection closed inside the body".into()));
            }
        }
        let rest = self.buf.split_off(n);
        Ok(std::mem::replace(&mut self.buf, rest))
    }

    /// One CRLF-terminated line from `buf`, without the CRLF.
    async fn read_line(&mut self) -> Result<Vec<u8>, Failure> {
        loop {
            if let Some(i) = find(&self.buf, b"\r\n", 0) {
                let line = self.buf[..i].to_vec();
                self.buf.drain(..i + 2);
                return Ok(line);
            }
            if self.buf.len() > MAX_RESPONSE || self.fill().await? == 0 {
                return Err(Failure::Other("bad chunked body".into()));
            }
        }
    }

    async fn read_chunked(&mut self) -> Result<Vec<u8>, Failure> {
        let mut body = Vec::new();
        loop {
            let line = self.read_line().await?;
            let size = std::str::from_utf8(&line)
                .ok()
                .and_then(|l| usize::from_str_radix(l.split(';').next().unwrap_or("").trim(), 16).ok())
                .ok_or_else(|| Failure::Other("bad chunk size".into()))?;
            if size == 0 {
                // Trailers, up to the empty line.
                while !self.read_line().await?.is_empty() {}
                return Ok(body);
            }
            if body.len() + size > MAX_RESPONSE {
                return Err(Failure::Other("response body too large".into()));
            }
            body.extend(self.read_exact_buf(size).await?);
            if !self.read_line().await?.is_empty() {
                return Err(Failure::Other("bad chunk terminator".into()));
            }
        }
    }
}

enum Failure {
    /// The request may not have reached the server: safe to retry once.
    NothingBack(String),
    Other(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::NothingBack(s) | Failure::Other(s) => f.write_str(s),
        }
    }
}
