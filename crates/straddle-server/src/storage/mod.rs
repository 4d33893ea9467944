//! Storage behind one seam: the database handle, the portable query
//! interface over both drivers, and column encodings.

pub mod db;
pub mod pool;
pub mod query;
pub mod search;
pub mod sql;
