//! The optional change feed (`vdr:changes@0.1.0`): what changed in a
//! collection since a token, so an incremental backup reads only that.
//!
//! A token is opaque to the host. It must never be accepted for another
//! collection, another incarnation of the same name, or a history that was
//! rewritten since it was issued: `open_changes` answers `None` then, and
//! the host falls back to a full export.

use std::cell::RefCell;
use std::marker::PhantomData;

use crate::bindings::changes::exports::vdr::changes::changes as wit;
use crate::database::DatabasePlugin;
use crate::state;
use crate::{Error, Result};

pub use wit::Change;

/// A database plugin that can report its changes since a token.
pub trait ChangeFeed: DatabasePlugin {
    /// The collection's current position (`None`: it keeps no feed). The
    /// host calls it before a full export, so a change made in between is
    /// reported again later rather than lost.
    fn current_token(&mut self, collection: &str) -> Result<Option<String>>;

    /// The changes since `since`, or `None` when the token no longer applies.
    fn open_changes(
        &mut self,
        collection: &str,
        since: &str,
    ) -> Result<Option<Box<dyn ChangeCursor>>>;
}

/// The changes between a token and the collection's state when the cursor
/// was opened: each changed id once, as it is at `end_token`.
pub trait ChangeCursor: 'static {
    /// Up to `max` changes; an empty batch ends the feed.
    fn next_batch(&mut self, max: u32) -> Result<Vec<Change>>;
    /// Where the feed ends: the next incremental starts here.
    fn end_token(&self) -> String;
    /// Points in the collection at `end_token`.
    fn count(&self) -> u64;
}

#[doc(hidden)]
pub struct ChangesAdapter<T>(PhantomData<T>);

impl<T: ChangeFeed> wit::Guest for ChangesAdapter<T> {
    type ChangeCursor = CursorResource;

    fn current_token(collection: String) -> Result<Option<String>> {
        state::with_plugin(|p: &mut T| p.current_token(&collection))
    }

    fn open_changes(collection: String, since: String) -> Result<Option<wit::ChangeCursor>> {
        let cursor = state::with_plugin(|p: &mut T| p.open_changes(&collection, &since))?;
        Ok(cursor.map(|c| wit::ChangeCursor::new(CursorResource(RefCell::new(c)))))
    }
}

#[doc(hidden)]
pub struct CursorResource(RefCell<Box<dyn ChangeCursor>>);

impl wit::GuestChangeCursor for CursorResource {
    fn next_batch(&self, max: u32) -> Result<Vec<Change>> {
        let mut cursor = self
            .0
            .try_borrow_mut()
            .map_err(|_| Error::Internal("change cursor re-entered".into()))?;
        cursor.next_batch(max)
    }

    fn end_token(&self) -> String {
        self.0.borrow().end_token()
    }

    fn count(&self) -> u64 {
        self.0.borrow().count()
    }
}
