pub mod explain;
pub mod logs;
pub mod probe;
pub mod rdpfile;
pub mod scan;
pub mod serve;
