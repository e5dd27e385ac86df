//! Test only: `GATEHOUSE_TEST_CLOCK_FILE` makes the server's clock the system
//! clock plus an offset in seconds read from that file (re-read at most every
//! 100 ms), so black-box tests can expire codes and tokens without waiting.
//! Never set in production: `gatehouse settings` lists it as test-only.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use gatehouse_core::clock::OffsetClock;
use gatehouse_core::{Clock, Timestamp};

const REREAD: Duration = Duration::from_millis(100);

#[derive(Debug)]
pub struct FileOffsetClock {
    path: PathBuf,
    clock: OffsetClock,
    last_read: Mutex<Option<Instant>>,
}

impl FileOffsetClock {
    pub fn new(path: PathBuf) -> Self {
        let c = FileOffsetClock {
            path,
            clock: OffsetClock::new(0),
            last_read: Mutex::new(None),
        };
        c.refresh();
        c
    }

    fn refresh(&self) {
        let Ok(mut last) = self.last_read.lock() else { return };
        if last.is_some_and(|t| t.elapsed() < REREAD) {
            return;
        }
        *last = Some(Instant::now());
        let secs = std::fs::read_to_string(&self.path)
            .ok()
            .and_then(|t| t.trim().parse::<f64>().ok())
            .unwrap_or(0.0);
        self.clock.set_offset_ms((secs * 1000.0) as i64);
    }
}

impl Clock for FileOffsetClock {
    fn now(&self) -> Timestamp {
        self.refresh();
        self.clock.now()
    }
}
