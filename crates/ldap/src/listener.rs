//! Sockets: the LDAP (with StartTLS) and LDAPS listeners, framing through
//! `ldap3_proto`'s codec, and the bounds every connection lives within
//! (message size, messages per connection, concurrent connections, idle
//! time). A message the codec cannot read ends the connection with a notice
//! of disconnection (protocolError), never a panic.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use ldap3_proto::LdapCodec;
use ldap3_proto::proto::{LdapMsg, LdapResultCode};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;
use tokio_util::codec::Framed;

use crate::session::{Next, Reply, Session, Shared, disconnection};

/// Bounds on connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Largest request, in bytes, of its BER encoding.
    pub max_message_bytes: usize,
    /// Requests one connection may send before it is closed.
    pub max_messages: u64,
    /// Open connections per listener set; past it new ones are closed at once.
    pub max_connections: usize,
    /// A connection silent this long is closed.
    pub idle_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_message_bytes: 64 * 1024,
            max_messages: 100_000,
            max_connections: 1024,
            idle_timeout: Duration::from_secs(600),
        }
    }
}

const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

type Conn = Framed<Box<dyn Stream>, LdapCodec>;

/// Everything the listeners share.
pub struct Server {
    pub shared: Shared,
    pub limits: ConnectionLimits,
    pub tls: Option<TlsAcceptor>,
    connections: Arc<Semaphore>,
}

impl Server {
    pub fn new(shared: Shared, limits: ConnectionLimits, tls: Option<TlsAcceptor>) -> Arc<Server> {
        Arc::new(Server {
            connections: Arc::new(Semaphore::new(limits.max_connections)),
            shared,
            limits,
            tls,
        })
    }

    fn codec(&self) -> LdapCodec {
        LdapCodec::new(Some(self.limits.max_message_bytes), None)
    }
}

/// Accepts connections until `shutdown` turns true. `implicit_tls`: LDAPS.
pub async fn serve(listener: TcpListener, server: Arc<Server>, implicit_tls: bool, mut shutdown: watch::Receiver<bool>) {
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off, then go on.
                    tracing::warn!(error = %e, "LDAP accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let Ok(permit) = server.connections.clone().try_acquire_owned() else {
            metrics::counter!("gatehouse_ldap_connections_refused_total").increment(1);
            tokio::spawn(refuse(stream, server.clone()));
            continue;
        };
        let server = server.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let _ = stream.set_nodelay(true);
            if let Err(e) = connection(stream, peer, server, implicit_tls, shutdown).await {
                tracing::debug!(%peer, error = %e, "LDAP connection ended");
            }
        });
    }
}

/// Tells a client over the connection limit why it is turned away.
async fn refuse(stream: TcpStream, server: Arc<Server>) {
    let mut conn = Framed::new(Box::new(stream) as Box<dyn Stream>, server.codec());
    let _ = tokio::time::timeout(
        Duration::from_secs(1),
        conn.send(disconnection(LdapResultCode::Busy, "too many connections")),
    )
    .await;
}

async fn tls_accept(acceptor: &TlsAcceptor, io: Box<dyn Stream>) -> io::Result<Box<dyn Stream>> {
    let tls = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(io))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))??;
    Ok(Box::new(tls))
}

async fn send(conn: &mut Conn, messages: Vec<LdapMsg>) -> io::Result<()> {
    for m in messages {
        conn.feed(m).await?;
    }
    conn.flush().await
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    server: Arc<Server>,
    implicit_tls: bool,
    mut shutdown: watch::Receiver<bool>,
) -> io::Result<()> {
    let mut io: Box<dyn Stream> = Box::new(stream);
    if implicit_tls {
        let acceptor = server
            .tls
            .as_ref()
            .ok_or_else(|| io::Error::other("LDAPS without a certificate"))?;
        io = tls_accept(acceptor, io).await?;
    }
    let mut conn = Framed::new(io, server.codec());
    let mut session = Session::new(Some(peer.ip()), implicit_tls);
    let mut count: u64 = 0;
    loop {
        let next = tokio::select! {
            next = tokio::time::timeout(server.limits.idle_timeout, conn.next()) => next,
            _ = shutdown.changed() => {
                let notice = disconnection(LdapResultCode::Unavailable, "the server is shutting down");
                return send(&mut conn, vec![notice]).await;
            }
        };
        let msg = match next {
            Err(_) => return Ok(()),
            Ok(None) => return Ok(()),
            Ok(Some(Err(e))) => {
                metrics::counter!("gatehouse_ldap_protocol_errors_total").increment(1);
                let why = if e.kind() == io::ErrorKind::OutOfMemory {
                    "message too large"
                } else {
                    "malformed message"
                };
                tracing::debug!(%peer, error = %e, "LDAP protocol error");
                let _ = send(&mut conn, vec![disconnection(LdapResultCode::ProtocolError, why)]).await;
                return Ok(());
            }
            Ok(Some(Ok(msg))) => msg,
        };
        count += 1;
        if count > server.limits.max_messages {
            let notice = disconnection(LdapResultCode::AdminLimitExceeded, "too many requests on one connection");
            return send(&mut conn, vec![notice]).await;
        }
        let Reply { messages, next } = session.handle(&server.shared, msg).await;
        send(&mut conn, messages).await?;
        match next {
            Next::Continue => {}
            Next::Close => return Ok(()),
            Next::StartTls => {
                let Some(acceptor) = server.tls.as_ref() else {
                    return Ok(());
                };
                let parts = conn.into_parts();
                // RFC 4511 §4.14.1: nothing may follow the request before the handshake.
                if !parts.read_buf.is_empty() {
                    return Ok(());
                }
                let io = tls_accept(acceptor, parts.io).await?;
                conn = Framed::new(io, server.codec());
                session.set_tls();
            }
        }
    }
}
