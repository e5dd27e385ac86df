//! Password hashing with argon2id, in PHC string format.
//!
//! Hashing runs on a few threads of its own, one per core: a login storm
//! queues instead of allocating `m_cost` KiB per request, and a hashing thread
//! starts the next queued hash the moment it finishes one (no hand-off through
//! the async runtime, whose busy workers left cores idle between two hashes).
//! argon2 work areas are pooled and reused while hashes queue, which keeps the
//! resident memory flat (at most one work area per thread), and freed when the
//! queue is empty, so an idle server holds none.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use rand::RngCore;
use tokio::sync::oneshot;

use crate::secret::constant_time_eq;

const SALT_LEN: usize = 16;
const OUTPUT_LEN: usize = 32;

/// argon2id cost parameters. The default follows OWASP's recommendation
/// (19 MiB, two passes, one lane).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    pub m_cost_kib: u32,
    pub t_cost: u32,
    pub p_cost: u32,
}

impl Default for HashParams {
    fn default() -> Self {
        HashParams {
            m_cost_kib: 19 * 1024,
            t_cost: 2,
            p_cost: 1,
        }
    }
}

impl HashParams {
    fn to_argon2(self) -> Result<Params, HashError> {
        Params::new(self.m_cost_kib, self.t_cost, self.p_cost, Some(OUTPUT_LEN))
            .map_err(|e| HashError::Params(e.to_string()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("invalid argon2 parameters: {0}")]
    Params(String),
    #[error("argon2 failed: {0}")]
    Argon2(String),
    #[error("password hashing task failed")]
    Pool,
}

/// Outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordVerdict {
    /// Wrong password, or no usable stored hash.
    Mismatch,
    /// Right password, stored hash uses the current parameters.
    Match,
    /// Right password, but the stored hash should be replaced by a fresh one.
    MatchNeedsRehash,
}

impl PasswordVerdict {
    pub fn is_match(self) -> bool {
        !matches!(self, PasswordVerdict::Mismatch)
    }
}

/// Hashes and verifies passwords with bounded concurrency.
#[derive(Clone)]
pub struct PasswordHasher {
    params: HashParams,
    pool: Arc<HashPool>,
}

type Job = Box<dyn FnOnce() + Send>;

/// The hashing threads and their queue. The threads end when the last
/// [`PasswordHasher`] sharing them is dropped (the queue closes).
struct HashPool {
    jobs: mpsc::Sender<Job>,
    /// Jobs queued and not yet started.
    queued: Arc<AtomicUsize>,
    threads: usize,
}

impl HashPool {
    fn start(threads: usize) -> Result<HashPool, HashError> {
        let (jobs, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let queued = Arc::new(AtomicUsize::new(0));
        for i in 0..threads {
            let (rx, queued) = (rx.clone(), queued.clone());
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || hash_thread(&rx, &queued))
                .map_err(|_| HashError::Pool)?;
        }
        Ok(HashPool { jobs, queued, threads })
    }

    fn submit(&self, job: Job) -> Result<(), HashError> {
        self.queued.fetch_add(1, Ordering::SeqCst);
        self.jobs.send(job).map_err(|_| HashError::Pool)
    }
}

/// One hashing thread: the next job, until the queue closes.
fn hash_thread(rx: &Mutex<mpsc::Receiver<Job>>, queued: &AtomicUsize) {
    loop {
        let job = match rx.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        queued.fetch_sub(1, Ordering::SeqCst);
        // A job that panics fails its caller (its answer channel drops), not
        // this thread: the pool keeps its size.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
        // Keep the work area while hashes queue (a sign-in storm); hand it
        // back when nobody waits, so an idle server holds no argon2 memory.
        if queued.load(Ordering::SeqCst) == 0 {
            release_work_area();
        }
    }
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher").field("params", &self.params).finish()
    }
}

/// argon2 work areas not in use. A hash takes one (or allocates), and gives it
/// back; since at most `concurrency` hashes run at once, the pool never holds
/// more than that many.
static WORK_AREAS: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());

impl PasswordHasher {
    /// A hasher with `params`, running at most `concurrency` hashes at once
    /// (on as many threads of its own).
    pub fn new(params: HashParams, concurrency: usize) -> Result<Self, HashError> {
        params.to_argon2()?;
        Ok(PasswordHasher {
            params,
            pool: Arc::new(HashPool::start(concurrency.max(1))?),
        })
    }

    /// How many hashes run at once.
    pub fn concurrency(&self) -> usize {
        self.pool.threads
    }

