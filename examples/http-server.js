// One container per HTTP request: POST a shell script, get its output and why it ended.
//   node examples/http-server.js &
//   curl -s --data 'echo hi; uname -a' localhost:8080
'use strict';
const http = require('node:http');
const { Container } = require('..');

const port = Number(process.env.PORT ?? 8080);
const server = http.createServer(async (req, res) => {
  if (req.method !== 'POST') {
    res.writeHead(405).end('POST a shell script\n');
    return;
  }
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 64 * 1024) {
      res.writeHead(413).end('script too large\n');
      return;
    }
  }
  // The client going away ends its container too.
  const ac = new AbortController();
  res.on('close', () => ac.abort());
  try {
    const r = await Container.run({ command: ['/bin/sh', '-c', body], timeout: 5_000, signal: ac.signal });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(`${JSON.stringify({ reason: r.reason, exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, ms: r.durationMs })}\n`);
  } catch (e) {
    if (!res.headersSent) res.writeHead(500).end(`${e.message}\n`);
  }
});
server.listen(port, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${port}`));
module.exports = server;
