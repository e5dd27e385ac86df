//! A small LDAP client over the same codec, for `gatehouse ldap test` (what a
//! service would see from the running server) and the load generator of
//! `bench/ldap.sh`. Plain TCP; one request at a time.

use std::io;

use futures_util::{SinkExt, StreamExt};
use ldap3_proto::LdapCodec;
use ldap3_proto::control::LdapControl;
use ldap3_proto::proto::{
    LdapBindCred, LdapBindRequest, LdapDerefAliases, LdapFilter, LdapMsg, LdapOp, LdapResult, LdapSearchRequest,
    LdapSearchResultEntry, LdapSearchScope,
};
use tokio::net::{TcpStream, ToSocketAddrs};
use tokio_util::codec::Framed;

pub struct Client {
    conn: Framed<TcpStream, LdapCodec>,
    next_id: i32,
}

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "the server closed the connection")
}

impl Client {
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<Client> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Client {
            conn: Framed::new(stream, LdapCodec::new(Some(16 * 1024 * 1024), None)),
            next_id: 0,
        })
    }

    /// Sends one request and reads until its final response.
    async fn request(&mut self, op: LdapOp, ctrl: Vec<LdapControl>) -> io::Result<Vec<LdapMsg>> {
        self.next_id += 1;
        let id = self.next_id;
        self.conn.send(LdapMsg::new_with_ctrls(id, op, ctrl)).await?;
        let mut out = Vec::new();
        loop {
            let msg = self.conn.next().await.ok_or_else(closed)??;
            if msg.msgid != id {
                // A notice of disconnection (id 0) or a stray message.
                if msg.msgid == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        format!("{:?}", msg.op),
                    ));
                }
                continue;
            }
            let last = !matches!(msg.op, LdapOp::SearchResultEntry(_) | LdapOp::SearchResultReference(_));
            out.push(msg);
            if last {
                return Ok(out);
            }
        }
    }

    pub async fn simple_bind(&mut self, dn: &str, password: &str) -> io::Result<LdapResult> {
        let op = LdapOp::BindRequest(LdapBindRequest {
            version: 3,
            dn: dn.to_string(),
            cred: LdapBindCred::Simple(password.to_string()),
        });
        match self.request(op, Vec::new()).await?.pop().map(|m| m.op) {
            Some(LdapOp::BindResponse(r)) => Ok(r.res),
            _ => Err(io::Error::other("unexpected answer to a bind")),
        }
    }

    /// A subtree search; with `page_size`, follows the paged-results cookie
    /// to the end. Returns the entries and the last result.
    pub async fn search(
        &mut self,
        base: &str,
        filter: LdapFilter,
        attrs: Vec<String>,
        page_size: Option<i64>,
    ) -> io::Result<(Vec<LdapSearchResultEntry>, LdapResult)> {
        let mut entries = Vec::new();
        let mut cookie = Vec::new();
        loop {
            let req = LdapSearchRequest {
                base: base.to_string(),
                scope: LdapSearchScope::Subtree,
                aliases: LdapDerefAliases::Never,
                sizelimit: 0,
                timelimit: 0,
                typesonly: false,
                filter: filter.clone(),
                attrs: attrs.clone(),
            };
            let ctrl = page_size.map_or_else(Vec::new, |size| {
                vec![LdapControl::SimplePagedResults {
                    size,
                    cookie: cookie.clone(),
                }]
            });
            let mut done = None;
            for msg in self.request(LdapOp::SearchRequest(req), ctrl).await? {
                match msg.op {
                    LdapOp::SearchResultEntry(e) => entries.push(e),
                    LdapOp::SearchResultDone(r) => {
                        cookie = msg
                            .ctrl
                            .into_iter()
                            .find_map(|c| match c {
                                LdapControl::SimplePagedResults { cookie, .. } => Some(cookie),
                                _ => None,
                            })
                            .unwrap_or_default();
                        done = Some(r);
                    }
                    _ => {}
                }
            }
            let done = done.ok_or_else(|| io::Error::other("a search ended without a result"))?;
            if page_size.is_none() || cookie.is_empty() {
                return Ok((entries, done));
            }
        }
    }

    /// Ends the session politely.
    pub async fn unbind(mut self) -> io::Result<()> {
        self.next_id += 1;
        self.conn.send(LdapMsg::new(self.next_id, LdapOp::UnbindRequest)).await
    }
}
