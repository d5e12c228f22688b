// Starts an mlxcpp process for a client test and stops it afterwards.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const mlxcpp = process.env.MLXCPP_BIN ?? new URL("../../build/mlxcpp", import.meta.url).pathname;

// `mlxcpp serve` on a free port; resolves to { url, stop, logs }.
export async function startServer(args = []) {
  const dir = mkdtempSync(join(tmpdir(), "mlxcpp-serve-"));
  const portFile = join(dir, "port");
  const child = spawn(mlxcpp, ["serve", "--port", "0", "--port-file", portFile, ...args], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, HF_HUB_CACHE: join(dir, "hub"), HF_HUB_OFFLINE: "1" },
  });
  let logs = "";
  child.stderr.on("data", (d) => (logs += d));
  for (let i = 0; i < 400 && !existsSync(portFile); i++) {
    if (child.exitCode !== null) throw new Error(`mlxcpp serve exited: ${logs}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  const port = Number(readFileSync(portFile, "utf8").trim());
  return {
    url: `http://127.0.0.1:${port}`,
    logs: () => logs,
    stop: async () => {
      child.kill("SIGTERM");
      await new Promise((r) => child.exitCode !== null ? r() : child.on("exit", r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
