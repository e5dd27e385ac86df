//! RFC 6238 time-based one-time passwords (HMAC-SHA-1, 6 digits, 30 s steps, the
//! parameters every authenticator app understands), and RFC 4648 base32 for
//! the secret people type or scan.

use aws_lc_rs::hmac;

/// Seconds per step.
pub const STEP_SECS: i64 = 30;
/// Digits per code.
pub const DIGITS: u32 = 6;
/// Steps accepted either side of now (clock drift, slow typing).
pub const SKEW_STEPS: i64 = 1;
/// Bytes of a new secret (160 bits, RFC 4226's recommendation).
pub const SECRET_BYTES: usize = 20;

/// The step a Unix time (seconds) falls in.
pub fn step_at(unix_secs: i64) -> i64 {
    unix_secs.div_euclid(STEP_SECS)
}

/// The code for `secret` at `step` (RFC 4226 HOTP with the step as counter).
pub fn code_at_step(secret: &[u8], step: i64) -> u32 {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let tag = hmac::sign(&key, &(step as u64).to_be_bytes());
    let mac = tag.as_ref();
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let bin = (u32::from(mac[offset] & 0x7f) << 24)
        | (u32::from(mac[offset + 1]) << 16)
        | (u32::from(mac[offset + 2]) << 8)
        | u32::from(mac[offset + 3]);
    bin % 10u32.pow(DIGITS)
}

/// The code as people see it: zero-padded.
pub fn format_code(code: u32) -> String {
    format!("{code:0width$}", width = DIGITS as usize)
}

/// Normalises what a person typed (spaces and dashes are common); `None` when
/// it cannot be a code.
pub fn parse_code(input: &str) -> Option<u32> {
    let digits: String = input.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
    if digits.len() != DIGITS as usize || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The step `code` is valid in, within ±[`SKEW_STEPS`] of `now_step`, and only if
/// that step is later than `last_used_step` (a code is good once). Every
/// candidate is compared, in constant time, so timing shows nothing.
pub fn verify(secret: &[u8], code: u32, now_step: i64, last_used_step: Option<i64>) -> Option<i64> {
    let mut found = None;
    let wanted = format_code(code);
    for step in (now_step - SKEW_STEPS)..=(now_step + SKEW_STEPS) {
        let candidate = format_code(code_at_step(secret, step));
        let same = gatehouse_crypto::constant_time_eq(candidate.as_bytes(), wanted.as_bytes());
        if same && last_used_step.is_none_or(|last| step > last) && found.is_none() {
            found = Some(step);
        }
    }
    found
}

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding (what `otpauth://` URIs carry).
pub fn base32_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &b in data {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Decodes base32, ignoring case, spaces and padding; `None` on a bad character.
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for c in text.chars().filter(|c| !c.is_whitespace() && *c != '=') {
        let v = ALPHABET.iter().position(|&a| a as char == c.to_ascii_uppercase())? as u32;
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

/// The `otpauth://totp/…` URI authenticator apps scan.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let enc = |s: &str| {
        let mut o = String::new();
        for b in s.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => o.push(b as char),
                _ => o.push_str(&format!("%{b:02X}")),
            }
        }
        o
    };
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        enc(issuer),
        enc(account),
        base32_encode(secret),
        enc(issuer)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc6238_sha1_vectors() {
        // RFC 6238 appendix B (SHA-1), last six of the eight digits.
        for (t, expected) in [
            (59i64, 94287082u32),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
            (20000000000, 65353130),
        ] {
            assert_eq!(code_at_step(RFC_SECRET, step_at(t)), expected % 1_000_000, "t={t}");
        }
    }

    #[test]
    fn accepts_one_step_either_side_and_no_more() {
        let now = step_at(1_700_000_000);
        for delta in [-1, 0, 1] {
            let code = code_at_step(RFC_SECRET, now + delta);
            assert_eq!(verify(RFC_SECRET, code, now, None), Some(now + delta));
        }
        for delta in [-2, 2] {
            let code = code_at_step(RFC_SECRET, now + delta);
            assert_eq!(verify(RFC_SECRET, code, now, None), None);
        }
    }

    #[test]
    fn a_code_is_good_once() {
        let now = step_at(1_700_000_000);
        let code = code_at_step(RFC_SECRET, now);
        let used = verify(RFC_SECRET, code, now, None).unwrap();
        assert_eq!(verify(RFC_SECRET, code, now, Some(used)), None);
        // Nor may an older step's code be used after a newer one.
        let older = code_at_step(RFC_SECRET, now - 1);
        assert_eq!(verify(RFC_SECRET, older, now, Some(used)), None);
        // The next step's code is still fine.
        let next = code_at_step(RFC_SECRET, now + 1);
        assert_eq!(verify(RFC_SECRET, next, now, Some(used)), Some(now + 1));
    }

    #[test]
    fn base32_round_trip_and_rfc4648_vectors() {
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32_encode(b"f"), "MY");
        assert_eq!(base32_decode("mzxw 6ytb oi======").unwrap(), b"foobar");
        assert_eq!(base32_decode("MZ1"), None);
        let secret: Vec<u8> = (0u8..20).collect();
        assert_eq!(base32_decode(&base32_encode(&secret)).unwrap(), secret);
    }

    #[test]
    fn parses_typed_codes() {
        assert_eq!(parse_code(" 123 456 "), Some(123456));
        assert_eq!(parse_code("012345"), Some(12345));
        assert_eq!(parse_code("12345"), None);
        assert_eq!(parse_code("12345a"), None);
        assert_eq!(format_code(12345), "012345");
    }

    #[test]
    fn otpauth_uri_names_issuer_and_account() {
        let uri = otpauth_uri("Example Stack", "alice", b"foobar");
        assert!(uri.starts_with("otpauth://totp/Example%20Stack:alice?secret=MZXW6YTBOI&issuer=Example%20Stack"));
    }
}
