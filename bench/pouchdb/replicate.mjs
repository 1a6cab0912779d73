// PouchDB's side of bench/sync_vs_pouchdb.py: one client replicating with pouchdb-server.
//
//   node replicate.mjs push URL DOCS.ndjson DIR   local LevelDB db filled with DOCS (not timed),
//                                                 then replicate.to(URL), timed
//   node replicate.mjs seed URL DOCS.ndjson       DOCS written straight to URL (not timed)
//   node replicate.mjs pull URL DIR               a fresh local LevelDB db; replicate.from(URL), timed
//
// Prints one JSON line: {"docs": written, "seconds": wall time of the replication}.
import { readFileSync } from "node:fs";
import PouchDB from "pouchdb";

const [mode, url, a, b] = process.argv.slice(2);

function docs(file) {
  return readFileSync(file, "utf8").split("\n").filter(Boolean).map((line) => JSON.parse(line));
}

async function fill(db, all) {
  for (let i = 0; i < all.length; i += 500) {
    const answer = await db.bulkDocs(all.slice(i, i + 500));
    const failed = answer.filter((r) => r.error);
    if (failed.length) throw new Error(`bulkDocs: ${JSON.stringify(failed[0])}`);
  }
}

async function timed(replication) {
  const began = process.hrtime.bigint();
  const result = await replication;
  const seconds = Number(process.hrtime.bigint() - began) / 1e9;
  if (!result.ok) throw new Error(`replication failed: ${JSON.stringify(result.errors)}`);
  return { docs: result.docs_written, seconds };
}

if (mode === "push") {
  const local = new PouchDB(b);
  await fill(local, docs(a));
  const out = await timed(local.replicate.to(url, { batch_size: 500 }));
  console.log(JSON.stringify(out));
} else if (mode === "seed") {
  await fill(new PouchDB(url), docs(a));
  console.log(JSON.stringify({ docs: docs(a).length, seconds: 0 }));
} else if (mode === "pull") {
  const local = new PouchDB(a);
  const out = await timed(local.replicate.from(url, { batch_size: 500 }));
  console.log(JSON.stringify(out));
} else {
  console.error("usage: node replicate.mjs push|seed|pull URL ...");
  process.exit(2);
}
