#!/usr/bin/env python3
"""`mlxcpp chat` on a terminal (a pseudo-terminal): the arrow keys edit the line (libedit),
Ctrl-C stops an answer and keeps the session, the first Ctrl-C at the prompt says how to
leave and the second leaves. Usage: chat_tty_test.py MLXCPP"""
import json, os, pty, select, subprocess, sys, tempfile, time

# Every wait returns as soon as what it waits for arrives; the long limits are for a machine
# busy with the rest of the suite (ctest -j), where a 5-second limit once ran out.

mlxcpp = sys.argv[1]
fails = 0


def check(name, ok, detail=""):
    global fails
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else ": " + detail))
    fails += 0 if ok else 1


class Chat:
    def __init__(self, *args):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execv(mlxcpp, [mlxcpp, "chat", *args])
        self.out = b""

    def drain(self, seconds, until=None):
        end = time.time() + seconds
        while time.time() < end:
            if until and until in self.out:
                return True
            r, _, _ = select.select([self.fd], [], [], 0.05)
            if r:
                try:
                    data = os.read(self.fd, 4096)
                except OSError:
                    return False
                if not data:
                    return False
                self.out += data
        return until is None or until in self.out

    def send(self, keys):
        os.write(self.fd, keys)

    def exited(self, seconds=5):
        end = time.time() + seconds
        while time.time() < end:
            pid, _ = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return True
            self.drain(0.1)
        return False


# Line editing needs the build to have found libedit (scripts/setup.sh installs it).
has_libedit = b"libedit" in subprocess.run(["ldd", mlxcpp], capture_output=True).stdout

with tempfile.TemporaryDirectory() as tmp:
    # Line editing: "Hel", left arrow, "X", Enter -> "HeXl".
    c = Chat("--max-tokens", "4", "--temp", "0")
    c.drain(30, b"> ")
    c.send(b"Hel\x1b[DX\r")
    c.drain(60, b"generated")
    c.send(f"/save {tmp}/conv.json\r".encode())
    c.drain(30, b"saved")
    c.drain(30, b"json)\r\n> ")  # the next prompt, not an earlier one
    saved = json.load(open(f"{tmp}/conv.json"))
    if has_libedit:
        check("arrow keys edit the line", saved[0]["content"] == "HeXl", repr(saved[0]))
    else:
        print("skip arrow keys edit the line: built without libedit")
    c.send(b"\x03")
    check("first Ctrl-C at the prompt says how to leave", c.drain(30, b"Ctrl-C again"), c.out[-200:].decode(errors="replace"))
    check("... and does not leave", not c.exited(0.5))
    c.send(b"\x03")
    check("second Ctrl-C leaves", c.exited(30))

    # Ctrl-C during an answer: a model slow enough to interrupt (one layer, a 128k vocabulary).
    subprocess.run([mlxcpp, "synth", "--like", "llama-3.2-1b", "--layers", "1", "-q", "-o", f"{tmp}/slow"],
                   check=True, capture_output=True)
    c = Chat("-m", f"{tmp}/slow", "--max-tokens", "100000", "--temp", "0.8", "--seed", "1", "--threads", "2")
    c.drain(60, b"> ")
    c.send(b"Hi\r")
    time.sleep(1.0)
    c.send(b"\x03")
    check("Ctrl-C stops the answer", c.drain(30, b"stopped]"), c.out[-300:].decode(errors="replace"))
    c.drain(30, b"> ")
    c.send(b"/exit\r")
    check("the session goes on after it", c.exited(30))

print("all chat tty checks passed" if fails == 0 else f"{fails} chat tty checks failed")
sys.exit(1 if fails else 0)
