#!/usr/bin/env python3
"""`mlxcpp serve` against hostile clients, on loopback, each case bounded in time and each
asserting what a user of the server would notice: memory growth under 64 MB per case,
a normal client served within 1 s while 1,000 connections trickle their heads
(slowloris), 413 for every over-limit body whatever its framing or encoding (before and
without authentication), 4 answers for 4 pipelined requests, an answer for a client that
half-closes, generation cancelled within 100 ms of a client's close, slow heads and
bodies cut at their time limits, and model names that are paths refused with the same
404 as a missing id. Usage: hostile_client_test.py MLXCPP"""
import gzip, http.client, json, os, resource, shutil, socket, subprocess, sys, tempfile, threading, time, zlib

mlxcpp = os.path.abspath(sys.argv[1])
fails = 0
BODY_LIMIT = 65536


def check(name, ok, detail=""):
    global fails
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else ": " + str(detail)), flush=True)
    fails += 0 if ok else 1


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def raw(port, data, shut=False, timeout=10, source="127.0.0.1"):
    """Sends bytes, reads until the server closes; returns what came back."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0))
    try:
        s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            try:
                d = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not d:
                break
            out += d
        return out
    finally:
        s.close()


def post(path, body, headers=None, extra=b""):
    h = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    return f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{h}Content-Length: {len(body)}\r\n\r\n".encode() + body + extra


def status_of(reply):
    try:
        return int(reply.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None


def json_body(reply):
    return json.loads(reply.split(b"\r\n\r\n", 1)[1].decode() or "null")


def completion(port, payload, timeout=10):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request("POST", "/v1/completions", json.dumps(payload), {"Authorization": "Bearer sk-test", "Content-Type": "application/json"})
    r = c.getresponse()
    return r.status, json.loads(r.read() or b"null")


def health(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", "/health")
    return json.loads(c.getresponse().read())


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    tmp = tempfile.mkdtemp(prefix="mlxcpp_hostile_")
    model = os.path.join(tmp, "models", "q05")
    os.makedirs(os.path.dirname(model))
    # A model slow enough (a 151k vocabulary: ~3 ms a token here) that a cancellation
    # within 100 ms is measurable, small enough to make in a second.
    subprocess.run([mlxcpp, "synth", "--like", "qwen2.5-0.5b", "--layers", "2", "-q", "-o", model], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.makedirs(os.path.join(tmp, "outside", "secret"))
    os.symlink(os.path.join(tmp, "outside"), os.path.join(tmp, "models", "escape"))
    os.makedirs(os.path.join(tmp, "evil", "model"))  # a repo-id-shaped directory in the working directory
    port_file = os.path.join(tmp, "port")
    server = subprocess.Popen(
        [mlxcpp, "serve", "-m", model, "--port", "0", "--port-file", port_file, "--api-key", "sk-test", "--quiet",
         "--body-limit", str(BODY_LIMIT), "--header-timeout", "2", "--body-timeout", "2",
         "--max-connections-per-address", "2000", "--allow-paths", os.path.join(tmp, "models")],
        cwd=tmp, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            if os.path.exists(port_file) and open(port_file).read().strip():
                break
            time.sleep(0.05)
        port = int(open(port_file).read())
        pid = server.pid
        ok_payload = {"prompt": "hello", "max_tokens": 4}
        check("server answers", completion(port, ok_payload)[0] == 200)

        # Slowloris: 1,000 connections from another loopback address trickle their heads.
        base = rss_mb(pid)
        trickling = []
        for _ in range(1000):
            s = socket.create_connection(("127.0.0.1", port), source_address=("127.0.0.2", 0))
            s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\n")
            trickling.append(s)
        stop = threading.Event()

        def trickle():
            while not stop.is_set():
                for s in trickling:
                    try:
                        s.send(b"X")
                    except OSError:
                        pass
                time.sleep(0.2)

        t = threading.Thread(target=trickle)
        t.start()
        time.sleep(0.5)
        t0 = time.time()
        st, _ = completion(port, ok_payload, timeout=5)
        took = time.time() - t0
        check("a normal client is served within 1 s during slowloris", st == 200 and took < 1.0, f"{st} in {took:.2f} s")
        time.sleep(2.5)  # past the 2 s head limit
        stop.set()
        t.join()
        closed = 0
        for s in trickling:
            s.settimeout(0.01)
            try:
                closed += s.recv(1) == b""
            except (ConnectionResetError, BrokenPipeError):
                closed += 1
            except (socket.timeout, BlockingIOError):
                pass
            s.close()
        check("trickling heads are cut at the head time limit", closed == 1000, f"{closed} of 1000 closed")
        check("slowloris memory", rss_mb(pid) - base < 64, f"{rss_mb(pid) - base:.1f} MB")

        # Over-limit bodies: 413 whatever the framing or encoding, without authentication.
        base = rss_mb(pid)
        big = b"x" * (BODY_LIMIT + 1)
        head_only = b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n"
        check("413 for a Content-Length over the limit", status_of(raw(port, head_only)) == 413)
        chunked = b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        for _ in range(40):
            chunked += b"1000\r\n" + b"y" * 4096 + b"\r\n"
        chunked += b"0\r\n\r\n"
        check("413 for a chunked body over the limit", status_of(raw(port, chunked)) == 413)
        bomb = b"{" + b" " * (40 << 20)  # 40 MB decoded from ~40 KB: under the limit as sent
        for name, data in (("gzip", gzip.compress(bomb, 9)), ("deflate", zlib.compress(bomb, 9))):
            r = raw(port, post("/v1/completions", data, {"Content-Encoding": name}))
            check(f"413 for a {name} body of {len(data)} bytes, over the limit once decoded",
                  len(data) < BODY_LIMIT and status_of(r) == 413 and b"once decoded" in r, r[:80])
        check("415 for an unknown Content-Encoding", status_of(raw(port, post("/v1/completions", b"{}", {"Content-Encoding": "br"}))) == 415)
        ok_gzip = gzip.compress(json.dumps(ok_payload).encode())
        r = raw(port, post("/v1/completions", ok_gzip, {"Content-Encoding": "gzip", "Authorization": "Bearer sk-test", "Connection": "close"}))
        check("a gzip body within the limit is served", status_of(r) == 200, r[:120])
        check("over-limit bodies memory", rss_mb(pid) - base < 64, f"{rss_mb(pid) - base:.1f} MB")

        # JSON that nests to amplify memory: refused, 16 at once, memory bounded.
        base = rss_mb(pid)
        results = []

        def nested():
            results.append(status_of(raw(port, post("/v1/completions", b"[" * (BODY_LIMIT - 10), {"Authorization": "Bearer sk-test", "Connection": "close"}))))

        threads = [threading.Thread(target=nested) for _ in range(16)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        check("16 deeply nested bodies at once: 400 each", results == [400] * 16, results)
        check("nested bodies memory", rss_mb(pid) - base < 64, f"{rss_mb(pid) - base:.1f} MB")

        # Pipelining and half-close.
        one = post("/v1/completions", json.dumps(ok_payload).encode(), {"Authorization": "Bearer sk-test"})
        last = post("/v1/completions", json.dumps(ok_payload).encode(), {"Authorization": "Bearer sk-test", "Connection": "close"})
        r = raw(port, one * 3 + last)
        check("4 pipelined requests get 4 answers, in order", r.count(b"HTTP/1.1 200 OK") == 4, r.count(b"HTTP/1.1 200"))
        r = raw(port, one, shut=True)
        check("a client that half-closes gets its answer", b"HTTP/1.1 200 OK" in r and b"text_completion" in r, r[:120])

        # Slow head and body: cut at their limits (2 s), the body one with a 408.
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"prompt\"")
        s.settimeout(5)
        t0 = time.time()
        r = b""
        try:
            while True:
                d = s.recv(4096)
                if not d:
                    break
                r += d
        except OSError:
            pass
        s.close()
        check("a body that stops arriving gets 408 at its limit", status_of(r) == 408 and time.time() - t0 < 3.5, (r[:60], time.time() - t0))

        # Cancellation: a long generation stops within 100 ms of its client's close.
        for stream in (False, True):
            long_req = post("/v1/completions", json.dumps({"prompt": "hello", "max_tokens": 3000, "stream": stream}).encode(),
                            {"Authorization": "Bearer sk-test"})
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(long_req)
            deadline = time.time() + 5
            while health(port)["active"] == 0 and time.time() < deadline:
                time.sleep(0.01)
            time.sleep(0.2)
            s.close()
            t0 = time.time()
            while health(port)["active"] > 0 and time.time() - t0 < 5:
                time.sleep(0.005)
            took = time.time() - t0
            check(f"{'streamed' if stream else 'non-streamed'} generation cancelled within 100 ms of the close",
                  took < 0.1, f"{took * 1000:.0f} ms")

        # Names that are paths: the same 404 as a missing id, whether or not they exist.
        def not_found(name):
            r = raw(port, post("/v1/completions", json.dumps({"model": name, "prompt": "x", "max_tokens": 1}).encode(),
                               {"Authorization": "Bearer sk-test", "Connection": "close"}))
            body = json_body(r) if status_of(r) else None
            msg = body["error"]["message"].replace(name, "NAME") if body else ""
            return status_of(r), body["error"]["type"] if body else None, msg.split(";")[0]

        missing = not_found("nobody/no-such-model")
        for name in ("/etc", "../../etc", "evil/model", "escape/secret", os.path.join(tmp, "outside", "secret")):
            got = not_found(name)
            check(f"'{name}' gets the 404 of a missing id", got[0] == 404 and got[:2] == missing[:2] and
                  got[2].startswith("model 'NAME' is not available"), got)
        st, body = completion(port, {"model": "q05", "prompt": "hi", "max_tokens": 2})
        check("a directory inside --allow-paths is served", st == 200, body)
        check("the server is still healthy", health(port)["status"] == "ok")
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    print("hostile clients:", "all passed" if fails == 0 else f"{fails} failed")
    sys.exit(1 if fails else 0)


main()
