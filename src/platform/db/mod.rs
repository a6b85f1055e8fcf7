//! The database itself: the pool, its connection settings and the migrations.
//! Each surface keeps its own SQL in its own storage module.

mod pool;

pub use pool::{
    MIGRATOR, connect, connect_with, create_migrated_database, is_ready, parse_url, with_statement_timeout,
};