    /// A hasher with one permit per available core.
    pub fn with_default_concurrency(params: HashParams) -> Result<Self, HashError> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::new(params, cores)
    }

    pub fn params(&self) -> HashParams {
        self.params
    }

    /// Hashes `password` into a PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`).
    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        let params = self.params;
        let password = password.as_bytes().to_vec();
        self.run(move || hash_blocking(params, &password)).await?
    }

    /// Checks `password` against `stored` (a PHC string). A malformed stored hash is a
    /// mismatch, never an error, so that callers cannot leak which accounts are broken.
    pub async fn verify(&self, password: &str, stored: &str) -> Result<PasswordVerdict, HashError> {
        let current = self.params;
        let password = password.as_bytes().to_vec();
        let stored = stored.to_string();
        self.run(move || verify_blocking(current, &password, &stored)).await
    }

    /// Spends the same work as a real verification; used when the account is unknown
    /// so that the answer takes as long as for a real one.
    pub async fn verify_dummy(&self, password: &str) -> Result<(), HashError> {
        let params = self.params;
        let password = password.as_bytes().to_vec();
        self.run(move || hash_blocking(params, &password).map(|_| ())).await?
    }

    async fn run<T: Send + 'static>(&self, job: impl FnOnce() -> T + Send + 'static) -> Result<T, HashError> {
        let (tx, rx) = oneshot::channel();
        self.pool.submit(Box::new(move || {
            // Whoever asked has gone (a closed connection): spend nothing.
            if !tx.is_closed() {
                let _ = tx.send(job());
            }
        }))?;
        rx.await.map_err(|_| HashError::Pool)
    }

    /// Hashes synchronously, for command-line use outside a runtime.
    pub fn hash_now(&self, password: &str) -> Result<String, HashError> {
        hash_blocking(self.params, password.as_bytes())
    }
}

fn release_work_area() {
    if let Ok(mut pool) = WORK_AREAS.lock() {
        pool.clear();
    }
}

fn argon2_raw(params: HashParams, password: &[u8], salt: &[u8]) -> Result<Vec<u8>, HashError> {
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.to_argon2()?);
    let blocks = params.m_cost_kib as usize;
    let mut out = vec![0u8; OUTPUT_LEN];
    let mut area = WORK_AREAS
        .lock()
        .ok()
        .and_then(|mut pool| pool.pop())
        .unwrap_or_default();
    if area.len() != blocks {
        area = vec![Block::default(); blocks];
    }
    let result = argon
        .hash_password_into_with_memory(password, salt, &mut out, area.as_mut_slice())
        .map_err(|e| HashError::Argon2(e.to_string()));
    if let Ok(mut pool) = WORK_AREAS.lock() {
        pool.push(area);
    }
    result?;
    Ok(out)
}

fn hash_blocking(params: HashParams, password: &[u8]) -> Result<String, HashError> {
    let mut salt = [0u8; SALT_LEN];
    rand::rng().fill_bytes(&mut salt);
    let out = argon2_raw(params, password, &salt)?;
    Ok(format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        params.m_cost_kib,
        params.t_cost,
        params.p_cost,
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(out)
    ))
}

fn verify_blocking(current: HashParams, password: &[u8], stored: &str) -> PasswordVerdict {
    if crate::django::is_django(stored) {
        return verify_django(current, password, stored);
    }
    let Some(parsed) = ParsedHash::parse(stored) else {
        // Spend the time anyway: a broken hash must not answer faster.
        let _ = argon2_raw(current, password, &[0u8; SALT_LEN]);
        return PasswordVerdict::Mismatch;
    };
    let Ok(out) = argon2_raw(parsed.params, password, &parsed.salt) else {
        return PasswordVerdict::Mismatch;
    };
    if !constant_time_eq(&out, &parsed.hash) {
        PasswordVerdict::Mismatch
    } else if parsed.params != current || parsed.hash.len() != OUTPUT_LEN {
        PasswordVerdict::MatchNeedsRehash
    } else {
        PasswordVerdict::Match
    }
}

/// A hash imported from Django (authentik): always replaced by argon2id at
/// the first right password.
fn verify_django(current: HashParams, password: &[u8], stored: &str) -> PasswordVerdict {
    match crate::django::DjangoHash::parse(stored) {
        Ok(hash) if hash.verify(password) => PasswordVerdict::MatchNeedsRehash,
        Ok(_) => PasswordVerdict::Mismatch,
        Err(_) => {
            let _ = argon2_raw(current, password, &[0u8; SALT_LEN]);
            PasswordVerdict::Mismatch
        }
    }
}

