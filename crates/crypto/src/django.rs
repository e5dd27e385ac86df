//! Password hashes in the formats Django (and so authentik) stores, so users
//! imported from authentik keep their passwords until their first sign-in,
//! when Gatehouse replaces the hash with its own argon2id.
//!
//! Formats (`django/contrib/auth/hashers.py`):
//! - `pbkdf2_sha256$<iterations>$<salt>$<base64 of PBKDF2-HMAC-SHA256, 32 bytes>`
//!   (and Django's older `pbkdf2_sha1$…`, 20 bytes)
//! - `argon2$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt b64>$<hash b64>`
//!   (argon2-cffi's PHC string behind the `argon2` prefix; `argon2i`/`argon2d` too)
//! - `bcrypt_sha256$$2b$<cost>$<salt+hash>`: bcrypt of the lower-case hex
//!   SHA-256 of the password; `bcrypt$$2b$…` is bcrypt of the password itself
//! - `scrypt$<N>$<salt>$<r>$<p>$<base64 of the 64-byte key>`
//!
//! The salt of PBKDF2 and scrypt is the salt *string*'s bytes, as Django uses it.
//! Stored costs are bounded so a crafted hash cannot tie up a core for minutes.

use std::num::NonZeroU32;

use argon2::{Algorithm, Argon2, Params, Version};
use aws_lc_rs::pbkdf2;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use sha2::{Digest, Sha256};

use crate::secret::constant_time_eq;

const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;
const MAX_BCRYPT_COST: u32 = 16;
const MAX_ARGON2_KIB: u32 = 1024 * 1024;
const MAX_ARGON2_PASSES: u32 = 64;
const MAX_SCRYPT_LOG_N: u8 = 20;

/// A Django hash, parsed (nothing computed yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DjangoHash {
    /// `sha1`: Django's older `pbkdf2_sha1`.
    Pbkdf2 {
        sha1: bool,
        iterations: NonZeroU32,
        salt: String,
        hash: Vec<u8>,
    },
    Argon2 {
        algorithm: Algorithm,
        version: Version,
        m_kib: u32,
        t: u32,
        p: u32,
        salt: Vec<u8>,
        hash: Vec<u8>,
    },
    /// `prehash`: the password is first replaced by its hex SHA-256 (`bcrypt_sha256`).
    Bcrypt { prehash: bool, bcrypt: String },
    Scrypt {
        salt: String,
        log_n: u8,
        r: u32,
        p: u32,
        hash: Vec<u8>,
    },
}

/// Why a string is not a usable Django hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FormatError(pub String);

fn bad(what: &str) -> FormatError {
    FormatError(what.to_string())
}

/// The Django algorithm names this module reads (the part before the first `$`).
pub const ALGORITHMS: &[&str] = &[
    "pbkdf2_sha256",
    "pbkdf2_sha1",
    "argon2",
    "bcrypt_sha256",
    "bcrypt",
    "scrypt",
];

/// Whether `stored` claims to be a Django hash (an algorithm name and `$`).
pub fn is_django(stored: &str) -> bool {
    stored.split_once('$').is_some_and(|(alg, _)| ALGORITHMS.contains(&alg))
}

impl DjangoHash {
    /// Parses a Django-format hash, checking every field and cost bound.
    pub fn parse(stored: &str) -> Result<DjangoHash, FormatError> {
        let (alg, rest) = stored
            .split_once('$')
            .ok_or_else(|| bad("not a Django hash (no algorithm prefix)"))?;
        match alg {
            "pbkdf2_sha256" => parse_pbkdf2(rest, false),
            "pbkdf2_sha1" => parse_pbkdf2(rest, true),
            "argon2" => parse_argon2(rest),
            "bcrypt_sha256" => parse_bcrypt(rest, true),
            "bcrypt" => parse_bcrypt(rest, false),
            "scrypt" => parse_scrypt(rest),
            other => Err(FormatError(format!(
                "unsupported hash algorithm '{other}' (supported: {})",
                ALGORITHMS.join(", ")
            ))),
        }
    }

