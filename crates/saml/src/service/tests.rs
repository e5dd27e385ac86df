//! Service tests (filled below).
