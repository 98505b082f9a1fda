pub mod explain;
pub mod probe;
pub mod scan;
pub mod serve;
