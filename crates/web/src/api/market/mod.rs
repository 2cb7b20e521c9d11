//! Profiles and the marketplace records: enough to build any lifecycle scenario through the
//! API alone. Every record is visible only to its parties; others get 404. One file per area;
//! the handlers are re-exported here, so routes and the OpenAPI document name them as before.

mod contracts;
mod files;
mod hiring;
mod invoices;
mod messages;
mod payments;
mod profiles;

pub use contracts::*;
pub use files::*;
pub use hiring::*;
pub use invoices::*;
pub use messages::*;
pub use payments::*;
pub use profiles::*;
