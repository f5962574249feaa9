/**
 * The contender for the cached call: a bare express app in a process of its own (as the gateway
 * is), answering GET / with a fixed JSON body exactly as the gateway sends JSON. Run by
 * bench/cached-call.ts with the body in OMS_BENCH_BODY; prints its URL once it listens.
 */
import express from 'express';

const body = process.env.OMS_BENCH_BODY;
if (body === undefined) throw new Error('OMS_BENCH_BODY is not set');
const app = express();
app.get('/', (_req, res) => {
  res.status(200).type('application/json').send(body);
});
const server = app.listen(0, '127.0.0.1', () => {
  const a = server.address();
  if (a && typeof a === 'object') process.stdout.write(`listening on http://127.0.0.1:${a.port}\n`);
});