    /// Whether `password` is the one this hash was made from (constant-time
    /// comparison of the derived bytes). Blocking: run it off the runtime.
    pub fn verify(&self, password: &[u8]) -> bool {
        match self {
            DjangoHash::Pbkdf2 {
                sha1,
                iterations,
                salt,
                hash,
            } => {
                // aws-lc's PBKDF2 (several times faster than a portable
                // SHA-256 at Django's million iterations); it compares in
                // constant time.
                let alg = if *sha1 {
                    pbkdf2::PBKDF2_HMAC_SHA1
                } else {
                    pbkdf2::PBKDF2_HMAC_SHA256
                };
                pbkdf2::verify(alg, *iterations, salt.as_bytes(), password, hash).is_ok()
            }
            DjangoHash::Argon2 {
                algorithm,
                version,
                m_kib,
                t,
                p,
                salt,
                hash,
            } => {
                let Ok(params) = Params::new(*m_kib, *t, *p, Some(hash.len())) else {
                    return false;
                };
                let mut out = vec![0u8; hash.len()];
                Argon2::new(*algorithm, *version, params)
                    .hash_password_into(password, salt, &mut out)
                    .is_ok()
                    && constant_time_eq(&out, hash)
            }
            DjangoHash::Bcrypt { prehash, bcrypt } => {
                let input = if *prehash {
                    hex::encode(Sha256::digest(password)).into_bytes()
                } else {
                    password.to_vec()
                };
                // bcrypt compares in constant time (subtle) itself.
                bcrypt::verify(input, bcrypt).unwrap_or(false)
            }
            DjangoHash::Scrypt {
                salt,
                log_n,
                r,
                p,
                hash,
            } => {
                let Ok(params) = scrypt::Params::new(*log_n, *r, *p, hash.len()) else {
                    return false;
                };
                let mut out = vec![0u8; hash.len()];
                scrypt::scrypt(password, salt.as_bytes(), &params, &mut out).is_ok() && constant_time_eq(&out, hash)
            }
        }
    }
}

fn number<T: std::str::FromStr>(s: &str, what: &str) -> Result<T, FormatError> {
    s.parse().map_err(|_| FormatError(format!("{what} is not a number")))
}

fn salt_text(s: &str) -> Result<String, FormatError> {
    if s.is_empty() || s.len() > 256 || s.contains(|c: char| c.is_control()) {
        return Err(bad("the salt is empty, too long or not printable"));
    }
    Ok(s.to_string())
}

fn digest(s: &str, min_len: usize) -> Result<Vec<u8>, FormatError> {
    let bytes = STANDARD
        .decode(s)
        .or_else(|_| STANDARD_NO_PAD.decode(s))
        .map_err(|_| bad("the hash part is not base64"))?;
    if bytes.len() < min_len || bytes.len() > 256 {
        return Err(FormatError(format!("the hash part has {} bytes", bytes.len())));
    }
    Ok(bytes)
}

fn parse_pbkdf2(rest: &str, sha1: bool) -> Result<DjangoHash, FormatError> {
    let parts: Vec<&str> = rest.split('$').collect();
    let [iterations, salt, hash] = parts[..] else {
        return Err(bad("pbkdf2 wants pbkdf2_sha256$<iterations>$<salt>$<hash>"));
    };
    let iterations: u32 = number(iterations, "the iteration count")?;
    let iterations = NonZeroU32::new(iterations)
        .filter(|n| n.get() <= MAX_PBKDF2_ITERATIONS)
        .ok_or_else(|| bad("the iteration count is out of range"))?;
    Ok(DjangoHash::Pbkdf2 {
        sha1,
        iterations,
        salt: salt_text(salt)?,
        hash: digest(hash, 16)?,
    })
}

