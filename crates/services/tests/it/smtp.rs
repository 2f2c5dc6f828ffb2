//! A real SMTP listener for tests: it speaks enough of RFC 5321 for a client (lettre) to deliver,
//! and hands each delivered message to the test. (The http tests include this file too.)

use std::time::Duration;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

#[derive(Debug, Clone)]
pub struct Delivered {
    pub recipients: Vec<String>,
    pub data: String,
}

pub struct SmtpSink {
    pub port: u16,
    rx: mpsc::UnboundedReceiver<Delivered>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let tx = tx.clone();
                tokio::spawn(async move {
                    let (read, mut write) = socket.into_split();
                    let mut lines = BufReader::new(read).lines();
                    write.write_all(b"220 sink.test ESMTP\r\n").await.ok();
                    let mut recipients = Vec::new();
                    while let Ok(Some(line)) = lines.next_line().await {
                        let verb = line.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
                        let reply: &[u8] = match verb.as_str() {
                            "EHLO" => b"250-sink.test\r\n250 8BITMIME\r\n",
                            "HELO" | "MAIL" | "RSET" | "NOOP" => b"250 OK\r\n",
                            "RCPT" => {
                                let to =
                                    line.split_once(':').map(|(_, a)| a.trim().trim_matches(['<', '>'])).unwrap_or("");
                                recipients.push(to.to_owned());
                                b"250 OK\r\n"
                            }
                            "DATA" => {
                                write.write_all(b"354 go on\r\n").await.ok();
                                let mut data = String::new();
                                while let Ok(Some(l)) = lines.next_line().await {
                                    if l == "." {
                                        break;
                                    }
                                    data.push_str(&l);
                                    data.push('\n');
                                }
                                let _ = tx.send(Delivered { recipients: std::mem::take(&mut recipients), data });
                                b"250 queued\r\n"
                            }
                            "QUIT" => {
                                write.write_all(b"221 bye\r\n").await.ok();
                                break;
                            }
                            _ => b"502 not implemented\r\n",
                        };
                        if write.write_all(reply).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        SmtpSink { port, rx }
    }

    /// The next delivered message (waits up to ten seconds).
    pub async fn next(&mut self) -> Delivered {
        tokio::time::timeout(Duration::from_secs(10), self.rx.recv()).await.expect("a mail arrives").unwrap()
    }

    /// Asserts nothing more arrives within half a second.
    pub async fn assert_quiet(&mut self) {
        assert!(tokio::time::timeout(Duration::from_millis(500), self.rx.recv()).await.is_err(), "unexpected mail");
    }

    pub fn settings(&self) -> services::mail::SmtpSettings {
        services::mail::SmtpSettings {
            host: "127.0.0.1".into(),
            port: self.port,
            security: services::mail::SmtpSecurity::None,
            username: None,
            password: None,
            from: "Acme Security <security@acme.example>".into(),
        }
    }
}

/// The first URL in a mail that starts with `prefix` (quoted-printable soft breaks undone).
pub fn link(mail: &Delivered, prefix: &str) -> String {
    let text = mail.data.replace("=\n", "").replace("=3D", "=");
    let start = text.find(prefix).unwrap_or_else(|| panic!("no {prefix} link in:\n{text}"));
    text[start..].split_whitespace().next().unwrap().to_owned()
}
