# Python's poplib as a POP3 client for the interop tests.
#
# Usage: poplib_client.py MODE HOST PORT USER PASSWORD CAFILE EXPECTED [STORE]
#   MODE      plain | stls | ssl | apop
#   EXPECTED  a directory holding the wire form of message n as file "n" to compare each
#             download (and its TOP n 0) with, or "-" to compare nothing
#   STORE     a Maildir to save every message into durably, as a fetching client does
#             (tmp/, fsync, rename into new/, one fsync of new/ at the end), or "-" (default)
#             to keep nothing
# Prints "count octets seconds".
import os, poplib, ssl, sys, time

mode, host, port, user, password, cafile, expected = sys.argv[1:8]
store = sys.argv[8] if len(sys.argv) > 8 else "-"
start = time.monotonic()
context = ssl.create_default_context(cafile=cafile)
if mode == "ssl":
    pop = poplib.POP3_SSL(host, int(port), context=context, timeout=30)
else:
    pop = poplib.POP3(host, int(port), timeout=30)
if mode == "stls":
    pop.stls(context=context)
if mode == "apop":
    pop.apop(user, password)
else:
    pop.user(user)
    pop.pass_(password)
if store != "-":
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(store, sub), exist_ok=True)
count, _ = pop.stat()
octets = 0
for n in range(1, count + 1):
    _, lines, _ = pop.retr(n)
    body = b"\r\n".join(lines) + b"\r\n"
    octets += len(body)
    if store != "-":
        name = "%d.%d_%d.poplib" % (time.time(), os.getpid(), n)
        tmp = os.path.join(store, "tmp", name)
        with open(tmp, "wb") as f:
            f.write(body)
            f.flush()
            os.fdatasync(f.fileno())
        os.rename(tmp, os.path.join(store, "new", name))
    if expected != "-":
        with open(os.path.join(expected, str(n)), "rb") as f:
            want = f.read()
        if body != want:
            print("MISMATCH", n, len(body), len(want))
            sys.exit(1)
        # TOP n 0: the header and the empty line after it (RFC 1939 section 7).
        _, lines, _ = pop.top(n, 0)
        if b"\r\n".join(lines) + b"\r\n" != want[: want.index(b"\r\n\r\n") + 4]:
            print("TOP MISMATCH", n)
            sys.exit(1)
if store != "-":
    new = os.open(os.path.join(store, "new"), os.O_RDONLY)
    os.fsync(new)
    os.close(new)
pop.quit()
print(count, octets, time.monotonic() - start)
