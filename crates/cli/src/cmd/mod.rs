pub mod explain;
