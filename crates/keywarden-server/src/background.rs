//! Work the domain hands off the response path (a failed sign-in's audit row), run on the
//! async runtime with its failure logged.

use keywarden_core::service::sign_in::{Background, Task};

/// Runs tasks on the current tokio runtime.
#[derive(Debug, Clone, Copy, Default)]
pub struct OnRuntime;

impl Background for OnRuntime {
    fn start(&self, task: Task) {
        tokio::spawn(async move {
            if let Err(e) = task.await {
                tracing::warn!(error = %e, "cannot record a failed sign-in");
            }
        });
    }
}
