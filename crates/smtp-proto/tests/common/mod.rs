//! Proptest strategies shared by the integration tests: every value a writer accepts.
#![allow(dead_code, unreachable_pub)]

use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use smtp_proto::*;

pub fn domain() -> impl Strategy<Value = Domain> {
    let label = "[a-zA-Z0-9]([a-zA-Z0-9-]{0,6}[a-zA-Z0-9])?";
    prop_oneof![
        4 => prop::collection::vec(label, 1..4).prop_map(|labels| labels.join(".")),
        1 => any::<[u8; 4]>().prop_map(|o| format!("[{}]", Ipv4Addr::from(o))),
        1 => any::<[u16; 8]>().prop_map(|s| format!("[IPv6:{}]", Ipv6Addr::from(s))),
        1 => "[a-z][a-z0-9-]{0,4}[a-z0-9]:[!-Z^-~]{1,8}".prop_map(|g| format!("[{g}]")),
    ]
    .prop_filter_map("valid domain", |d| Domain::new(d).ok())
}

pub fn local_part() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec("[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,8}", 1..4)
            .prop_map(|atoms| atoms.join(".")),
        "[ -~]{0,12}",
    ]
}

pub fn mailbox() -> impl Strategy<Value = Mailbox> {
    (local_part(), domain()).prop_filter_map("fits the limits", |(l, d)| Mailbox::new(&l, &d).ok())
}

pub fn reverse_path() -> impl Strategy<Value = ReversePath> {
    prop_oneof![1 => Just(ReversePath::Null), 6 => mailbox().prop_map(ReversePath::Mailbox)]
}

pub fn forward_path() -> impl Strategy<Value = ForwardPath> {
    prop_oneof![1 => Just(ForwardPath::Postmaster), 6 => mailbox().prop_map(ForwardPath::Mailbox)]
}

fn extensions() -> impl Strategy<Value = Vec<(String, Option<String>)>> {
    prop::collection::vec(("X-[A-Z0-9]{1,6}", prop::option::of("[!-<>-~]{1,8}")), 0..3)
}

pub fn mail_params() -> impl Strategy<Value = MailParams> {
    (
        prop::option::of(any::<u64>()),
        prop::option::of(prop_oneof![
            Just(BodyType::SevenBit),
            Just(BodyType::EightBitMime),
            Just(BodyType::BinaryMime)
        ]),
        any::<bool>(),
        prop::option::of(prop_oneof![Just(Ret::Full), Just(Ret::Headers)]),
        prop::option::of(prop::collection::vec(any::<u8>(), 1..30)),
        prop::option::of(prop::collection::vec(any::<u8>(), 1..40)),
        any::<bool>(),
        extensions(),
    )
        .prop_map(
            |(size, body, smtputf8, ret, envid, auth, requiretls, ext)| {
                let mut p = MailParams::new();
                p.set_size(size);
                p.set_body(body);
                p.set_smtputf8(smtputf8);
                p.set_ret(ret);
                let envid = envid
                    .map(|e| XText::encode(&e))
                    .filter(|x| x.as_bytes().len() <= 100);
                p.set_envid(envid.as_ref()).unwrap();
                p.set_auth(auth.map(|a| XText::encode(&a)).as_ref())
                    .unwrap();
                p.set_requiretls(requiretls);
                for (k, v) in ext {
                    p.push_extension(&k, v.as_deref()).unwrap();
                }
                p
            },
        )
}

pub fn rcpt_params() -> impl Strategy<Value = RcptParams> {
    (
        prop::option::of((any::<bool>(), any::<bool>(), any::<bool>())),
        prop::option::of(prop::collection::vec(any::<u8>(), 1..40)),
        extensions(),
    )
        .prop_map(|(notify, orcpt, ext)| {
            let mut p = RcptParams::new();
            p.set_notify(notify.map(|(success, failure, delay)| Notify {
                success,
                failure,
                delay,
            }));
            let orcpt = orcpt.map(|o| OriginalRecipient::new("rfc822", &o).unwrap());
            p.set_orcpt(orcpt.as_ref()).unwrap();
            for (k, v) in ext {
                p.push_extension(&k, v.as_deref()).unwrap();
            }
            p
        })
}

