//! SQL, and nothing else: repository functions that take a connection (or a
//! transaction) and return plain rows. Handlers decide; these only read and write.

pub mod calls;
pub mod directory;
pub mod fixtures;
pub mod inspection;
mod pool;
pub mod retention;
pub mod tenants;

pub use pool::{
    MIGRATOR, connect, connect_with, create_migrated_database, is_ready, parse_url, with_statement_timeout,
};
