//! A hostile loopback server for the tests: it answers each connection's first request as
//! the test says (or never), records what it received, and binds 127.0.0.1 only. Dropping
//! it stops it and joins its threads.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// What a hostile server does with one request (its raw bytes).
pub enum Reply {
    /// Write these bytes, then close.
    Bytes(Vec<u8>),
    /// Hold the connection open and never answer.
    Never,
    /// Write the first `at_once` bytes, then the rest one at a time, `every` apart (a server
    /// that drips its answer, each byte well within any read timeout), then close.
    Drip {
        bytes: Vec<u8>,
        at_once: usize,
        every: Duration,
    },
}

pub type Respond = dyn Fn(&[u8]) -> Reply + Send + Sync;

/// A server on 127.0.0.1 that answers each connection's first request with `respond` and
/// records what it received. Dropping it stops it and joins its threads.
pub struct Server {
    address: SocketAddr,
    stop: Arc<AtomicBool>,
    connections: Arc<AtomicUsize>,
    received: Arc<Mutex<Vec<Vec<u8>>>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    pub fn start(respond: impl Fn(&[u8]) -> Reply + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener.set_nonblocking(true).expect("nonblocking");
        let address = listener.local_addr().expect("address");
        let stop = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(AtomicUsize::new(0));
        let received = Arc::new(Mutex::new(Vec::new()));
        let respond: Arc<Respond> = Arc::new(respond);
        let thread = {
            let (stop, connections, received) =
                (stop.clone(), connections.clone(), received.clone());
            std::thread::spawn(move || {
                let mut handlers = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            connections.fetch_add(1, Ordering::Relaxed);
                            let (stop, received, respond) =
                                (stop.clone(), received.clone(), respond.clone());
                            handlers.push(std::thread::spawn(move || {
                                serve(stream, &stop, &received, respond.as_ref())
                            }));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
                for handler in handlers {
                    handler.join().ok();
                }
            })
        };
        Server {
            address,
            stop,
            connections,
            received,
            thread: Some(thread),
        }
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }

    /// Every request received, as text.
    pub fn requests(&self) -> Vec<String> {
        self.received
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|raw| String::from_utf8_lossy(raw).into_owned())
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.join().ok();
        }
    }
}

/// Read one request (head and a `content-length` body), record it, and answer.
fn serve(stream: TcpStream, stop: &AtomicBool, received: &Mutex<Vec<Vec<u8>>>, respond: &Respond) {
    stream.set_nonblocking(false).ok();
    stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .ok();
    let mut stream = stream;
    let mut raw = Vec::new();
    let mut buffer = [0u8; 8192];
    let complete = |raw: &[u8]| {
        let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
            return false;
        };
        let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
        let length = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        raw.len() >= end + 4 + length
    };
    while !complete(&raw) && !stop.load(Ordering::Relaxed) {
        match stream.read(&mut buffer) {
            Ok(0) => return,
            Ok(n) => raw.extend_from_slice(&buffer[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return,
        }
    }
    received
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(raw.clone());
    match respond(&raw) {
        Reply::Bytes(bytes) => {
            stream.write_all(&bytes).ok();
            stream.flush().ok();
        }
        Reply::Never => {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Reply::Drip {
            bytes,
            at_once,
            every,
        } => {
            let (first, rest) = bytes.split_at(at_once.min(bytes.len()));
            if stream.write_all(first).is_err() {
                return;
            }
            for byte in rest {
                stream.flush().ok();
                std::thread::sleep(every);
                if stop.load(Ordering::Relaxed) || stream.write_all(&[*byte]).is_err() {
                    return;
                }
            }
        }
    }
}

/// An HTTP answer of `status` with a JSON `body` (see [`http`]).
pub fn json_reply(status: u16, body: &str) -> Reply {
    http(status, &[("content-type", "application/json")], body)
}

/// An HTTP/1.1 answer that closes the connection.
pub fn http(status: u16, headers: &[(&str, &str)], body: &str) -> Reply {
    let mut text = format!(
        "HTTP/1.1 {status} Whatever\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(body);
    Reply::Bytes(text.into_bytes())
}
