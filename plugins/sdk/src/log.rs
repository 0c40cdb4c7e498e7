//! Log lines through the host (tagged with the plugin's name there). Never
//! log secrets.

use crate::bindings::storage::vdr::plugin::host::{self, Level};

pub fn trace(message: impl AsRef<str>) {
    host::log(Level::Trace, message.as_ref());
}

pub fn debug(message: impl AsRef<str>) {
    host::log(Level::Debug, message.as_ref());
}

pub fn info(message: impl AsRef<str>) {
    host::log(Level::Info, message.as_ref());
}

pub fn warn(message: impl AsRef<str>) {
    host::log(Level::Warn, message.as_ref());
}

pub fn error(message: impl AsRef<str>) {
    host::log(Level::Error, message.as_ref());
}
