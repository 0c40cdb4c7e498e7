//! The configured plugin instance. WIT exports are free functions, so the
//! value built by `configure` lives here between calls. A component is
//! single-threaded and holds exactly one plugin, so one slot is enough.

use std::any::Any;
use std::cell::RefCell;

use crate::{Error, Result};

/// The manifest text compiled into the component (implemented by the export
/// macros, which `include_str!` the plugin's manifest file).
pub trait Manifest {
    const TEXT: &'static str;
}

thread_local! {
    static PLUGIN: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

/// Keep the configured plugin (replacing any earlier configuration).
pub(crate) fn install<T: 'static>(plugin: T) {
    PLUGIN.with(|slot| *slot.borrow_mut() = Some(Box::new(plugin)));
}

/// Run `f` on the configured plugin, or fail if `configure` has not succeeded.
pub(crate) fn with_plugin<T: 'static, R>(f: impl FnOnce(&mut T) -> Result<R>) -> Result<R> {
    PLUGIN.with(|slot| {
        let mut slot = slot.try_borrow_mut().map_err(|_| {
            Error::Internal("plugin re-entered while a call was in progress".into())
        })?;
        match slot.as_mut().and_then(|b| b.downcast_mut::<T>()) {
            Some(plugin) => f(plugin),
            None => Err(Error::InvalidInput("plugin not configured".into())),
        }
    })
}
