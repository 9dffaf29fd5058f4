// Writes the page's trusted documents (graph/portal/manifest.json) in
// Apollo's persisted-query-manifest format from what codegen generated:
// one entry per operation, id = SHA-256 hex of its body.
import { readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { parse } from 'graphql';

const docs = JSON.parse(readFileSync(new URL('../src/gql/persisted-documents.json', import.meta.url), 'utf8'));
const operations = Object.entries(docs).map(([key, body]) => {
  const id = createHash('sha256').update(body).digest('hex');
  if (key !== `sha256:${id}`) throw new Error(`${key}: the hash is not SHA-256 of the body`);
  const ops = parse(body).definitions.filter((d) => d.kind === 'OperationDefinition');
  if (ops.length !== 1 || !ops[0].name) throw new Error(`${key}: one named operation per document`);
  return { id, name: ops[0].name.value, type: ops[0].operation, body };
});
operations.sort((a, b) => a.name.localeCompare(b.name));
const manifest = { format: 'apollo-persisted-query-manifest', version: 1, operations };
writeFileSync(new URL('../../manifest.json', import.meta.url), JSON.stringify(manifest, null, 2) + '\n');
console.log(`manifest.json: ${operations.length} operations`);
