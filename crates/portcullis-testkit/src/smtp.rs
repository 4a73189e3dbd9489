//! A real SMTP server for tests: plain SMTP on 127.0.0.1, keeping every message it accepts.
//! Recipients containing `reject` are refused with `550`, to exercise permanent failures. The
//! protocol is `mailin`'s; this module only accepts connections and feeds it lines.

use std::io::{self, BufRead, BufReader};
use std::net::{IpAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use mailin::{Action, Handler, Response, SessionBuilder, response};

/// A message as the server received it.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// Envelope sender.
    pub from: String,
    /// Envelope recipients.
    pub to: Vec<String>,
    /// The raw message (headers and body).
    pub data: String,
}

impl ReceivedMail {
    /// The `Message-ID` header's value.
    pub fn message_id(&self) -> Option<&str> {
        self.data
            .lines()
            .find_map(|l| l.strip_prefix("Message-ID: "))
            .map(str::trim)
    }

    fn parsed(&self) -> Option<mail_parser::Message<'_>> {
        mail_parser::MessageParser::default().parse(self.data.as_bytes())
    }

    /// The decoded `Subject`.
    pub fn subject(&self) -> String {
        self.parsed()
            .and_then(|m| m.subject().map(str::to_owned))
            .unwrap_or_default()
    }

    /// The decoded plain-text part.
    pub fn text(&self) -> String {
        self.parsed()
            .and_then(|m| m.body_text(0).map(|t| t.into_owned()))
            .unwrap_or_default()
    }

    /// The decoded HTML part.
    pub fn html(&self) -> String {
        self.parsed()
            .and_then(|m| m.body_html(0).map(|t| t.into_owned()))
            .unwrap_or_default()
    }

    /// Whether the message has both a plain-text and an HTML part.
    pub fn has_both_parts(&self) -> bool {
        self.parsed()
            .is_some_and(|m| m.text_body_count() > 0 && m.html_body_count() > 0 && m.parts.len() >= 3)
    }

    /// The six-digit code in the text part (`code: 123456`).
    pub fn code(&self) -> Option<String> {
        let text = self.text();
        let at = text.find("code: ")? + "code: ".len();
        let code: String = text[at..].chars().take(6).collect();
        (code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())).then_some(code)
    }

    /// The first link in the text part.
    pub fn link(&self) -> Option<String> {
        self.text()
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with("http://") || l.starts_with("https://"))
            .map(str::to_owned)
    }

    /// The `pcl_` link token inside [`ReceivedMail::link`].
    pub fn token(&self) -> Option<String> {
        let link = self.link()?;
        let at = link.find("pcl_")?;
        Some(
            link[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                .collect(),
        )
    }
}

#[derive(Clone, Default)]
struct Sink {
    inbox: Arc<Mutex<Vec<ReceivedMail>>>,
    current: Option<ReceivedMail>,
}

impl Handler for Sink {
    fn helo(&mut self, _ip: IpAddr, _domain: &str) -> Response {
        response::OK
    }

    fn rcpt(&mut self, to: &str) -> Response {
        if to.contains("reject") {
            response::NO_MAILBOX
        } else {
            response::OK
        }
    }

    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.current = Some(ReceivedMail {
            from: from.to_owned(),
            to: to.to_vec(),
            data: String::new(),
        });
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> io::Result<()> {
        if let Some(current) = &mut self.current {
            current.data.push_str(&String::from_utf8_lossy(buf));
        }
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        if let Some(done) = self.current.take() {
            self.inbox.lock().unwrap_or_else(PoisonError::into_inner).push(done);
        }
        response::OK
    }
}

/// A running SMTP server. It runs until the test process ends.
#[derive(Clone)]
pub struct SmtpSink {
    port: u16,
    inbox: Arc<Mutex<Vec<ReceivedMail>>>,
}

impl std::fmt::Debug for SmtpSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSink")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl SmtpSink {
    /// Starts on a free port.
    pub fn start() -> io::Result<Self> {
        Self::start_on(TcpListener::bind("127.0.0.1:0")?)
    }

    /// Starts on `port` (to bring a server "back up" where clients already point).
    pub fn start_on_port(port: u16) -> io::Result<Self> {
        Self::start_on(TcpListener::bind(("127.0.0.1", port))?)
    }

    fn start_on(listener: TcpListener) -> io::Result<Self> {
        let port = listener.local_addr()?.port();
        let sink = Sink::default();
        let inbox = Arc::clone(&sink.inbox);
        std::thread::Builder::new()
            .name(format!("smtp-sink-{port}"))
            .spawn(move || {
                for stream in listener.incoming().flatten() {
                    let handler = sink.clone();
                    std::thread::spawn(move || {
                        let _ = serve_connection(stream, handler);
                    });
                }
            })?;
        Ok(Self { port, inbox })
    }

    /// A port nothing listens on (yet): an SMTP server that is down.
    pub fn unused_port() -> io::Result<u16> {
        Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<ReceivedMail> {
        self.inbox.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Waits up to `timeout` until at least `n` messages to `to` arrived; returns those.
    pub async fn wait_for_to(&self, to: &str, n: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let got: Vec<ReceivedMail> = self
                .received()
                .into_iter()
                .filter(|m| m.to.iter().any(|r| r.eq_ignore_ascii_case(to)))
                .collect();
            if got.len() >= n || tokio::time::Instant::now() >= deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits up to `timeout` until at least `n` messages arrived; returns all of them.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let got = self.received();
            if got.len() >= n || tokio::time::Instant::now() >= deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn serve_connection(stream: TcpStream, handler: Sink) -> io::Result<()> {
    let peer = stream.peer_addr()?.ip();
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut session = SessionBuilder::new("sink.test").build(peer, handler);
    session.greeting().write_to(&mut writer)?;
    let mut line = Vec::with_capacity(128);
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let reply = session.process(&line);
        match reply.action {
            Action::Reply => reply.write_to(&mut writer)?,
            Action::Close => {
                reply.write_to(&mut writer)?;
                return Ok(());
            }
            Action::NoReply => {}
            // Never offered: this sink speaks plain SMTP only.
            Action::UpgradeTls => return Ok(()),
        }
    }
}
