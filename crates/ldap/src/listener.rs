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
/// Bytes buffered before a write while answering.
const WRITE_CHUNK: usize = 128 * 1024;

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

type Conn = Framed<Box<dyn Stream>, BoundedCodec>;

/// `ldap3_proto`'s codec, refusing a message whose declared length is over
/// the limit as soon as its header arrives (the codec alone would wait for
/// all of it, holding the connection open).
pub struct BoundedCodec {
    inner: LdapCodec,
    max: usize,
}

impl BoundedCodec {
    pub fn new(max_message_bytes: usize) -> Self {
        BoundedCodec {
            inner: LdapCodec::new(Some(max_message_bytes), None),
            max: max_message_bytes,
        }
    }
}

/// The length an LDAPMessage's header declares (X.690 §8.1.3), if the
/// header is complete and in definite form.
fn declared_length(buf: &[u8]) -> Option<usize> {
    let first = *buf.get(1)?;
    if first < 0x80 {
        return Some(usize::from(first) + 2);
    }
    let n = usize::from(first & 0x7f);
    if n == 0 || n > 8 {
        return Some(usize::MAX);
    }
    let bytes = buf.get(2..2 + n)?;
    let len = bytes
        .iter()
        .fold(0usize, |acc, &b| acc.saturating_mul(256).saturating_add(usize::from(b)));
    Some(len.saturating_add(2 + n))
}

impl tokio_util::codec::Decoder for BoundedCodec {
    type Item = LdapMsg;
    type Error = io::Error;

    fn decode(&mut self, buf: &mut bytes::BytesMut) -> io::Result<Option<LdapMsg>> {
        // Every LDAPMessage is a SEQUENCE (RFC 4511 §4.1.1): anything else is
        // not LDAP, and waiting for the rest of it would only hold the socket.
        if buf.first().is_some_and(|&tag| tag != 0x30) {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "not an LDAP message"));
        }
        if declared_length(buf).is_some_and(|n| n > self.max) {
            return Err(io::Error::new(io::ErrorKind::OutOfMemory, "message too large"));
        }
        self.inner.decode(buf)
    }
}

impl tokio_util::codec::Encoder<LdapMsg> for BoundedCodec {
    type Error = io::Error;

    fn encode(&mut self, msg: LdapMsg, buf: &mut bytes::BytesMut) -> io::Result<()> {
        self.inner.encode(msg, buf)
    }
}

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

    fn codec(&self) -> BoundedCodec {
        BoundedCodec::new(self.limits.max_message_bytes)
    }

    /// A framed connection that writes a large search result in big chunks
    /// (the default flushes every 8 KiB: a system call per few entries).
    fn frame(&self, io: Box<dyn Stream>) -> Conn {
        let mut conn = Framed::new(io, self.codec());
        conn.set_backpressure_boundary(WRITE_CHUNK);
        conn
    }
}

/// Accepts connections until `shutdown` turns true. `implicit_tls`: LDAPS.
pub async fn serve(
    listener: TcpListener,
    server: Arc<Server>,
    implicit_tls: bool,
    mut shutdown: watch::Receiver<bool>,
) {
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
    let mut conn = server.frame(io);
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
            let notice = disconnection(
                LdapResultCode::AdminLimitExceeded,
                "too many requests on one connection",
            );
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
                conn = server.frame(io);
                session.set_tls();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_util::codec::Decoder;

    #[test]
    fn declared_lengths() {
        assert_eq!(declared_length(&[0x30, 0x05]), Some(7));
        assert_eq!(declared_length(&[0x30, 0x82, 0x01, 0x00]), Some(260));
        assert_eq!(declared_length(&[0x30, 0x82, 0x01]), None, "header still incomplete");
        assert_eq!(declared_length(&[0x30, 0x80]), Some(usize::MAX), "indefinite form");
        assert_eq!(declared_length(&[0x30]), None);
    }

    #[test]
    fn malformed_and_oversized_input_is_an_error_never_a_panic() {
        let samples: &[&[u8]] = &[
            b"GET / HTTP/1.1\r\n\r\n",
            &[0x30, 0x05, 0x02, 0x01, 0x01, 0x63, 0x00],
            &[
                0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0xff,
            ],
            &[0x30, 0x84, 0x0f, 0xff, 0xff, 0xff],
            &[0x30, 0x03, 0x02, 0x01, 0x01],
            &[0x30, 0x80, 0x02, 0x01, 0x01, 0x42, 0x00, 0x00, 0x00],
        ];
        for sample in samples {
            let mut codec = BoundedCodec::new(1024);
            let mut buf = bytes::BytesMut::from(*sample);
            assert!(codec.decode(&mut buf).is_err(), "{sample:02x?}");
        }
        // An unbind decodes.
        let mut buf = bytes::BytesMut::from(&[0x30, 0x05, 0x02, 0x01, 0x07, 0x42, 0x00][..]);
        let msg = BoundedCodec::new(1024).decode(&mut buf).unwrap().unwrap();
        assert_eq!((msg.msgid, msg.op), (7, ldap3_proto::proto::LdapOp::UnbindRequest));
    }
}
