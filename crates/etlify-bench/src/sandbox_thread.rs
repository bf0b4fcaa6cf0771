//! The sandbox on a runtime of its own (one worker thread), as a remote
//! server would not share the engine's threads.

use etlify_sandbox::{RunningSandbox, Sandbox, SandboxConfig};

/// A started sandbox and the thread whose runtime serves it.
#[derive(Debug)]
pub struct SandboxThread {
    pub sandbox: RunningSandbox,
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl SandboxThread {
    /// Starts the sandbox with `config` on a thread of its own.
    pub async fn start(config: SandboxConfig) -> Result<Self, Box<dyn std::error::Error>> {
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("sandbox".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        let _ = started_tx.send(Err(error.to_string()));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let started = Sandbox::start(config).await.map_err(|e| e.to_string());
                    let _ = started_tx.send(started);
                    // Serves until told to stop (after the shutdown).
                    let _ = stopped.await;
                });
            })?;
        let sandbox = started_rx
            .await
            .map_err(|_| "the sandbox thread ended before starting")??;
        Ok(Self {
            sandbox,
            stop,
            thread,
        })
    }

    /// Shuts the sandbox down, then ends its thread.
    pub async fn shutdown(self) -> Result<(), Box<dyn std::error::Error>> {
        self.sandbox.shutdown().await?;
        let _ = self.stop.send(());
        tokio::task::spawn_blocking(move || self.thread.join())
            .await?
            .map_err(|_| "the sandbox thread panicked")?;
        Ok(())
    }
}
