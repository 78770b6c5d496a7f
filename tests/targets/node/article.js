// mtlsaudit test target: Node.js https written the way the origin article's first example
// is (requestCert + rejectUnauthorized, no logging), plus the `ca` option so that the
// test CA's clients can connect at all. Paths and port come from the environment.
const https = require('https');
const fs = require('fs');
const options = {
  cert: fs.readFileSync(process.env.CERT),
  key: fs.readFileSync(process.env.KEY),
  ca: [fs.readFileSync(process.env.CA)],
  requestCert: true,
  rejectUnauthorized: true,
};
const server = https.createServer(options, (req, res) => {
  // No logging of certificate validation failures
  res.writeHead(200);
  res.end('Hello World\n');
});
server.listen(Number(process.env.PORT), '127.0.0.1');
