//! The POP3 parse workload: a command mix (a download session) and a response
//! mix (greeting with APOP timestamp, `+OK`/`-ERR` with response codes, STAT, 100-line LIST
//! and UIDL listings, a 10-line CAPA listing). Shared by the `pop3_parse` bench and the
//! zero-allocation test.

use bytes::{Buf, Bytes};
use pop3_proto::{
    CapabilityList, Command, Limits, ParseError, ScanList, Stat, StatusLine, UidList,
};

/// The command lines of one session, concatenated: what a server reads.
pub fn commands() -> Bytes {
    let mut session = String::new();
    session.push_str("CAPA\r\nUSER mrose\r\nPASS tanstaaf-correct horse battery\r\nSTAT\r\n");
    session.push_str("LIST\r\nUIDL\r\n");
    for n in 1..=10 {
        session.push_str(&format!(
            "LIST {n}\r\nUIDL {n}\r\nTOP {n} 0\r\nRETR {n}\r\nDELE {n}\r\n"
        ));
    }
    session.push_str("APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n");
    session.push_str("AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q=\r\nNOOP\r\nRSET\r\nQUIT\r\n");
    Bytes::from(session)
}

/// The same commands, each in its own `Bytes` (as the `smtp_parse` bench feeds SMTP's
/// parser), for a like-for-like comparison.
pub fn command_lines() -> Vec<Bytes> {
    let all = commands();
    all.split_inclusive(|&b| b == b'\n')
        .map(Bytes::copy_from_slice)
        .collect()
}

/// Parses each line of [`command_lines`]; returns a checksum.
pub fn parse_command_lines(lines: &[Bytes], limits: &Limits) -> usize {
    let mut checksum = 0;
    for line in lines {
        let (command, used) = Command::parse(line, limits).expect("valid command");
        checksum += used + command.verb() as usize;
    }
    checksum
}

/// How many commands [`commands`] holds.
pub const COMMAND_COUNT: usize = 4 + 2 + 50 + 1 + 4;

/// What a response in the mix is, so the parser knows what to expect (as a client does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseKind {
    /// The greeting; the APOP timestamp is extracted.
    Greeting,
    /// A single status line.
    Status,
    /// A STAT result.
    Stat,
    /// `+OK` then a LIST listing.
    List,
    /// `+OK` then a UIDL listing.
    Uidl,
    /// `+OK` then a CAPA listing.
    Capa,
}

/// The responses of the mix, each as it arrives on the wire.
pub fn responses() -> Vec<(ResponseKind, Bytes)> {
    let mut list = String::from("+OK 100 messages (5678900 octets)\r\n");
    let mut uidl = String::from("+OK unique-id listing follows\r\n");
    for n in 1..=100u32 {
        list.push_str(&format!("{n} {}\r\n", 1000 + n * 977));
        uidl.push_str(&format!(
            "{n} {:08x}.{:x}QhdPYR:00WBw1Ph7x7\r\n",
            n * 7919,
            n
        ));
    }
    list.push_str(".\r\n");
    uidl.push_str(".\r\n");
    let capa = "+OK Capability list follows\r\nTOP\r\nUSER\r\nSASL PLAIN LOGIN XOAUTH2 SCRAM-SHA-256\r\n\
                RESP-CODES\r\nLOGIN-DELAY 900\r\nPIPELINING\r\nEXPIRE NEVER\r\nUIDL\r\n\
                IMPLEMENTATION pop3-proto bench\r\nSTLS\r\n.\r\n";
    vec![
        (
            ResponseKind::Greeting,
            Bytes::from_static(b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n"),
        ),
        (ResponseKind::Capa, Bytes::from(capa)),
        (
            ResponseKind::Status,
            Bytes::from_static(b"+OK mrose's maildrop has 100 messages (5678900 octets)\r\n"),
        ),
        (
            ResponseKind::Status,
            Bytes::from_static(b"-ERR [IN-USE] Do you have another POP session running?\r\n"),
        ),
        (
            ResponseKind::Status,
            Bytes::from_static(b"-ERR [SYS/TEMP] mail store unavailable, try later\r\n"),
        ),
        (
            ResponseKind::Status,
            Bytes::from_static(b"-ERR [AUTH] invalid user name or password\r\n"),
        ),
        (
            ResponseKind::Stat,
            Bytes::from_static(b"+OK 100 5678900\r\n"),
        ),
        (ResponseKind::List, Bytes::from(list)),
        (ResponseKind::Uidl, Bytes::from(uidl)),
        (
            ResponseKind::Status,
            Bytes::from_static(b"+OK message 1 deleted\r\n"),
        ),
        (
            ResponseKind::Status,
            Bytes::from_static(b"+OK dewey POP3 server signing off\r\n"),
        ),
    ]
}

/// Total octets of the response mix.
pub fn response_octets(mix: &[(ResponseKind, Bytes)]) -> usize {
    mix.iter().map(|(_, bytes)| bytes.len()).sum()
}

/// Parses every command of `input`; returns a value derived from all of them, so that the
/// work cannot be optimised away.
pub fn parse_commands(input: &Bytes, limits: &Limits) -> usize {
    let mut rest = input.clone();
    let mut checksum = 0;
    loop {
        match Command::parse(&rest, limits) {
            Ok((command, used)) => {
                checksum += used + command.verb() as usize;
                // Moves the view forward without a reference count round trip, as a reader
                // consuming its buffer does.
                rest.advance(used);
            }
            Err(ParseError::Incomplete) => return checksum,
            Err(error) => panic!("bench input is valid: {error:?}"),
        }
    }
}

/// Parses every response of the mix as a client does (status line, then the listing with
/// every entry read); returns a checksum.
pub fn parse_responses(mix: &[(ResponseKind, Bytes)], limits: &Limits) -> usize {
    let mut checksum = 0;
    for (kind, input) in mix {
        let (status, used) = StatusLine::parse(input, limits).expect("valid status line");
        checksum += used;
        match kind {
            ResponseKind::Greeting => {
                checksum += status.apop_timestamp().expect("timestamp").as_bytes().len();
            }
            ResponseKind::Status => {
                checksum += status.code().map_or(0, |code| code.as_bytes().len());
            }
            ResponseKind::Stat => {
                checksum += Stat::from_status(&status).expect("valid STAT").count as usize;
            }
            ResponseKind::List => {
                let (listing, _) = ScanList::parse(&input.slice(used..), limits).expect("LIST");
                checksum += listing
                    .iter()
                    .map(|entry| entry.size as usize)
                    .sum::<usize>();
            }
            ResponseKind::Uidl => {
                let (listing, _) = UidList::parse(&input.slice(used..), limits).expect("UIDL");
                checksum += listing
                    .iter()
                    .map(|entry| entry.uid.as_bytes().len())
                    .sum::<usize>();
            }
            ResponseKind::Capa => {
                let (listing, _) =
                    CapabilityList::parse(&input.slice(used..), limits).expect("CAPA");
                checksum += listing.iter().count();
            }
        }
    }
    checksum
}