/// Checks that `hash` is a password hash Gatehouse can verify: its own
/// argon2id PHC string, or one of Django's formats (see [`crate::django`]).
/// What an import (`set_password_hash`, blueprints) stores as given.
pub fn check_stored_hash(hash: &str) -> Result<(), crate::django::FormatError> {
    if crate::django::is_django(hash) {
        return crate::django::DjangoHash::parse(hash).map(|_| ());
    }
    if hash.starts_with("$argon2id$") {
        return ParsedHash::parse(hash)
            .map(|_| ())
            .ok_or_else(|| crate::django::FormatError("not a valid argon2id PHC string".into()));
    }
    let alg = hash.split('$').next().unwrap_or_default();
    Err(crate::django::FormatError(format!(
        "unsupported password hash format{}: expected Gatehouse's $argon2id$… or a Django hash ({})",
        if alg.is_empty() || alg.len() > 40 {
            String::new()
        } else {
            format!(" '{alg}'")
        },
        crate::django::ALGORITHMS.join(", ")
    )))
}

/// The parts of an argon2id PHC string.
struct ParsedHash {
    params: HashParams,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

impl ParsedHash {
    fn parse(phc: &str) -> Option<ParsedHash> {
        let mut parts = phc.split('$');
        let (empty, alg, version, params, salt, hash) = (
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
        );
        if !empty.is_empty() || alg != "argon2id" || version != "v=19" || parts.next().is_some() {
            return None;
        }
        let mut hp = HashParams {
            m_cost_kib: 0,
            t_cost: 0,
            p_cost: 0,
        };
        for kv in params.split(',') {
            let (k, v) = kv.split_once('=')?;
            let v: u32 = v.parse().ok()?;
            match k {
                "m" => hp.m_cost_kib = v,
                "t" => hp.t_cost = v,
                "p" => hp.p_cost = v,
                _ => return None,
            }
        }
        // Refuse absurd stored costs rather than allocate gigabytes on verify.
        if hp.m_cost_kib == 0 || hp.m_cost_kib > 1024 * 1024 || hp.t_cost == 0 || hp.t_cost > 64 {
            return None;
        }
        Some(ParsedHash {
            params: hp,
            salt: STANDARD_NO_PAD.decode(salt).ok()?,
            hash: STANDARD_NO_PAD.decode(hash).ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> HashParams {
        HashParams {
            m_cost_kib: 64,
            t_cost: 1,
            p_cost: 1,
        }
    }

    #[tokio::test]
    async fn hash_then_verify() {
        let h = PasswordHasher::new(cheap(), 2).unwrap();
        let phc = h.hash("correct horse").await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert_eq!(h.verify("correct horse", &phc).await.unwrap(), PasswordVerdict::Match);
        assert_eq!(h.verify("wrong horse", &phc).await.unwrap(), PasswordVerdict::Mismatch);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn at_most_concurrency_jobs_run_and_a_panic_keeps_the_threads() {
        let h = PasswordHasher::new(cheap(), 2).unwrap();
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let mut jobs = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let (h, running, most) = (h.clone(), running.clone(), most.clone());
            jobs.spawn(async move {
                h.run(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    running.fetch_sub(1, Ordering::SeqCst);
                })
                .await
            });
        }
        while let Some(done) = jobs.join_next().await {
            done.unwrap().unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 2);
        // A job that panics fails its caller; the threads stay and hash on.
        assert!(matches!(h.run(|| panic!("boom")).await, Err(HashError::Pool)));
        assert!(matches!(h.run(|| panic!("boom")).await, Err(HashError::Pool)));
        assert!(h.hash("still works").await.is_ok());
    }

    #[tokio::test]
    async fn older_parameters_ask_for_rehash() {
        let old = PasswordHasher::new(cheap(), 1).unwrap();
        let phc = old.hash("pw-123456").await.unwrap();
        let newer = PasswordHasher::new(
            HashParams {
                m_cost_kib: 128,
                ..cheap()
            },
            1,
        )
        .unwrap();
        assert_eq!(
            newer.verify("pw-123456", &phc).await.unwrap(),
            PasswordVerdict::MatchNeedsRehash
        );
    }

    #[tokio::test]
    async fn malformed_hashes_never_match() {
        let h = PasswordHasher::new(cheap(), 1).unwrap();
        for bad in [
            "",
            "plain",
            "$argon2i$v=19$m=64,t=1,p=1$AAAA$AAAA",
            "$argon2id$v=19$m=99999999,t=1,p=1$AAAAAAAA$AAAA",
        ] {
            assert_eq!(h.verify("x", bad).await.unwrap(), PasswordVerdict::Mismatch, "{bad}");
        }
    }

    #[test]
    fn same_salt_same_output_other_salt_differs() {
        // The raw hash is deterministic in (password, salt) and depends on the salt.
        let a = argon2_raw(cheap(), b"password", b"somesalt").unwrap();
        let b = argon2_raw(cheap(), b"password", b"somesalt").unwrap();
        let c = argon2_raw(cheap(), b"password", b"othersalt").unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
