//! Strategies and split helpers shared by the property tests.
#![allow(dead_code, unreachable_pub)]

use std::fmt::Debug;

use bytes::{Buf, Bytes, BytesMut};
use pop3_proto::*;
use proptest::prelude::*;

pub fn msg_number() -> impl Strategy<Value = MsgNumber> {
    prop_oneof![1u32..10, 1u32..=u32::MAX, Just(u32::MAX)].prop_map(|n| MsgNumber::new(n).unwrap())
}

pub fn name() -> impl Strategy<Value = Name> {
    prop_oneof![
        "[a-zA-Z0-9._@+-]{1,40}".prop_map(|s| Name::new(s).unwrap()),
        "[!-~\u{e9}\u{4e2d}]{1,10}".prop_map(|s| Name::new(s).unwrap()),
    ]
}

pub fn password() -> impl Strategy<Value = Password> {
    prop_oneof!["[ -~]{1,40}", "[ -~]{1,1000}", "[ -~\t\u{e9}]{1,100}",]
        .prop_map(|s| Password::new(s).unwrap())
}

/// Names are normalised to upper case when parsed, so only upper-case ones are generated;
/// the built-in mechanisms are listed since a random name seldom hits them.
pub fn mechanism() -> impl Strategy<Value = Mechanism> {
    prop_oneof![
        Just(Mechanism::Plain),
        Just(Mechanism::Login),
        Just(Mechanism::XOAuth2),
        "[A-Z0-9_-]{1,20}".prop_map(|s| Mechanism::new(s).unwrap()),
    ]
}

pub fn sasl_data(max: usize) -> impl Strategy<Value = SaslData> {
    proptest::collection::vec(any::<u8>(), 0..max).prop_map(|raw| SaslData::encode(&raw))
}

pub fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        name().prop_map(Command::User),
        password().prop_map(Command::Pass),
        (name(), any::<[u8; 16]>()).prop_map(|(name, d)| Command::Apop {
            name,
            digest: ApopDigest::from_bytes(d)
        }),
        Just(Command::Stat),
        proptest::option::of(msg_number()).prop_map(Command::List),
        msg_number().prop_map(Command::Retr),
        msg_number().prop_map(Command::Dele),
        Just(Command::Noop),
        Just(Command::Rset),
        Just(Command::Quit),
        (msg_number(), any::<u32>()).prop_map(|(msg, lines)| Command::Top { msg, lines }),
        proptest::option::of(msg_number()).prop_map(Command::Uidl),
        Just(Command::Capa),
        Just(Command::Stls),
        (mechanism(), proptest::option::of(sasl_data(150))).prop_map(
            |(mechanism, initial_response)| Command::Auth {
                mechanism,
                initial_response
            }
        ),
        Just(Command::Utf8),
        proptest::option::of("[a-zA-Z0-9*-]{1,40}".prop_map(|s| LangRange::new(s).unwrap()))
            .prop_map(Command::Lang),
    ]
}

pub fn response_code() -> impl Strategy<Value = ResponseCode> {
    prop_oneof![
        Just(ResponseCode::InUse),
        Just(ResponseCode::LoginDelay),
        Just(ResponseCode::SysTemp),
        Just(ResponseCode::SysPerm),
        Just(ResponseCode::Auth),
        Just(ResponseCode::Utf8),
        "[!-.0-\\\\^-~]{1,12}(/[!-.0-\\\\^-~]{1,12}){0,3}".prop_filter_map("named code", |s| {
            OtherCode::new(s).ok().map(ResponseCode::Other)
        }),
    ]
}

pub fn text(max: usize) -> impl Strategy<Value = Text> {
    proptest::string::string_regex(&format!("[ -~\u{e9}\u{4e2d}]{{0,{max}}}"))
        .unwrap()
        .prop_map(|s| Text::new(s).unwrap())
}

