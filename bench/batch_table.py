"""The table of bench/batch_curve.sh: one `mlxcpp bench --batch B --json` line per B on
stdin; argv[1] is the device's memory bandwidth in GB/s."""
import json
import sys

peak = float(sys.argv[1]) * 1e9
print(f"{'B':>3} {'prefill tok/s':>14} {'decode tok/s':>13} {'per seq':>9} {'GB/s':>8} {'of peak':>8}")
for line in sys.stdin:
    r = json.loads(line)
    b, tps = r["batch"], r["decode_tps"]
    steps = tps / b
    # KV read per step: each sequence's prompt and, on average, half of its generated tokens.
    positions = r["n_prompt"] + r["n_gen"] / 2
    kv = b * r["kv_bytes_per_sequence"] * positions / (r["n_prompt"] + r["n_gen"])
    gbs = (r["weights_bytes"] + kv) * steps / 1e9
    print(f"{b:>3} {r['prefill_tps']:>14.1f} {tps:>13.1f} {tps / b:>9.1f} {gbs:>8.1f} {gbs * 1e9 / peak:>8.1%}")
