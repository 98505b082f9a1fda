pub mod explain;
pub mod probe;
