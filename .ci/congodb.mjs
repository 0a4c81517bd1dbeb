// Starts CongoDB, the in-memory MongoDB wire-protocol server inside the npm package
// @push.rocks/smartmongo, on 127.0.0.1 and keeps it running until SIGTERM or SIGINT.
//
//   node .ci/congodb.mjs <install dir> <port>
//
// <install dir> is where .ci/mongo.sh installed it (var/congodb). The server is imported
// from there by path, because Node resolves bare imports from the script's own folder.
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const [installDir, port = "27017"] = process.argv.slice(2);
if (!installDir) {
  console.error("usage: node .ci/congodb.mjs <install dir> <port>");
  process.exit(2);
}
const entry = join(resolve(installDir), "node_modules/@push.rocks/smartmongo/dist_ts/congodb/index.js");
const { CongoServer } = await import(pathToFileURL(entry).href);

const server = new CongoServer({ host: "127.0.0.1", port: Number(port) });
await server.start();
console.log(`CongoDB listening on 127.0.0.1:${port}`);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await server.stop();
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
