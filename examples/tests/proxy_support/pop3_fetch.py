# Python's poplib through a balancer from a chosen source address, for the HAProxy test.
#
# Usage: pop3_fetch.py HOST PORT SOURCE USER PASSWORD CAFILE
#   Connects from SOURCE, upgrades with STLS (verifying against CAFILE), logs in, retrieves
#   every message and prints the Message-ID of each, one per line, then QUITs (deleting
#   nothing). A login answered -ERR [IN-USE] (the previous session's lock not yet released)
#   is tried again, at most 50 times.
import poplib, socket, ssl, sys, time

host, port, source, user, password, cafile = sys.argv[1:7]


class FromSource(poplib.POP3):
    """poplib has no source_address: connect from SOURCE."""

    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout, source_address=(source, 0))


for attempt in range(50):
    pop = FromSource(host, int(port), timeout=15)
    pop.stls(context=ssl.create_default_context(cafile=cafile))
    pop.user(user)
    try:
        pop.pass_(password)
        break
    except poplib.error_proto as error:
        if b"[IN-USE]" not in error.args[0]:
            raise
        pop.close()
        time.sleep(0.05)
else:
    sys.exit("the maildrop stayed in use")
count, _ = pop.stat()
for n in range(1, count + 1):
    _, lines, _ = pop.retr(n)
    ids = [line for line in lines if line.lower().startswith(b"message-id:")]
    print(ids[0].split(b":", 1)[1].strip().decode() if ids else "-")
pop.quit()
