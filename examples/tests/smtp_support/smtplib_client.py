"""python3 smtplib as a client of the example servers.

usage: smtplib_client.py MODE PORT TO FILE...

MODE: plain (no AUTH), starttls-plain (STARTTLS, AUTH PLAIN), ssl-login (implicit TLS,
AUTH LOGIN). Sends each FILE as one message, as bytes (smtplib dot-stuffs, nothing else).
"""
import smtplib
import ssl
import sys

mode, port, to, files = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE  # the test servers' certificates are self-signed

if mode == "ssl-login":
    smtp = smtplib.SMTP_SSL("127.0.0.1", port, context=context, timeout=30)
else:
    smtp = smtplib.SMTP("127.0.0.1", port, timeout=30)
smtp.ehlo("smtplib.example.test")
if mode == "starttls-plain":
    smtp.starttls(context=context)
    smtp.ehlo("smtplib.example.test")
    smtp.user, smtp.password = "alice", "alice-secret"
    smtp.auth("PLAIN", smtp.auth_plain)
elif mode == "ssl-login":
    smtp.user, smtp.password = "alice", "alice-secret"
    smtp.auth("LOGIN", smtp.auth_login, initial_response_ok=False)
for name in files:
    with open(name, "rb") as f:
        body = f.read()
    options = ["BODY=8BITMIME"] if any(b >= 0x80 for b in body) else []
    refused = smtp.sendmail("sender@example.test", [to], body, mail_options=options)
    assert not refused, refused
smtp.quit()
print("sent", len(files))