pub fn status_line() -> impl Strategy<Value = StatusLine> {
    (
        prop_oneof![Just(Status::Ok), Just(Status::Err)],
        proptest::option::of(response_code()),
        text(120),
    )
        .prop_filter_map("ambiguous text", |(status, code, text)| {
            StatusLine::new(status, code, text).ok()
        })
}

pub fn uid() -> impl Strategy<Value = UniqueId> {
    "[!-~]{1,70}".prop_map(|s| UniqueId::new(s).unwrap())
}

pub fn scan_listing() -> impl Strategy<Value = ScanListing> {
    (msg_number(), any::<u64>()).prop_map(|(msg, size)| ScanListing { msg, size })
}

pub fn uid_listing() -> impl Strategy<Value = UidListing> {
    (msg_number(), uid()).prop_map(|(msg, uid)| UidListing { msg, uid })
}

pub fn capability() -> impl Strategy<Value = Capability> {
    let user = any::<bool>();
    prop_oneof![
        Just(Capability::Top),
        Just(Capability::User),
        proptest::collection::vec("[A-Z0-9_-]{1,20}", 0..6)
            .prop_map(|names| Capability::Sasl(Mechanisms::new(names.join(" ")).unwrap())),
        Just(Capability::RespCodes),
        (any::<u32>(), user)
            .prop_map(|(seconds, per_user)| Capability::LoginDelay { seconds, per_user }),
        Just(Capability::Pipelining),
        (
            prop_oneof![
                Just(ExpirePolicy::Never),
                any::<u32>().prop_map(ExpirePolicy::Days)
            ],
            user
        )
            .prop_map(|(policy, per_user)| Capability::Expire { policy, per_user }),
        Just(Capability::Uidl),
        text(100).prop_map(Capability::Implementation),
        Just(Capability::Stls),
        Just(Capability::AuthRespCode),
        user.prop_map(|user_credentials| Capability::Utf8 { user_credentials }),
        Just(Capability::Lang),
        "[!-\\-/-~]{1,20}( [!-~]{1,10}){0,4}".prop_filter_map("typed", |s| OtherCapability::new(s)
            .ok()
            .map(Capability::Other)),
    ]
}

/// Parses `input` whole, then checks that every proper prefix of the parsed item is
/// `Incomplete`, and that what follows the item does not change the result.
pub fn check_every_split<T, E>(
    input: &Bytes,
    parse: impl Fn(&Bytes) -> Result<(T, usize), ParseError<E>>,
) -> (T, usize)
where
    T: PartialEq + Debug,
    E: Debug,
{
    let (value, used) = parse(input).expect("whole input parses");
    for end in 0..used {
        match parse(&input.slice(..end)) {
            Err(ParseError::Incomplete) => {}
            other => panic!("prefix of {end} octets gave {other:?}"),
        }
    }
    let mut longer = BytesMut::from(&input[..]);
    longer.extend_from_slice(b"NOOP\r\n+OK\r\n");
    let (again, again_used) = parse(&longer.freeze()).expect("with a tail");
    assert_eq!((&again, again_used), (&value, used));
    (value, used)
}

/// Feeds `stream` in chunks of `chunk` octets and parses every item as soon as it is
/// complete, as a session would.
pub fn parse_in_chunks<T, E: Debug>(
    stream: &[u8],
    chunk: usize,
    parse: impl Fn(&Bytes) -> Result<(T, usize), ParseError<E>>,
) -> Vec<T> {
    let mut buffer = BytesMut::new();
    let mut items = Vec::new();
    for piece in stream.chunks(chunk.max(1)) {
        buffer.extend_from_slice(piece);
        loop {
            let view = Bytes::copy_from_slice(&buffer);
            match parse(&view) {
                Ok((item, used)) => {
                    items.push(item);
                    buffer.advance(used);
                }
                Err(ParseError::Incomplete) => break,
                Err(error) => panic!("{error:?}"),
            }
        }
    }
    assert!(buffer.is_empty(), "left over: {buffer:?}");
    items
}
