#!/usr/bin/env python3
"""Writes the committed seed corpora fuzz/seeds/<target>/ from the protocol transcripts
(crates/{smtp,pop3}-proto/tests/transcripts/) and RFC examples.

Run from the repository root: python3 fuzz/seeds/gen.py  (it rewrites every seeds dir).

The session targets decode their input with `arbitrary`'s Unstructured (fuzz_targets/common/
mod.rs): a setup, then one choice per poll. A seed here is the setup bytes, then for every
block of peer text (one pipelined group of the transcript) a "raw chunk" read

    [4, 1, len as u16 LE, bytes]   (choose(16) = 4: peer bytes; choose(2) = 1: raw; some_bytes)

followed by filler that answers whatever the machine asks before it reads again:
  - smtp_server: bytes 2: a Read takes 2,2 (while_reading, a no-op assertion), a decision
    takes 2,2 (answer now, accept_with 250), an UpgradeTls takes 2 (handshake done); so the
    filler only needs the right parity (odd after a STARTTLS that upgrades).
  - pop3_server: pairs 2,1: a Read takes them as a no-op, a decision as "answer now, accept"
    (login accepted, whole message sent, commit succeeded); an UpgradeTls takes one byte,
    so one byte 2 goes first after an STLS block.
The client targets get hand-written conversations (smtp_client_seeds, pop3_client_seeds): each
server reply a raw chunk, then the exact choices up to the next read (one byte per client event,
the AwaitApp choices, SendBody's body piece), plus the transcripts' reply blocks raw.
A seed is checked by tracing it: print every poll result (Transmit, Event, UpgradeTls, Closed)
and every peer chunk in common::run with eprintln!, run `fuzz/target/*/release/TARGET SEED`,
and read that the conversation goes as intended (then remove the prints).
"""

import base64
import os
import re
import shutil
import struct
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SEEDS = os.path.join(ROOT, "fuzz", "seeds")
TRANSCRIPTS = {
    "smtp": os.path.join(ROOT, "crates", "smtp-proto", "tests", "transcripts"),
    "pop3": os.path.join(ROOT, "crates", "pop3-proto", "tests", "transcripts"),
}


def unescape(text):
    out = bytearray()
    i = 0
    b = text.encode()
    while i < len(b):
        c = b[i]
        if c == 0x5C and i + 1 < len(b):
            n = chr(b[i + 1])
            if n == "r":
                out += b"\r"
            elif n == "n":
                out += b"\n"
            elif n == "t":
                out += b"\t"
            elif n == "x":
                out.append(int(b[i + 2 : i + 4], 16))
                i += 2
            else:
                out.append(b[i + 1])
            i += 2
            continue
        out.append(c)
        i += 1
    return bytes(out)


def parse(path):
    """(config dict, items): items are (tag, bytes-or-text)."""
    config = {}
    items = []
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if not line or line.startswith("#"):
            continue
        tag, _, text = line.partition(":")
        text = text[1:] if text.startswith(" ") else text
        if tag == "config":
            key, _, value = text.partition("=")
            config[key] = value
        elif tag in ("C", "S"):
            items.append((tag, unescape(text) + b"\r\n"))
        elif tag in ("B", "O"):
            items.append((tag, unescape(text)))
        else:
            items.append((tag, text))
    return config, items


def transcripts(proto, role):
    d = os.path.join(TRANSCRIPTS[proto], role)
    for name in sorted(os.listdir(d)):
        if name.endswith(".txt"):
            yield name[:-4], *parse(os.path.join(d, name))


def blocks(items, peer_tags):
    """The peer's blocks, each with whether a TLS upgrade follows it (before the next)."""
    out = []
    cur = bytearray()
    for tag, text in items:
        if tag in peer_tags:
            cur += text
        else:
            if cur:
                out.append([bytes(cur), False])
                cur = bytearray()
            if tag == "E" and text.startswith("upgrade-tls") and out:
                out[-1][1] = True
    if cur:
        out.append([bytes(cur), False])
    return out


def lines_of(items, tags):
    return b"".join(text for tag, text in items if tag in tags)


SEEN = set()


