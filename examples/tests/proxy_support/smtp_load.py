# Python's smtplib sending through a balancer from a chosen source address, for the HAProxy test.
#
# Usage: smtp_load.py HOST PORT SOURCE PREFIX COUNT SESSIONS OUTDIR
#   Sends COUNT messages to alice@localhost through HOST:PORT, connecting from SOURCE (a
#   loopback address other than the balancer's), over SESSIONS concurrent sessions that each
#   send one message after another. Message n has the Message-ID <PREFIX.n@haproxy.test> and
#   is written, exactly as sent, to OUTDIR/PREFIX.n.eml. A message not answered 250 (an error,
#   a 421 from a draining server, a dropped connection) is sent again on a new connection, at
#   most 20 times, as a client MTA would retry it.
# Prints the numbers of the accepted messages, one per line; exit status 0 when all were.
import os, smtplib, sys, threading, time

host, port, source, prefix, count, sessions, outdir = sys.argv[1:8]
port, count, sessions = int(port), int(count), int(sessions)
lock = threading.Lock()
todo = list(range(count))
accepted, retried, failed = [], [0], []


def message(n):
    """Headers, then lines of varied length (some with a leading dot) up to ~20 KiB."""
    head = [
        "From: load@example.test",
        "To: alice@localhost",
        "Subject: %s %d" % (prefix, n),
        "Message-ID: <%s.%d@haproxy.test>" % (prefix, n),
        "",
    ]
    size, body, i = 200 + (n * 7919) % 20000, [], 0
    while sum(len(line) + 2 for line in body) < size:
        body.append(("." if i % 11 == 0 else "") + "%s %d line %d %s" % (prefix, n, i, "x" * (i % 70)))
        i += 1
    return ("\r\n".join(head + body) + "\r\n").encode()


def worker():
    conn = None
    while True:
        with lock:
            if not todo:
                break
            n = todo.pop(0)
        data = message(n)
        with open(os.path.join(outdir, "%s.%d.eml" % (prefix, n)), "wb") as f:
            f.write(data)
        for attempt in range(20):
            try:
                if conn is None:
                    conn = smtplib.SMTP(host, port, timeout=15, source_address=(source, 0))
                    conn.ehlo("load.example")
                conn.sendmail("load@example.test", ["alice@localhost"], data)
                with lock:
                    accepted.append(n)
                break
            except (smtplib.SMTPException, OSError) as error:
                with lock:
                    retried[0] += 1
                try:
                    conn.close()
                except Exception:
                    pass
                conn = None
                time.sleep(0.05)
        else:
            with lock:
                failed.append(n)
    if conn is not None:
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            pass


threads = [threading.Thread(target=worker) for _ in range(sessions)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
for n in sorted(accepted):
    print(n)
print("retried %d, failed %s" % (retried[0], failed), file=sys.stderr)
sys.exit(1 if failed else 0)
