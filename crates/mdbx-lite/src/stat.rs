//! placeholder
pub struct EnvStat;
