//! Raw statements for the store's own tests (crates/store/tests), which check the schema and
//! the migrations and may therefore write SQL. Every other crate's tests go through the named
//! queries of this module's parent; the layout test fails on SQL text outside crates/store.

use crate::db::{Arg, Row, Tx};
use crate::error::StoreResult;

/// [`Tx`]'s query methods, for the store's own tests only.
#[allow(async_fn_in_trait)]
pub trait RawSql {
    /// Executes a statement; the number of rows it changed.
    async fn raw_exec(&mut self, sql: &'static str, args: Vec<Arg>) -> StoreResult<u64>;
    /// Every row a query returns.
    async fn raw_all<R: Row>(&mut self, sql: &'static str, args: Vec<Arg>) -> StoreResult<Vec<R>>;
    /// The one row a query returns.
    async fn raw_one<R: Row>(&mut self, sql: &'static str, args: Vec<Arg>) -> StoreResult<R>;
}

impl RawSql for Tx {
    async fn raw_exec(&mut self, sql: &'static str, args: Vec<Arg>) -> StoreResult<u64> {
        self.exec(sql, args).await
    }
    async fn raw_all<R: Row>(&mut self, sql: &'static str, args: Vec<Arg>) -> StoreResult<Vec<R>> {
        self.all(sql, args).await
    }
    async fn raw_one<R: Row>(&mut self, sql: &'static str, args: Vec<Arg>) -> StoreResult<R> {
        self.one(sql, args).await
    }
}