pub fn argument() -> impl Strategy<Value = Argument> {
    "[ -~\t]{1,16}".prop_map(|a| Argument::new(a).unwrap())
}

pub fn mechanism() -> impl Strategy<Value = Mechanism> {
    prop_oneof![
        Just("PLAIN".to_string()),
        Just("LOGIN".to_string()),
        Just("XOAUTH2".to_string()),
        Just("SCRAM-SHA-256".to_string()),
        "X-[A-Z0-9_-]{1,10}",
    ]
    .prop_map(|m| Mechanism::parse(m.as_bytes()).unwrap())
}

/// Base64 of any octets, padded or not (both are base64 to `mail_wire::sasl::is_base64`).
pub fn sasl_data() -> impl Strategy<Value = SaslData> {
    (prop::collection::vec(any::<u8>(), 0..30), any::<bool>()).prop_map(|(raw, padded)| {
        let encoded = SaslData::encode(&raw);
        let text = encoded.as_bytes();
        let text = if padded {
            text
        } else {
            text.strip_suffix(b"==")
                .or_else(|| text.strip_suffix(b"="))
                .unwrap_or(text)
        };
        SaslData::new(text.to_vec()).unwrap()
    })
}

pub fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        domain().prop_map(Command::Helo),
        domain().prop_map(Command::Ehlo),
        domain().prop_map(Command::Lhlo),
        (reverse_path(), mail_params()).prop_map(|(from, params)| Command::Mail { from, params }),
        (forward_path(), rcpt_params()).prop_map(|(to, params)| Command::Rcpt { to, params }),
        Just(Command::Data),
        (any::<u64>(), any::<bool>()).prop_map(|(size, last)| Command::Bdat { size, last }),
        Just(Command::Rset),
        argument().prop_map(Command::Vrfy),
        argument().prop_map(Command::Expn),
        prop::option::of(argument()).prop_map(Command::Help),
        prop::option::of(argument()).prop_map(Command::Noop),
        Just(Command::Quit),
        Just(Command::StartTls),
        (mechanism(), prop::option::of(sasl_data())).prop_map(|(mechanism, initial_response)| {
            Command::Auth {
                mechanism,
                initial_response,
            }
        }),
    ]
}

pub fn reply() -> impl Strategy<Value = Reply> {
    (
        2u16..=5,
        0u16..=5,
        0u16..=9,
        any::<bool>(),
        0u16..=999,
        0u16..=999,
        prop::collection::vec("[ -~\t]{0,20}", 1..5),
    )
        .prop_filter_map(
            "text must not read as an enhanced code",
            |(x, y, z, with_enhanced, s, d, lines)| {
                let code = x * 100 + y * 10 + z;
                let enhanced = if with_enhanced {
                    EnhancedCode::new(x as u8, s, d)
                } else {
                    None
                };
                if enhanced.is_none() && EnhancedCode::parse_prefix(lines[0].as_bytes()).is_some() {
                    return None;
                }
                // Well formed by construction: the constructor must take it.
                Some(Reply::multiline(code, enhanced, lines).unwrap())
            },
        )
}

pub fn capabilities() -> impl Strategy<Value = Capabilities> {
    let flags = prop::collection::vec(
        prop_oneof![
            Just(Extension::Pipelining),
            Just(Extension::EightBitMime),
            Just(Extension::SmtpUtf8),
            Just(Extension::Chunking),
            Just(Extension::BinaryMime),
            Just(Extension::Dsn),
            Just(Extension::EnhancedStatusCodes),
            Just(Extension::StartTls),
            Just(Extension::RequireTls),
        ],
        0..6,
    );
    let others = prop::collection::vec(("X[A-Z]{1,6}", "([!-~]{1,5}( [!-~]{1,5})?)?"), 0..3);
    (
        domain(),
        flags,
        prop::option::of(any::<u64>()),
        prop::collection::vec(mechanism(), 0..4),
        others,
    )
        .prop_map(|(domain, flags, size, mechanisms, others)| {
            let mut caps = Capabilities::new(&domain);
            for flag in flags {
                caps.add(flag);
            }
            if let Some(size) = size {
                caps.set_size(size);
            }
            caps.set_auth(&mechanisms);
            for (keyword, params) in others {
                caps.add_other(&keyword, &params).unwrap();
            }
            caps
        })
}
