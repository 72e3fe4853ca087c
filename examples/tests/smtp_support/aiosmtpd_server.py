"""An aiosmtpd server for the SMTP client interop tests.

usage: aiosmtpd_server.py OUT_DIR PORT [CERT KEY]

Stores each message's content (dot-unstuffed, as received) in OUT_DIR/<n>.eml and its
envelope in OUT_DIR/<n>.env; with CERT and KEY it requires STARTTLS and offers AUTH (the
account alice / alice-secret) after it. Prints READY when listening; runs until killed.
"""
import os
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

out_dir, port = sys.argv[1], int(sys.argv[2])
tls = len(sys.argv) > 4


class Handler:
    def __init__(self):
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        base = os.path.join(out_dir, str(self.count))
        with open(base + ".eml.part", "wb") as f:
            f.write(envelope.original_content)
        os.rename(base + ".eml.part", base + ".eml")
        with open(base + ".env", "w") as f:
            f.write(envelope.mail_from + "\n")
            f.write(" ".join(envelope.rcpt_tos) + "\n")
            f.write("authenticated\n" if session.authenticated else "anonymous\n")
        return "250 2.0.0 OK stored as %d" % self.count


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == b"alice"
        and auth_data.password == b"alice-secret"
    )
    return AuthResult(success=ok, handled=False)


kwargs = dict(hostname="127.0.0.1", port=port, enable_SMTPUTF8=True)
if tls:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(sys.argv[3], sys.argv[4])
    kwargs.update(
        tls_context=context,
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
        auth_required=True,
    )
controller = Controller(Handler(), **kwargs)
controller.start()
print("READY", flush=True)
try:
    while True:
        time.sleep(3600)
finally:
    controller.stop()
