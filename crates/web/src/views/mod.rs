//! One module per page (or step), each with `<page>_get` / `<page>_post`.

pub mod account;
pub mod login;
pub mod logout;
pub mod portal;
pub mod recovery;
