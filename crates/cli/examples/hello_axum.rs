//! The yardstick of `bench/forward_auth.sh`: a bare axum "hello" server on the
//! same tokio runtime, axum and hyper as `gatehouse server`, with no middleware,
//! no state and no work, answering every path (the benchmark requests the
//! forward-auth path from both). Usage: `hello_axum 127.0.0.1:PORT`.

use axum::Router;

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9999".into());
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            let app = Router::new().fallback(|| async { "hello" });
            let listener = tokio::net::TcpListener::bind(&addr).await?;
            axum::serve(listener, app).await
        })
}
