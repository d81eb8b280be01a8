/**
 * The cluster benchmark's ceiling: a fastify server set up as a node's HTTP API is (logger off,
 * every body parsed as JSON from a string, PUT /v1/kv/*, a JSON reply with a context header), that
 * keeps each value in a Map and does nothing else: no log, no fdatasync, no core, no peers.
 * Three of these under the same load generator say how many puts/s the HTTP layer alone allows on
 * the machine, so the cluster's figures (and the 5x-etcd target) can be read against it.
 *
 *   node dist/bench/http-ceiling-server.js PORT
 */
import Fastify from 'fastify';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: http-ceiling-server PORT');
  process.exit(2);
}
const app = Fastify({ logger: false });
app.removeAllContentTypeParsers();
app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
  try {
    done(null, JSON.parse(String(body)));
  } catch {
    done(Object.assign(new Error('request body is not valid JSON'), { statusCode: 400 }), undefined);
  }
});
const store = new Map<string, unknown>();
let seq = 0;
app.put('/v1/kv/*', async (req, reply) => {
  const key = (req.params as { '*': string })['*'];
  store.set(key, req.body);
  seq += 1;
  reply.header('Causeway-Context', `node1:${seq}`);
  return { ok: true, key, clock: { node1: seq } };
});
app.get('/v1/status', async () => ({ ok: true, keys: store.size }));
await app.listen({ port, host: '127.0.0.1' });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
