//! How a command fails: one line on stderr and an exit status that tells scripts
//! whether they asked for something wrong (2) or the system failed (1).

use std::fmt;

use crate::config::ConfigError;

#[derive(Debug)]
pub enum Failure {
    /// Bad input or an unknown name; nothing was changed. Exit 2.
    Input(String),
    /// The system failed (database, I/O, server). Exit 1.
    Runtime(String),
}

impl Failure {
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Input(_) => 2,
            Failure::Runtime(_) => 1,
        }
    }

    pub fn input(msg: impl Into<String>) -> Self {
        Failure::Input(msg.into())
    }

    pub fn runtime(msg: impl Into<String>) -> Self {
        Failure::Runtime(msg.into())
    }

    /// The same failure with a note after its message ("…: nothing was restored").
    pub fn context(self, note: &str) -> Self {
        match self {
            Failure::Input(m) => Failure::Input(format!("{m}; {note}")),
            Failure::Runtime(m) => Failure::Runtime(format!("{m}; {note}")),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Input(m) | Failure::Runtime(m) => f.write_str(m),
        }
    }
}

impl From<gatehouse_core::Error> for Failure {
    fn from(e: gatehouse_core::Error) -> Self {
        if e.is_caller_error() {
            Failure::Input(e.to_string())
        } else {
            Failure::Runtime(e.to_string())
        }
    }
}

impl From<gatehouse_core::StoreError> for Failure {
    fn from(e: gatehouse_core::StoreError) -> Self {
        gatehouse_core::Error::from(e).into()
    }
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Self {
        Failure::Input(e.to_string())
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::Runtime(e.to_string())
    }
}

pub type CmdResult<T = ()> = Result<T, Failure>;
