// mtlsaudit test target: the origin article's "improved" Node.js server: a per-request
// log line and a `tlsClientError` listener. log4js is replaced by a few lines that print
// log4js's default layout ("[time] [LEVEL] default - message") so that no npm package is
// needed; the logic is the article's.
const https = require('https');
const fs = require('fs');
const log = (level) => (msg) => console.log(`[${new Date().toISOString()}] [${level}] default - ${msg}`);
const logger = { info: log('INFO'), warn: log('WARN'), error: log('ERROR') };
const options = {
  cert: fs.readFileSync(process.env.CERT),
  key: fs.readFileSync(process.env.KEY),
  ca: [fs.readFileSync(process.env.CA)],
  requestCert: true,
  rejectUnauthorized: true,
};
const server = https.createServer(options, (req, res) => {
  const cert = req.socket.getPeerCertificate();
  if (!cert || !cert.subject) {
    logger.warn('Certificate validation failed - no client certificate presented');
    res.writeHead(401);
    res.end('Unauthorized\n');
    return;
  }
  logger.info(`Successful mTLS connection from ${cert.subject.CN}`);
  res.writeHead(200);
  res.end('Hello World\n');
});
server.on('tlsClientError', (err, tlsSocket) => {
  logger.error(`TLS client error: ${err.message}`);
});
server.listen(Number(process.env.PORT), '127.0.0.1');
