// The real graphql-ws client (the one the page bundles) against portald,
// for resolvers' TestGraphQLWSClient: it runs one scenario and prints what
// the client saw, one JSON object a line, so that the Go test can check the
// close codes and what the client retried or gave up on.
//   node --experimental-websocket graphqlws-client.mjs SCENARIO URL TOKEN PROPERTY
import { createClient } from 'graphql-ws';

const [scenario, url, token, property] = process.argv.slice(2);
const print = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const unitSub = 'subscription($p: ID!) { unitUpdated(propertyId: $p) { description } }';

let inits = 0;
let connected;
const isConnected = new Promise((r) => (connected = r));
const options = {
  url,
  connectionParams: async () => {
    inits++;
    if (scenario === 'late-init' && inits === 1) await sleep(6000);
    return { Authorization: token };
  },
  retryAttempts: 2,
  retryWait: () => sleep(50),
  on: {
    connecting: () => print({ event: 'connecting' }),
    connected: () => {
      print({ event: 'connected' });
      connected();
    },
    closed: (e) => print({ event: 'closed', code: e?.code, reason: e?.reason }),
  },
};
if (scenario === 'same-id') options.generateID = () => 'same';
const client = createClient(options);

// run subscribes and resolves with how the operation ended.
const run = (payload) =>
  new Promise((resolve) => {
    client.subscribe(payload, {
      next: (v) => print({ event: 'next', data: v.data ?? null, errors: v.errors ?? null }),
      error: (e) => resolve({ event: 'error', code: e?.code ?? null, message: e?.message ?? String(e) }),
      complete: () => resolve({ event: 'complete' }),
    });
  });

const scenarios = {
  // A query and a mutation over the socket, then a subscription the server
  // ends by revoking the credential (the Go side disables the unit when it
  // sees the first event).
  async revoked() {
    print(await run({ query: 'query($p: ID!) { unit(propertyId: $p) { number } }', variables: { p: property } }));
    print(await run({ query: 'mutation($p: ID!) { updateUnit(propertyId: $p, input: { description: "from node" }) { description } }', variables: { p: property } }));
    print(await run({ query: unitSub, variables: { p: property } }));
  },
  // Two subscriptions under one id: 4409.
  async 'same-id'() {
    const a = run({ query: unitSub, variables: { p: property } });
    const b = run({ query: unitSub, variables: { p: property } });
    print(await Promise.race([a, b]));
  },
  // connection_init after the server's 5 s: 4408, then a retry that works.
  async 'late-init'() {
    print(await run({ query: '{ __typename }' }));
  },
  // Subscribing far faster than a page ever does: 1008, then a retry.
  async flood() {
    client.subscribe({ query: unitSub, variables: { p: property } }, { next() {}, error() {}, complete() {} });
    await isConnected;
    for (let i = 0; i < 200; i++) {
      const stop = client.subscribe({ query: unitSub, variables: { p: property } }, { next() {}, error() {}, complete() {} });
      await new Promise((r) => setImmediate(r)); // the client sends the subscribe
      stop();
    }
    await sleep(500);
    print(await run({ query: '{ __typename }' }));
  },
};

try {
  await scenarios[scenario]();
} catch (e) {
  print({ event: 'thrown', message: String(e) });
}
await client.dispose();
print({ event: 'done' });
process.exit(0);
