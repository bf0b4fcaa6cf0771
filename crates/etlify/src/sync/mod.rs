//! Syncing and deleting records: the per-record synchronizer, the deleter,
//! and the rules they share (eligibility, sync dependencies).

mod batch;
mod deleter;
mod dependencies;
mod guard;
mod synchronizer;

pub use self::batch::BatchSynchronizer;
pub use self::deleter::Deleter;
pub use self::synchronizer::Synchronizer;