fn parse_argon2(rest: &str) -> Result<DjangoHash, FormatError> {
    let parts: Vec<&str> = rest.split('$').collect();
    let [variant, version, params, salt, hash] = parts[..] else {
        return Err(bad("argon2 wants argon2$argon2id$v=19$m=…,t=…,p=…$<salt>$<hash>"));
    };
    let algorithm = match variant {
        "argon2id" => Algorithm::Argon2id,
        "argon2i" => Algorithm::Argon2i,
        "argon2d" => Algorithm::Argon2d,
        _ => return Err(FormatError(format!("unknown argon2 variant '{variant}'"))),
    };
    let version = match version {
        "v=19" => Version::V0x13,
        "v=16" => Version::V0x10,
        _ => return Err(FormatError(format!("unknown argon2 version '{version}'"))),
    };
    let (mut m_kib, mut t, mut p) = (0u32, 0u32, 0u32);
    for kv in params.split(',') {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| bad("argon2 parameters are m=…,t=…,p=…"))?;
        let v: u32 = number(v, "an argon2 parameter")?;
        match k {
            "m" => m_kib = v,
            "t" => t = v,
            "p" => p = v,
            _ => return Err(FormatError(format!("unknown argon2 parameter '{k}'"))),
        }
    }
    if !(8..=MAX_ARGON2_KIB).contains(&m_kib) || !(1..=MAX_ARGON2_PASSES).contains(&t) || !(1..=64).contains(&p) {
        return Err(bad("argon2 parameters are out of range"));
    }
    let salt = STANDARD_NO_PAD
        .decode(salt)
        .map_err(|_| bad("the argon2 salt is not base64"))?;
    if salt.len() < 8 {
        return Err(bad("the argon2 salt is too short"));
    }
    Ok(DjangoHash::Argon2 {
        algorithm,
        version,
        m_kib,
        t,
        p,
        salt,
        hash: digest(hash, 16)?,
    })
}

fn parse_bcrypt(rest: &str, prehash: bool) -> Result<DjangoHash, FormatError> {
    // Django keeps the bcrypt string whole after `<alg>$`, so the rest starts with `$2`.
    let bcrypt = rest;
    let parts: Vec<&str> = bcrypt.split('$').collect();
    let ["", prefix, cost, salt_hash] = parts[..] else {
        return Err(bad("bcrypt wants bcrypt_sha256$$2b$<cost>$<53 characters>"));
    };
    if !matches!(prefix, "2a" | "2b" | "2y") || salt_hash.len() != 53 {
        return Err(bad("not a bcrypt hash ($2b$<cost>$ and 53 characters)"));
    }
    let cost: u32 = number(cost, "the bcrypt cost")?;
    if !(4..=MAX_BCRYPT_COST).contains(&cost) {
        return Err(bad("the bcrypt cost is out of range"));
    }
    Ok(DjangoHash::Bcrypt {
        prehash,
        bcrypt: bcrypt.to_string(),
    })
}

fn parse_scrypt(rest: &str) -> Result<DjangoHash, FormatError> {
    let parts: Vec<&str> = rest.split('$').collect();
    let [n, salt, r, p, hash] = parts[..] else {
        return Err(bad("scrypt wants scrypt$<N>$<salt>$<r>$<p>$<hash>"));
    };
    let n: u64 = number(n, "scrypt's N")?;
    if n < 2 || !n.is_power_of_two() {
        return Err(bad("scrypt's N must be a power of two"));
    }
    let log_n = n.trailing_zeros() as u8;
    let r: u32 = number(r, "scrypt's r")?;
    let p: u32 = number(p, "scrypt's p")?;
    if log_n > MAX_SCRYPT_LOG_N || !(1..=32).contains(&r) || !(1..=16).contains(&p) {
        return Err(bad("scrypt parameters are out of range"));
    }
    Ok(DjangoHash::Scrypt {
        salt: salt_text(salt)?,
        log_n,
        r,
        p,
        hash: digest(hash, 16)?,
    })
}

#[cfg(test)]
#[path = "django_tests.rs"]
mod tests;
