//! [`Tx`]: one change of the directory, with the one who asked and the time,
//! written with its audit events and committed together (or not at all).
//!
//! Every single-object write (create a user, add a member, bind a group…) is a
//! function over an open `Tx` in its domain's module (`users::insert`,
//! `groups::add_member`…). A service opens a `Tx`, calls one of them and
//! commits; blueprint apply opens one `Tx` and calls many. So the checks and
//! the event shape of a change are written once, whoever asks.

use serde_json::Value;

use crate::audit::Audit;
use crate::clock::Timestamp;
use crate::context::Context;
use crate::error::Result;
use crate::model::Event;
use crate::store::WriteTx;

pub struct Tx<'a> {
    ctx: &'a Context,
    raw: Box<dyn WriteTx>,
    audit: Audit,
    now: Timestamp,
    /// Whether anything but sign-ins was written (see `cache`): set by any
    /// event that is not sign-in noise, and by a change with no event at all.
    moves_directory: bool,
    events: u32,
}

impl Context {
    /// Opens a change on behalf of `audit`.
    pub async fn write(&self, audit: &Audit) -> Result<Tx<'_>> {
        Ok(Tx {
            ctx: self,
            raw: self.begin().await?,
            audit: audit.clone(),
            now: self.now(),
            moves_directory: false,
            events: 0,
        })
    }
}

impl<'a> Tx<'a> {
    /// Makes every change of this transaction durable, with its events.
    /// Caches in this process drop what they hold at once (other nodes learn
    /// of it from the change feed).
    pub async fn commit(self) -> Result<()> {
        self.raw.commit().await?;
        self.ctx.feed().bump(self.moves_directory || self.events == 0);
        Ok(())
    }

    /// The moment of this change (one time for all its writes and events).
    pub fn now(&self) -> Timestamp {
        self.now
    }

    pub fn audit(&self) -> &Audit {
        &self.audit
    }

    pub(crate) fn ctx(&self) -> &'a Context {
        self.ctx
    }

    /// The storage transaction (core only: writes go through the domain functions).
    pub(crate) fn raw(&mut self) -> &mut dyn WriteTx {
        &mut *self.raw
    }

    /// Appends an audit event for this change.
    pub async fn record(&mut self, action: &str, user: Option<&str>, context: Value) -> Result<Event> {
        self.events += 1;
        self.moves_directory |= !crate::events::is_sign_in_noise(action);
        let event = self.audit.event(action, user, context);
        Ok(self.raw.append_event(event, self.now).await?)
    }
}
