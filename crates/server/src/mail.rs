//! Outgoing mail: plain SMTP (RFC 5321) to the configured relay, one
//! message per connection. Only what Guise itself sends (confirmation
//! links), in UTF-8 plain text. No TLS and no authentication: the relay is
//! on this machine or network and does those onward (docs/admin.md).

use crate::config::Config;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Whether the instance sends mail at all.
pub fn enabled(config: &Config) -> bool {
    !config.mail.smtp_host.trim().is_empty()
}

fn from(config: &Config) -> String {
    match config.mail.from.trim() {
        "" => format!(
            "noreply@{}",
            config
                .instance
                .domain
                .split(':')
                .next()
                .unwrap_or("localhost")
        ),
        f => f.to_owned(),
    }
}

/// A header value without line breaks (no header injection).
fn one_line(s: &str) -> String {
    s.chars().filter(|c| *c != '\r' && *c != '\n').collect()
}

/// Reads one (possibly multi-line) reply; its code.
async fn reply<R: AsyncBufReadExt + Unpin>(r: &mut R) -> Result<u16, String> {
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await.map_err(|e| e.to_string())? == 0 {
            return Err("the relay closed the connection".into());
        }
        let code: u16 = line
            .get(..3)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("not an SMTP reply: {line:?}"))?;
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok(code);
        }
    }
}

/// Sends one message; an error says what the relay refused.
pub async fn send(config: &Config, to: &str, subject: &str, body: &str) -> Result<(), String> {
    let port = if config.mail.smtp_port == 0 {
        25
    } else {
        config.mail.smtp_port
    };
    let stream = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        TcpStream::connect((config.mail.smtp_host.trim(), port)),
    )
    .await
    .map_err(|_| "the relay did not answer".to_owned())?
    .map_err(|e| e.to_string())?;
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let from = one_line(&from(config));
    let to = one_line(to);
    let expect = |got: u16, want: u16, what: &str| {
        if got / 100 == want / 100 {
            Ok(())
        } else {
            Err(format!("the relay answered {got} to {what}"))
        }
    };
    expect(reply(&mut read).await?, 220, "the greeting")?;
    let host = one_line(
        config
            .instance
            .domain
            .split(':')
            .next()
            .unwrap_or("localhost"),
    );
    let mut say = async |line: String| -> Result<u16, String> {
        write
            .write_all(line.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        reply(&mut read).await
    };
    expect(say(format!("EHLO {host}\r\n")).await?, 250, "EHLO")?;
    expect(
        say(format!("MAIL FROM:<{from}>\r\n")).await?,
        250,
        "MAIL FROM",
    )?;
    expect(say(format!("RCPT TO:<{to}>\r\n")).await?, 250, "RCPT TO")?;
    expect(say("DATA\r\n".to_owned()).await?, 354, "DATA")?;
    // Dot-stuffing, CRLF line ends.
    let text: String = body
        .lines()
        .map(|l| {
            if l.starts_with('.') {
                format!(".{l}\r\n")
            } else {
                format!("{l}\r\n")
            }
        })
        .collect();
    let message = format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{text}.\r\n",
        one_line(subject)
    );
    expect(say(message).await?, 250, "the message")?;
    let _ = say("QUIT\r\n".to_owned()).await;
    Ok(())
}

/// Tells a login its sign-up was approved, when the instance sends mail (a
/// failure is logged: the login can sign in all the same).
pub async fn send_approved(config: &Config, to: &str) {
    if !enabled(config) {
        return;
    }
    let name = &config.instance.name;
    let body = format!(
        "Your sign-up on {name} was approved: you can sign in now at {}/auth/sign_in\n",
        config.base_url()
    );
    if let Err(e) = send(config, to, &format!("Welcome to {name}"), &body).await {
        tracing::warn!(error = %e, "telling a login it was approved");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_cannot_be_injected() {
        assert_eq!(one_line("a\r\nBcc: x@y"), "aBcc: x@y");
    }
}
