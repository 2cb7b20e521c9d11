//! The marketplace records the lifecycle rules depend on: job posts, proposals, contracts,
//! milestones, payments, balances, payouts, invoices, disputes, threads, messages, work
//! submissions, files and reviews. These are shared records (both parties keep them), so
//! they are stored in clear; the person behind them is replaced by a pseudonym on erasure.

use crate::error::{StoreError, StoreResult};
use hiatus_domain::*;
use std::str::FromStr;

fn id<T: FromStr>(s: &str) -> StoreResult<T> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("id {s}")))
}
fn opt_id<T: FromStr>(s: &Option<String>) -> StoreResult<Option<T>> {
    s.as_deref().map(id).transpose()
}
fn money(minor: i64, cur: &str) -> StoreResult<Money> {
    Ok(Money {
        minor,
        currency: Currency::parse(cur)
            .map_err(|_| StoreError::Corrupt(format!("currency {cur}")))?,
    })
}
macro_rules! status {
    ($t:ty, $s:expr) => {
        <$t>::parse(&$s).ok_or_else(|| {
            $crate::error::StoreError::Corrupt(format!("{} {}", stringify!($t), $s))
        })?
    };
}

mod balances;
mod contracts;
mod files;
mod hiring;
mod invoices;
mod messages;
mod payments;
mod people;
mod reviews;

pub use balances::*;
pub use contracts::*;
pub use files::*;
pub use hiring::*;
pub use invoices::*;
pub use messages::*;
pub use payments::*;
pub use people::*;
pub use reviews::*;
