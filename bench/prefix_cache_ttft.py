#!/usr/bin/env python3
"""Time to first token with and without the prefix cache, against any OpenAI-compatible
server: a cold request (a long shared prefix + a short question), then requests with the
same prefix and another question. Each request asks for one token, so its latency is the
time to its first token. Prints the times, the cached tokens the server reports
(usage.prompt_tokens_details.cached_tokens) and the warm/cold ratio. Builds nothing.

Usage: bench/prefix_cache_ttft.py URL [--prefix-words 3000] [--question-words 40] [--runs 3]
  e.g. build/mlxcpp serve -m /tmp/l1b --port 8080 &  bench/prefix_cache_ttft.py http://127.0.0.1:8080
"""
import argparse, json, random, time, urllib.request

p = argparse.ArgumentParser()
p.add_argument("url")
p.add_argument("--prefix-words", type=int, default=3000)
p.add_argument("--question-words", type=int, default=40)
p.add_argument("--runs", type=int, default=3)
p.add_argument("--model", default="")
a = p.parse_args()

rng = random.Random(time.time_ns())  # a prefix no earlier run left in the cache
words = "luck fortune travel river mountain friend letter morning garden window silver quiet harbour lantern".split()
def text(n):
    return " ".join(rng.choice(words) for _ in range(n))

def complete(prompt):
    body = {"prompt": prompt, "max_tokens": 1, "temperature": 0}
    if a.model:
        body["model"] = a.model
    req = urllib.request.Request(a.url.rstrip("/") + "/v1/completions", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=3600) as r:
        out = json.load(r)
    dt = time.perf_counter() - t0
    u = out["usage"]
    return dt, u["prompt_tokens"], u.get("prompt_tokens_details", {}).get("cached_tokens", 0)

prefix = text(a.prefix_words)
cold = complete(prefix + "\n" + text(a.question_words))
print(f"cold: {cold[0]*1000:9.1f} ms  prompt {cold[1]} tokens, cached {cold[2]}")
warm = []
for i in range(a.runs):
    w = complete(prefix + "\n" + text(a.question_words))
    warm.append(w)
    print(f"warm: {w[0]*1000:9.1f} ms  prompt {w[1]} tokens, cached {w[2]}")
best = min(w[0] for w in warm)
print(f"warm / cold time to first token: {best / cold[0]:.3f} (best of {a.runs}; target <= 0.10)")
