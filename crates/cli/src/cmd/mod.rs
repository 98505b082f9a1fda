pub mod credentials;
pub mod explain;
pub mod host;
pub mod logs;
pub mod probe;
pub mod rdpfile;
pub mod scan;
pub mod serve;
