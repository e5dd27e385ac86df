//! The archive format on its own: written, verified, read back, refused.

use std::io::Write;
use std::path::{Path, PathBuf};

use age::secrecy::SecretString;
use gatehouse_store::backup::{ColumnDef, Value, ValueKind};

use super::*;

fn header(encrypted: bool) -> Header {
    Header {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        schema_version: 12,
        created_at: "2026-12-06T00:00:00Z".into(),
        gatehouse_version: "test".into(),
        backend: "sqlite".into(),
        server_version: None,
        secret_key_fingerprint: None,
        encrypted,
    }
}

fn columns() -> Vec<ColumnDef> {
    vec![
        ColumnDef {
            name: "id".into(),
            kind: ValueKind::Integer,
        },
        ColumnDef {
            name: "name".into(),
            kind: ValueKind::Text,
        },
    ]
}

fn write(path: &Path, rows: i64, passphrase: Option<&str>) -> Finished {
    let file = std::fs::File::create(path).unwrap();
    let mut w = ArchiveWriter::new(
        Box::new(file),
        header(passphrase.is_some()),
        passphrase.map(|p| SecretString::from(p.to_string())),
    )
    .unwrap();
    w.begin_table("things", columns()).unwrap();
    let batch: Vec<Vec<Value>> = (0..rows)
        .map(|i| {
            vec![
                Value::Int(i),
                if i % 7 == 0 {
                    Value::Null
                } else {
                    Value::Text(format!("thing \"{i}\"\n"))
                },
            ]
        })
        .collect();
    w.rows(&batch).unwrap();
    w.begin_table("empty", columns()).unwrap();
    w.add_file(&format!("{BRANDING_DIR}logo.svg"), b"<svg/>").unwrap();
    w.finish().unwrap()
}

fn opts(passphrase: Option<&str>, deep: bool) -> ReadOptions {
    ReadOptions {
        passphrase: passphrase.map(|p| SecretString::from(p.to_string())),
        deep,
        known_schema: 12,
    }
}

/// A file path in a directory removed when the guard drops.
struct Temp(PathBuf);

impl Drop for Temp {
    fn drop(&mut self) {
        if let Some(dir) = self.0.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl AsRef<Path> for Temp {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl std::ops::Deref for Temp {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

fn temp(name: &str) -> Temp {
    let dir = std::env::temp_dir().join(format!("gh-archive-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    Temp(dir.join("b.tar"))
}

#[test]
fn written_rows_come_back_typed_and_counted() {
    let path = temp("round");
    let done = write(&path, 120_001, None);
    assert_eq!(done.manifest.table_rows()["things"], 120_001);
    assert_eq!(done.manifest.tables[0].parts.len(), 3, "parts of at most 50,000 rows");
    assert_eq!(done.bytes, std::fs::metadata(&path).unwrap().len());
    let v = verify(&path, &opts(None, true)).unwrap();
    assert_eq!(v.manifest, done.manifest);
    assert_eq!(v.branding, vec![("logo.svg".to_string(), b"<svg/>".to_vec())]);
    let mut seen = 0i64;
    for_each_part(&path, None, &v.manifest, |table, rows| {
        assert_eq!(table, "things");
        for row in rows {
            assert_eq!(row[0], Value::Int(seen));
            assert_eq!(row[1].is_null(), seen % 7 == 0);
            seen += 1;
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(seen, 120_001);
}

#[test]
fn any_damage_is_refused() {
    let path = temp("damage");
    write(&path, 1000, None);
    let good = std::fs::read(&path).unwrap();
    // Truncated anywhere before the end.
    for cut in [100, good.len() / 2, good.len() - 2048] {
        std::fs::write(&path, &good[..cut]).unwrap();
        let e = verify(&path, &opts(None, false)).err().unwrap();
        assert!(
            matches!(e, ArchiveError::Corrupt(_) | ArchiveError::Unsupported(_)),
            "{cut}: {e}"
        );
    }
    // A byte changed inside the first part's data (after the header member).
    let mut bad = good.clone();
    let at = good.windows(9).position(|w| w == b"00001.jso").unwrap() + 1024;
    bad[at] ^= 0xff;
    std::fs::write(&path, &bad).unwrap();
    assert!(matches!(
        verify(&path, &opts(None, false)),
        Err(ArchiveError::Corrupt(_))
    ));
}

#[test]
fn encryption_needs_the_passphrase() {
    let path = temp("enc");
    write(&path, 10, Some("correct horse"));
    let bytes = std::fs::read(&path).unwrap();
    assert!(bytes.starts_with(AGE_MAGIC));
    assert!(!bytes.windows(5).any(|w| w == b"thing"));
    assert!(matches!(
        verify(&path, &opts(None, false)),
        Err(ArchiveError::NeedsPassphrase)
    ));
    assert!(matches!(
        verify(&path, &opts(Some("wrong"), false)),
        Err(ArchiveError::WrongPassphrase)
    ));
    assert_eq!(
        verify(&path, &opts(Some("correct horse"), true))
            .unwrap()
            .manifest
            .table_rows()["things"],
        10
    );
}

#[test]
fn a_newer_schema_or_a_foreign_file_is_refused_by_name() {
    let path = temp("newer");
    write(&path, 1, None);
    let e = verify(
        &path,
        &ReadOptions {
            known_schema: 8,
            ..opts(None, false)
        },
    )
    .err()
    .unwrap();
    assert!(e.to_string().contains("newer than this binary knows (8)"), "{e}");
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(&[0u8; 4096]).unwrap();
    assert!(verify(&path, &opts(None, false)).is_err());
}