def write(target, name, data):
    if (target, data) in SEEN:
        return
    SEEN.add((target, data))
    d = os.path.join(SEEDS, target)
    os.makedirs(d, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    with open(os.path.join(d, safe), "wb") as f:
        f.write(data)


def raw_chunk(data, limit):
    assert len(data) <= limit, (len(data), limit)
    return bytes([4, 1]) + struct.pack("<H", len(data)) + data


# ---------------------------------------------------------------- arbitrary encodings
def a_bool(v):
    return bytes([1 if v else 0])


def a_vec_u8(data):
    """Vec<u8>::arbitrary: a continue flag before every element, then a stop flag."""
    out = bytearray()
    for b in data:
        out += bytes([1, b])
    return bytes(out + b"\0")


def a_vec_vec_u8(chunks):
    out = bytearray()
    for c in chunks:
        out += b"\x01" + a_vec_u8(c)
    return bytes(out + b"\0")


def a_option_u16(v):
    return b"\0" if v is None else b"\x01" + struct.pack("<H", v)


def split3(data):
    n = len(data)
    return [data[: n // 3], data[n // 3 : 2 * n // 3], data[2 * n // 3 :]]


# ---------------------------------------------------------------- session servers
def smtp_server_setup(config, names):
    tls = {"disabled": 0, "opportunistic": 1, "required": 2, "implicit": 3}.get(
        config.get("tls", "disabled"), 1
    )
    return bytes(
        [
            tls,
            1 if config.get("bare-lf") == "normalize" else 0,  # normalize
            1 if "lmtp" in config else 0,  # lmtp
            0,  # small_limits
            0,  # decisions: only the default ones (MAIL, RCPT, message end, AUTH)
            1 if "require-auth" in config else 0,
            1,  # plaintext AUTH without TLS
            0,  # short_timeouts
        ]
    )


def smtp_server_seed(setup, peer_blocks):
    out = bytearray(setup)
    for data, upgrade in peer_blocks:
        out += raw_chunk(data[:600], 600)
        pads = 2 * (data.count(b"\n") + 4) + (1 if upgrade else 0)
        out += b"\x02" * pads
    return bytes(out)


def pop3_server_setup(config):
    tls = {"disabled": 0, "opportunistic": 1, "required": 2, "implicit": 3}.get(
        config.get("tls", "disabled"), 1
    )
    return bytes(
        [tls, 1, 1 if config.get("bare-lf") == "normalize" else 0, 1 if "apop" in config else 0, 0, 0]
    )


def pop3_server_seed(setup, peer_blocks):
    out = bytearray(setup)
    for data, upgrade in peer_blocks:
        out += raw_chunk(data[:600], 600)
        if upgrade:
            out += b"\x02"
        out += b"\x02\x01" * (data.count(b"\n") + 4)
    return bytes(out)


# ---------------------------------------------------------------- clients
def client_seed(setup, reads, limit=300):
    """Server replies, one raw chunk per read, each followed by the bytes `after` says."""
    out = bytearray(setup)
    for data, after in reads:
        out += raw_chunk(data, limit) + after
    return bytes(out)


def main():
    for d in os.listdir(SEEDS) if os.path.isdir(SEEDS) else []:
        p = os.path.join(SEEDS, d)
        if os.path.isdir(p):
            shutil.rmtree(p)

    all_text = {"smtp": [], "pop3": []}

    # --- SMTP
    for name, config, items in transcripts("smtp", "server"):
        commands = lines_of(items, ("C", "B"))
        replies = lines_of(items, ("S", "O"))
        all_text["smtp"].append(commands + replies)
        write("smtp_command", "server_" + name, b"\x01" + commands[:4000])
        write("smtp_reply", "server_" + name, replies[:4000])
        setup = smtp_server_setup(config, name)
        write("smtp_server", name, smtp_server_seed(setup, blocks(items, ("C", "B"))))
    for name, config, items in transcripts("smtp", "client"):
        commands = lines_of(items, ("C", "O"))
        replies = lines_of(items, ("S", "B"))
        all_text["smtp"].append(commands + replies)
        write("smtp_command", "client_" + name, b"\x03" + commands[:4000])
        write("smtp_reply", "client_" + name, replies[:4000])
        # Raw reply blocks for the client target (the application's choices filled with 0:
        # the way forward).
        reads = [(data[:300], b"") for data, _ in blocks(items, ("S", "B"))]
        write("smtp_client", "transcript_" + name, client_seed(b"\x00\x00", reads))

    # --- POP3
    for name, config, items in transcripts("pop3", "server"):
        commands = lines_of(items, ("C", "B"))
        responses = lines_of(items, ("S", "O"))
        all_text["pop3"].append(commands + responses)
        write("pop3_command", "server_" + name, commands[:4000])
        setup = pop3_server_setup(config)
        write("pop3_server", name, pop3_server_seed(setup, blocks(items, ("C", "B"))))
        for i, (data, _) in enumerate(blocks(items, ("S", "O"))[:3]):
            write("pop3_response", f"server_{name}_{i}", data[:2000])
    for name, config, items in transcripts("pop3", "client"):
        commands = lines_of(items, ("C", "O"))
        responses = lines_of(items, ("S", "B"))
        all_text["pop3"].append(commands + responses)
        write("pop3_command", "client_" + name, commands[:4000])
        reads = [(data[:300], b"") for data, _ in blocks(items, ("S", "B"))]
        write("pop3_client", "transcript_" + name, client_seed(b"\x03\x01\x00\x08\x00", reads))
        for i, (data, _) in enumerate(blocks(items, ("S", "B"))[:3]):
            write("pop3_response", f"client_{name}_{i}", data[:2000])

    smtp_client_seeds()
    pop3_client_seeds()

    # --- line_framer and dot_decoder: transcript text in three chunks
    for proto, texts in all_text.items():
        for i, text in enumerate(texts[:20]):
            text = text[:1500]
            write("line_framer", f"{proto}_{i}_strict", a_vec_vec_u8(split3(text)) + bytes([200, 0]))
            write("line_framer", f"{proto}_{i}_lax", a_vec_vec_u8(split3(text)) + bytes([80, 1]))
    bodies = [
        b"Subject: hi\r\n\r\nbody\r\n.\r\n",
        b"Subject: dots\r\n\r\n..leading dot\r\n...\r\nend\r\n.\r\nQUIT\r\n",
        b"bare\nLF\r\nand CR\ronly\r\n.\r\n",
        b".\r\n",
        b"\r\n.\r\n",
        b"line\r\n.\r",
        b"From: a@example.com\r\nTo: b@example.org\r\n\r\n" + b"x" * 100 + b"\r\n.\r\n",
    ]
    # RFC 5321 appendix D.1 message body
    bodies.append(b"Blah blah blah...\r\n...etc. etc. etc.\r\n.\r\n")
    for i, body in enumerate(bodies):
        for normalize in (0, 1):
            for limit in (None, 16):
                write(
                    "dot_decoder",
                    f"body{i}_n{normalize}_l{limit}",
                    a_vec_vec_u8(split3(body)) + a_option_u16(limit) + bytes([normalize]),
                )

    # --- sasl
    sasl = [
        b"PLAIN",
        b"LOGIN",
        b"XOAUTH2",
        b"CRAM-MD5",
        b"\0user\0pass",
        b"authz\0user\0pass",
        base64.b64encode(b"\0user\0pass"),
        base64.b64encode(b"\0tim\0tanstaaftanstaaf"),
        b"*",
        b"=",
        b"dXNlcg==\ncGFzcw==",
        base64.b64encode(b"\0user\0pass") + b"\n",
        b"user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01",
        base64.b64encode(b"user=someuser@example.com\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01"),
        b"dXNlcg==\ncGFzcw==\n",
        b"\n\n",
        b"VXNlcm5hbWU6",
    ]
    for i, s in enumerate(sasl):
        write("sasl", f"sasl{i}", s)

    # --- proxy_header (RFC-less: the HAProxy PROXY protocol spec's examples)
    sig = b"\r\n\r\n\x00\r\nQUIT\n"
    v1 = [
        b"TCP4 192.168.0.1 192.168.0.11 56324 443\r\nEHLO x\r\n",
        b"TCP6 ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n",
        b"TCP6 2001:db8::1 2001:db8::2 1234 25\r\n",
        b"UNKNOWN\r\n",
        b"UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n",
        b"TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n",
    ]
    v2 = [
        # PROXY TCP4
        b"\x21\x11\x00\x0c\xc0\xa8\x00\x01\xc0\xa8\x00\x0b\xdc\x04\x01\xbb",
        # LOCAL
        b"\x20\x00\x00\x00",
        # PROXY TCP6
        b"\x21\x21\x00\x24" + bytes(range(32)) + b"\x04\xd2\x00\x19",
        # TCP4 with TLVs: ALPN, authority, SSL
        b"\x21\x11\x00\x24\x7f\x00\x00\x01\x7f\x00\x00\x02\x00\x50\x00\x19"
        b"\x01\x00\x02h2\x02\x00\x0bexample.com\x20\x00\x05\x01\x00\x00\x00\x00",
        # UNIX
        b"\x21\x31\x00\xd8" + b"/tmp/a".ljust(108, b"\0") + b"/tmp/b".ljust(108, b"\0"),
        # UDP4
        b"\x21\x12\x00\x0c\x0a\x00\x00\x01\x0a\x00\x00\x02\x00\x35\x00\x35",
    ]
    for i, body in enumerate(v1):
        # Start::V1: a u32 whose (x * 3) >> 32 is 1
        write("proxy_header", f"v1_{i}", struct.pack("<I", 0x60000000) + a_vec_u8(body) + b"\x01\x05\x00\x00")
        write("proxy_header", f"raw_v1_{i}", b"\0\0\0\0" + a_vec_u8(b"PROXY " + body) + b"\0\0")
    for i, body in enumerate(v2):
        write("proxy_header", f"v2_{i}", struct.pack("<I", 0xB0000000) + a_vec_u8(body) + b"\x01\x03\x00\x00")
        write("proxy_header", f"raw_v2_{i}", b"\0\0\0\0" + a_vec_u8(sig + body) + b"\0\0")

    # --- RFC examples for the parsers
    rfc_cmds = [
        b"HELO relay.example.org\r\n",
        b"EHLO bar.com\r\nMAIL FROM:<Smith@bar.com>\r\nRCPT TO:<Jones@foo.com>\r\nRCPT TO:<Green@foo.com>\r\nRCPT TO:<Brown@foo.com>\r\nDATA\r\n",
        b"MAIL FROM:<JQP@bar.com> SIZE=1000 BODY=8BITMIME SMTPUTF8\r\nRCPT TO:<postmaster>\r\nBDAT 86 LAST\r\n",
        b"VRFY Smith\r\nEXPN Example-People\r\nNOOP\r\nRSET\r\nQUIT\r\nHELP\r\n",
        b"AUTH PLAIN AHRlc3QAMTIzNA==\r\nAUTH LOGIN\r\nSTARTTLS\r\nLHLO foo.edu\r\n",
        b"MAIL FROM:<> RET=HDRS ENVID=QQ314159\r\nRCPT TO:<a@b> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a@b\r\n",
    ]
    for i, c in enumerate(rfc_cmds):
        write("smtp_command", f"rfc{i}", b"\x00" + c)
        write("smtp_command", f"rfc{i}_lax_utf8", b"\x03" + c)
    rfc_replies = [
        b"220 foo.com Simple Mail Transfer Service Ready\r\n",
        b"250-foo.com greets bar.com\r\n250-8BITMIME\r\n250-SIZE\r\n250-DSN\r\n250 HELP\r\n",
        b"354 Start mail input; end with <CRLF>.<CRLF>\r\n",
        b"550 5.1.1 No such user here\r\n",
        b"334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n235 2.7.0 Authentication successful\r\n",
        b"221 foo.com Service closing transmission channel\r\n",
    ]
    for i, r in enumerate(rfc_replies):
        write("smtp_reply", f"rfc{i}", r)
    pop3_rfc = [
        b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n",
        b"+OK 2 320\r\n",
        b"+OK 2 messages (320 octets)\r\n1 120\r\n2 200\r\n.\r\n",
        b"+OK unique-id listing follows\r\n1 whqtswO00WBw418f9t5JxYwZ\r\n2 QhdPYR:00WBw1Ph7x7\r\n.\r\n",
        b"+OK Capability list follows\r\nTOP\r\nUSER\r\nSASL CRAM-MD5 KERBEROS_V4\r\nRESP-CODES\r\nLOGIN-DELAY 900\r\nPIPELINING\r\nEXPIRE 60\r\nUIDL\r\nIMPLEMENTATION Shlemazle-Plotz-v302\r\n.\r\n",
        b"-ERR [IN-USE] maildrop already locked\r\n",
        b"+ \r\n",
    ]
    for i, r in enumerate(pop3_rfc):
        write("pop3_response", f"rfc{i}", r)
    write(
        "pop3_command",
        "rfc1939",
        b"USER mrose\r\nPASS secret\r\nAPOP mrose c4c9334bac560ecc979e58001b3e22fb\r\nSTAT\r\nLIST\r\nLIST 2\r\nRETR 1\r\nDELE 1\r\nTOP 1 10\r\nUIDL\r\nUIDL 2\r\nNOOP\r\nRSET\r\nCAPA\r\nSTLS\r\nAUTH PLAIN\r\nUTF8\r\nQUIT\r\n",
    )


def script(setup, steps, limit):
    """steps: str = a raw chunk of server text (one read); bytes = the choices up to the
    next read, literally (checked against a trace of the target, see the top)."""
    out = bytearray(setup)
    for step in steps:
        if isinstance(step, str):
            out += raw_chunk(step.encode(), limit)
        else:
            out += step
    return bytes(out)


def body(data):
    """SendBody answered now with one piece (choose(2) = 0, choose(4) = 1, some_bytes)."""
    return b"\x00\x01" + struct.pack("<H", len(data)) + data


# AwaitApp: run's choice (not 7), then the application's.
SEND_MAIL_ONE_RCPT = b"\x00\x00\x20"  # send_mail(envelope(0x20)): jane@, one recipient
SEND_MAIL_8BIT_TWO = b"\x00\x00\x44"  # two recipients, 8BITMIME body
END_BODY = b"\x00\x00"
QUIT = b"\x00\x05"

GREETING = "220 mx.example ESMTP\r\n"
EHLO_PLAIN = "250-mx.example\r\n250-8BITMIME\r\n250 SIZE 1000000\r\n"
EHLO_CHUNKING = "250-mx.example\r\n250-PIPELINING\r\n250-CHUNKING\r\n250-BINARYMIME\r\n250 8BITMIME\r\n"
EHLO_TLS = "250-mx.example\r\n250-PIPELINING\r\n250 STARTTLS\r\n"
EHLO_AUTH = "250-mx.example\r\n250-PIPELINING\r\n250 AUTH PLAIN LOGIN XOAUTH2\r\n"
EHLO_LOGIN = "250-mx.example\r\n250 AUTH LOGIN\r\n"


def smtp_client_seeds():
    msg = b"Subject: hi\r\n\r\n.leading dot\nbare LF\r\n"
    tail = [END_BODY, "250 OK queued\r\n", QUIT, "221 Bye\r\n"]
    seeds = {
        # setup: tls%4 (0 off, 1 opportunistic), 4 pipelining, 8 chunking, 16 plaintext
        # AUTH, 32 password, 64 oauth2; more: BDAT chunk size - 1
        "data": (b"\x00\x0f", [GREETING, EHLO_PLAIN, SEND_MAIL_ONE_RCPT, "250 OK\r\n",
                                "250 OK\r\n", "354 Go ahead\r\n", body(msg)] + tail),
        "data_pipelined": (b"\x04\x0f", [GREETING, "250-mx\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
                                          SEND_MAIL_8BIT_TWO, "250 OK\r\n550 No\r\n250 OK\r\n354 Go\r\n",
                                          body(msg)] + tail),
        "bdat": (b"\x0c\x0f", [GREETING, EHLO_CHUNKING, SEND_MAIL_ONE_RCPT, "250 OK\r\n250 OK\r\n",
                                body(msg)] + [END_BODY, "250 OK\r\n250 OK queued\r\n", QUIT, "221 Bye\r\n"]),
        "bdat_sequential": (b"\x08\x03", [GREETING, EHLO_CHUNKING, SEND_MAIL_ONE_RCPT, "250 OK\r\n",
                                           "250 OK\r\n", body(msg)] + [END_BODY] + ["250 OK\r\n"] * 2 + [QUIT, "221 Bye\r\n"]),
        "starttls": (b"\x01\x0f", [GREETING, EHLO_TLS, "220 Go ahead\r\n", b"\x00", EHLO_PLAIN,
                                    SEND_MAIL_ONE_RCPT, "250 OK\r\n", "250 OK\r\n", "354 Go\r\n", body(msg)] + tail),
        "starttls_auth": (b"\x21\x0f", [GREETING, EHLO_TLS, "220 Go ahead\r\n", b"\x00", EHLO_AUTH,
                                         "235 2.7.0 OK\r\n", QUIT, "221 Bye\r\n"]),
        "auth_plain": (b"\x30\x0f", [GREETING, EHLO_AUTH, "235 2.7.0 OK\r\n", SEND_MAIL_ONE_RCPT,
                                      "250 OK\r\n250 OK\r\n354 Go\r\n", body(msg)] + tail),
        "auth_login": (b"\x30\x0f", [GREETING, EHLO_LOGIN, "334 VXNlcm5hbWU6\r\n", "334 UGFzc3dvcmQ6\r\n",
                                      "235 2.7.0 OK\r\n", QUIT, "221 Bye\r\n"]),
        "auth_xoauth2": (b"\x50\x0f", [GREETING, EHLO_AUTH, "334 eyJzdGF0dXMiOiI0MDEifQ==\r\n",
                                        "535 5.7.8 No\r\n", QUIT, "221 Bye\r\n"]),
        "helo_fallback": (b"\x00\x0f", [GREETING, "500 What?\r\n", "250 mx\r\n", QUIT, "221 Bye\r\n"]),
    }
    for name, (setup, steps) in seeds.items():
        write("smtp_client", name, script(setup, steps, 300))


def pop3_client_seeds():
    # Setup: tls%4 (0 implicit, 1 required, 2 opportunistic, 3 off), plaintext, oauth,
    # window, short_timeouts.
    ev = b"\x01"  # an event: no command queued
    retr = lambda n: b"\x00\x00" + struct.pack("<I", n) + b"\x05"
    top = lambda n: b"\x00\x00" + struct.pack("<I", n) + b"\x06"
    other = lambda k: b"\x00\x00\x01\x00\x00\x00" + bytes([k])
    quit_ = b"\x00\x05"
    message = "+OK 40 octets\r\nSubject: hi\r\n\r\n..dot\r\nbody\r\n.\r\n"
    seeds = {
        "user_pass_retr": (b"\x03\x01\x00\x04\x00", [
            "+OK POP3 ready\r\n", ev, "+OK\r\nUSER\r\nUIDL\r\nTOP\r\n.\r\n", ev, "+OK\r\n", "+OK\r\n",
            "+OK\r\nUSER\r\nUIDL\r\nTOP\r\n.\r\n", ev, ev, retr(1), message, ev, ev, ev, other(0), "+OK 2 320\r\n", ev,
            other(1), "+OK 2 messages\r\n1 120\r\n2 200\r\n.\r\n", ev, other(3), "+OK\r\n1 uid-a\r\n2 uid-b\r\n.\r\n", ev,
            top(2), "+OK\r\nSubject: top\r\n\r\n.\r\n", ev, ev, ev, other(7), "+OK deleted\r\n", ev, quit_, "+OK bye\r\n"]),
        "stls_user_pass": (b"\x02\x00\x00\x04\x00", [
            "+OK ready\r\n", ev, "+OK\r\nSTLS\r\nUSER\r\n.\r\n", ev, "+OK begin TLS\r\n", b"\x00",
            "+OK\r\nUSER\r\nPIPELINING\r\n.\r\n", ev, "+OK\r\n", "+OK\r\n", "+OK\r\nPIPELINING\r\n.\r\n", ev, ev,
            retr(1), message, ev, ev, ev, quit_, "+OK bye\r\n"]),
        "sasl_plain": (b"\x03\x01\x00\x04\x00", [
            "+OK ready\r\n", ev, "+OK\r\nSASL PLAIN LOGIN\r\n.\r\n", ev, "+OK logged in\r\n",
            "+OK\r\nPIPELINING\r\n.\r\n", ev, ev, retr(1), message, ev, ev, ev, quit_, "+OK bye\r\n"]),
        "sasl_xoauth2": (b"\x03\x01\x01\x04\x00", [
            "+OK ready\r\n", ev, "+OK\r\nSASL XOAUTH2\r\n.\r\n", ev, "+ eyJzdGF0dXMiOiI0MDEifQ==\r\n",
            "-ERR [AUTH] no\r\n"]),
        "apop": (b"\x03\x01\x00\x04\x00", [
            "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n", ev, "-ERR no CAPA\r\n", ev,
            "+OK maildrop has 2 messages\r\n", ev, retr(2), message, ev, ev, ev, quit_, "+OK bye\r\n"]),
    }
    for name, (setup, steps) in seeds.items():
        write("pop3_client", name, script(setup, steps, 300))


if __name__ == "__main__":
    main()
