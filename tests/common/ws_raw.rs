//! A bare WebSocket test client: JSON in, JSON out, nothing hidden, so the
//! tests see exactly what the venue sends. (The client library with local
//! books is `gateway::ws::client`.)

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use ed25519_dalek::{Signer, SigningKey};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The demo private key of participant `n` (examples/keys).
pub(crate) fn demo_key(n: u32) -> SigningKey {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("examples/keys/participant-{n}.key"));
    let text = std::fs::read_to_string(&path).expect("the demo key exists");
    let seed: [u8; 32] = hex::decode(text.trim())
        .expect("hex")
        .try_into()
        .expect("32 bytes");
    SigningKey::from_bytes(&seed)
}

/// Wall clock in ms.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as u64
}

/// One connection.
pub(crate) struct Raw {
    pub(crate) ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The server's `hello`.
    pub(crate) hello: Value,
}

impl Raw {
    pub(crate) async fn connect(addr: SocketAddr) -> Raw {
        let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/"))
            .await
            .expect("connects");
        let hello = next_json(&mut ws).await.expect("hello");
        assert_eq!(hello["type"], "hello", "{hello}");
        Raw { ws, hello }
    }

    /// A connection whose socket takes in at most about `rcvbuf` bytes
    /// unread: a reader that falls behind quickly.
    pub(crate) async fn connect_small(addr: SocketAddr, rcvbuf: u32) -> Raw {
        let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
        socket.set_recv_buffer_size(rcvbuf).expect("SO_RCVBUF");
        let stream = socket.connect(addr).await.expect("connects");
        let (mut ws, _) =
            tokio_tungstenite::client_async(format!("ws://{addr}/"), MaybeTlsStream::Plain(stream))
                .await
                .expect("handshake");
        let hello = next_json(&mut ws).await.expect("hello");
        Raw { ws, hello }
    }

    pub(crate) async fn send(&mut self, v: Value) {
        self.ws
            .send(Message::Text(v.to_string().into()))
            .await
            .expect("sends");
    }

    pub(crate) async fn send_raw(&mut self, m: Message) {
        self.ws.send(m).await.expect("sends");
    }

    /// The next message that is not a heartbeat; panics after 10 s.
    pub(crate) async fn recv(&mut self) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let v = tokio::time::timeout_at(deadline, next_json(&mut self.ws))
                .await
                .expect("a message within 10 s")
                .expect("a message");
            if v["type"] != "heartbeat" {
                return v;
            }
        }
    }

    /// The next message of type `ty`, skipping others; panics, showing
    /// what it skipped, when none comes within 10 s.
    pub(crate) async fn recv_type(&mut self, ty: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let mut skipped = Vec::new();
        loop {
            match tokio::time::timeout_at(deadline, self.recv()).await {
                Ok(v) if v["type"] == ty => return v,
                Ok(v) => skipped.push(v),
                Err(_) => panic!("no {ty:?} within 10 s; skipped {skipped:?}"),
            }
        }
    }

    /// Whatever arrives within `wait`, heartbeats excluded.
    pub(crate) async fn drain(&mut self, wait: Duration) -> Vec<Value> {
        let mut out = Vec::new();
        while let Ok(Some(Ok(m))) = tokio::time::timeout(wait, self.ws.next()).await {
            if let Message::Text(t) = m {
                let v: Value = serde_json::from_str(t.as_str()).expect("json");
                if v["type"] != "heartbeat" {
                    out.push(v);
                }
            }
        }
        out
    }

    /// The signed login message for `participant` with `key`.
    pub(crate) fn login_msg(&self, participant: u32, key: &SigningKey, ts: u64) -> Value {
        let challenge = self.hello["challenge"].as_str().expect("a challenge");
        let payload = format!("venue-ws-login:{participant}:{ts}:{challenge}");
        let sig = key.sign(payload.as_bytes());
        json!({"op":"login","participant":participant,"timestamp_ms":ts,
               "signature":hex::encode(sig.to_bytes()),"req_id":"login"})
    }

    /// Logs in as demo participant `n`; returns `logged_in`.
    pub(crate) async fn login(&mut self, n: u32) -> Value {
        let msg = self.login_msg(n, &demo_key(n), now_ms());
        self.send(msg).await;
        let v = self.recv().await;
        assert_eq!(v["type"], "logged_in", "{v}");
        v
    }

    /// Waits for the server to close; returns the close code and reason.
    pub(crate) async fn closed(&mut self) -> (u16, String) {
        loop {
            match tokio::time::timeout(Duration::from_secs(10), self.ws.next()).await {
                Ok(Some(Ok(Message::Close(Some(f))))) => {
                    return (u16::from(f.code), f.reason.to_string());
                }
                Ok(Some(Ok(Message::Close(None)))) | Ok(None) => return (0, String::new()),
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(_))) => return (0, String::new()),
                Err(_) => panic!("the server did not close the connection"),
            }
        }
    }
}

async fn next_json(ws: &mut WebSocketStream<MaybeTlsStream<TcpStream>>) -> Option<Value> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                return Some(serde_json::from_str(t.as_str()).expect("the server sends JSON"));
            }
            Ok(Some(Ok(Message::Close(f)))) => panic!("closed by the server: {f:?}"),
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(e))) => panic!("socket error: {e}"),
            Ok(None) => return None,
            Err(_) => panic!("no message within 10 s"),
        }
    }
}

/// The next heartbeat on `c`, skipping everything else.
pub(crate) async fn next_heartbeat(c: &mut Raw) -> Value {
    loop {
        let v = next_json(&mut c.ws).await.expect("a message");
        if v["type"] == "heartbeat" {
            return v;
        }
    }
}
