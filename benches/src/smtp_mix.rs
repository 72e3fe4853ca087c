//! The SMTP workload of the `smtp_parse` bench and the `smtp_alloc` test: one submission
//! session's commands and the replies a server sends in it.

use bytes::Bytes;

/// Client command lines: EHLO, STARTTLS, EHLO, AUTH PLAIN, MAIL with SIZE and BODY, five RCPT,
/// DATA, RSET, NOOP, BDAT 1000 LAST, QUIT.
pub const COMMANDS: &[&[u8]] = &[
    b"EHLO client.example.org\r\n",
    b"STARTTLS\r\n",
    b"EHLO client.example.org\r\n",
    b"AUTH PLAIN AGpvaG4uZG9lQGV4YW1wbGUub3JnAHMzY3IzdCFwYXNz\r\n",
    b"MAIL FROM:<john.doe@example.org> SIZE=123456 BODY=8BITMIME\r\n",
    b"RCPT TO:<alice@example.com>\r\n",
    b"RCPT TO:<bob.smith@mail.example.net>\r\n",
    b"RCPT TO:<carol+newsletter@example.co.uk>\r\n",
    b"RCPT TO:<dave@sub.domain.example.com>\r\n",
    b"RCPT TO:<eve_1984@example.org>\r\n",
    b"DATA\r\n",
    b"RSET\r\n",
    b"NOOP\r\n",
    b"BDAT 1000 LAST\r\n",
    b"QUIT\r\n",
];

/// The 11-line EHLO reply: the server's name and 10 capabilities.
pub const EHLO_REPLY: &[u8] = b"250-mx.example.com Hello client.example.org [192.0.2.10]\r\n\
250-PIPELINING\r\n\
250-SIZE 35882577\r\n\
250-8BITMIME\r\n\
250-ENHANCEDSTATUSCODES\r\n\
250-STARTTLS\r\n\
250-AUTH PLAIN LOGIN XOAUTH2\r\n\
250-CHUNKING\r\n\
250-SMTPUTF8\r\n\
250-DSN\r\n\
250 BINARYMIME\r\n";

/// Server replies other than the EHLO reply: greeting, 250 2.1.0, 250 2.1.5, 354,
/// 550 5.1.1 on one and on three lines, 250 2.0.0 queued, 221.
pub const REPLIES: &[&[u8]] = &[
    b"220 mx.example.com ESMTP ready\r\n",
    b"250 2.1.0 Sender OK\r\n",
    b"250 2.1.5 Recipient OK\r\n",
    b"354 Start mail input; end with <CRLF>.<CRLF>\r\n",
    b"550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown\r\n",
    b"550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n\
550-5.1.1 double-checking the recipient's email address for typos or\r\n\
550 5.1.1 unnecessary spaces.\r\n",
    b"250 2.0.0 Ok: queued as 4XyZ1234ABC\r\n",
    b"221 2.0.0 Bye\r\n",
];

/// Each item as its own `Bytes`, as a server's read buffer would hand it over (shared,
/// reference counted: not `Bytes::from_static`, whose clones cost nothing).
pub fn as_bytes(items: &[&[u8]]) -> Vec<Bytes> {
    items
        .iter()
        .map(|item| Bytes::copy_from_slice(item))
        .collect()
}
