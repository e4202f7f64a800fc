//! A raw TCP "remote" for fault tests: it answers every request with the same
//! broken behaviour (a canned response, a body cut short, or no answer at
//! all) and records the request lines it read. Plain std threads: it needs no
//! runtime and never parses what it sends.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the server does with each request.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// Writes these bytes (a whole HTTP response) and closes.
    Respond(Vec<u8>),
    /// Sends headers announcing 1000 bytes of JSON, 20 bytes of it, then closes.
    CutShort,
    /// Accepts and reads the request, then never answers.
    BlackHole,
}

impl Behaviour {
    /// A complete response with `status`, `content_type` and `body`.
    pub fn respond(status: u16, content_type: &str, body: &str) -> Self {
        Behaviour::Respond(
            format!(
                "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
            .into_bytes(),
        )
    }
}

/// The running server; stops answering when dropped.
pub struct RawServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl RawServer {
    /// Starts a server that treats every request with `behaviour`.
    pub fn start(behaviour: Behaviour) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (reqs, stopping) = (requests.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (b, r, s) = (behaviour.clone(), reqs.clone(), stopping.clone());
                std::thread::spawn(move || serve(stream, &b, &r, &s));
            }
        });
        RawServer {
            url,
            requests,
            stop,
        }
    }

    /// The request lines read so far (`POST /path HTTP/1.1`).
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("lock").clone()
    }

    /// How many requests used `method`.
    pub fn count(&self, method: &str) -> usize {
        self.requests()
            .iter()
            .filter(|l| l.starts_with(&format!("{method} ")))
            .count()
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
    }
}

fn serve(mut stream: TcpStream, b: &Behaviour, reqs: &Mutex<Vec<String>>, stop: &AtomicBool) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    // Read the head, then the body the head announces.
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    reqs.lock()
        .expect("lock")
        .push(head.lines().next().unwrap_or_default().to_owned());
    match b {
        Behaviour::Respond(bytes) => {
            let _ = stream.write_all(bytes);
        }
        Behaviour::CutShort => {
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{\"workflow_runs\": [",
            );
            let _ = stream.flush();
        }
        Behaviour::BlackHole => {
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// A loopback URL on which nothing listens (connection refused).
pub fn closed_port_url() -> String {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    drop(l);
    format!("http://{addr}")
}
