//! A TCP proxy for tests that need a connection cut: it listens on a free 127.0.0.1 port,
//! forwards every connection to a target address, and [`TcpProxy::cut`] drops every
//! connection open at that moment (new ones are accepted as before), as a network blip
//! between two clusters would.
//!
//! Deliberately not here: delays, partial writes or any other fault.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Result;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A running proxy; dropping it stops it and its connections.
pub struct TcpProxy {
    addr: SocketAddr,
    accept: JoinHandle<()>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl TcpProxy {
    /// Starts a proxy to `target`.
    pub async fn start(target: SocketAddr) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let conns: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let tracked = conns.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                let mut list = tracked.lock().unwrap_or_else(PoisonError::into_inner);
                list.retain(|h| !h.is_finished());
                list.push(task);
            }
        });
        Ok(Self {
            addr,
            accept,
            conns,
        })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Drops every open connection; answers how many there were.
    pub fn cut(&self) -> usize {
        let list: Vec<JoinHandle<()>> =
            std::mem::take(&mut *self.conns.lock().unwrap_or_else(PoisonError::into_inner));
        let open = list.iter().filter(|h| !h.is_finished()).count();
        for h in list {
            h.abort();
        }
        open
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.accept.abort();
        for h in self
            .conns
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            h.abort();
        }
    }
}
