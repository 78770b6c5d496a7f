// mtlsaudit remediation: Node.js https with mTLS audit logging (Node >= 18).
// With rejectUnauthorized:true Node drops a rejected client before any of your code
// runs: `tlsClientError` sees only "socket hang up", without address or reason. So let
// the handshake finish (rejectUnauthorized:false), decide yourself from
// socket.authorized / authorizationError, log one JSON event, and drop the connection.
// Enforcement is unchanged: nothing reaches the request handler unless authorized.
// Run as is: CERT, KEY, CA (PEM paths), PORT and optionally CRL come from the environment.
const https = require('https');
const fs = require('fs');

// One JSON line per event. JSON.stringify escapes CR/LF/ESC; the replace also escapes
// every non-ASCII character, so bidi overrides in a certificate cannot hide text.
function audit(level, fields) {
  const event = { '@timestamp': new Date().toISOString(), 'log.level': level, ...fields };
  const line = JSON.stringify(event).replace(/[\u007f-\uffff]/g,
    (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
  (level === 'info' ? process.stdout : process.stderr).write(line + '\n');
}

// DER of the OIDs sha1WithRSAEncryption and ecdsa-with-SHA1.
const SHA1_OIDS = [Buffer.from('06092a864886f70d010105', 'hex'), Buffer.from('06072a8648ce3d0401', 'hex')];

function clientFields(socket) {
  const cert = socket.getPeerCertificate();
  const present = cert && Object.keys(cert).length > 0;
  return {
    'source.address': socket.remoteAddress,
    'source.port': socket.remotePort,
    'tls.version': socket.getProtocol(),
    'tls.client.server_name': socket.servername || undefined,
    'tls.client.x509.subject.distinguished_name': present ? cert.subject && JSON.stringify(cert.subject) : undefined,
    'tls.client.x509.issuer.distinguished_name': present ? cert.issuer && JSON.stringify(cert.issuer) : undefined,
    'tls.client.x509.serial_number': present ? cert.serialNumber : undefined,
    'tls.client.hash.sha256': present ? cert.fingerprint256.replace(/:/g, '') : undefined,
    present,
  };
}

const server = https.createServer({
  cert: fs.readFileSync(process.env.CERT),
  key: fs.readFileSync(process.env.KEY),
  ca: [fs.readFileSync(process.env.CA)],
  // Revocation: one Buffer per CRL (a file holding several CRLs is read as only the first).
  crl: process.env.CRL ? [fs.readFileSync(process.env.CRL)] : undefined,
  requestCert: true,
  rejectUnauthorized: false, // we reject below, after logging
}, (req, res) => {
  res.writeHead(200);
  res.end('ok\n');
});

server.on('secureConnection', (socket) => {
  const { present, ...fields } = clientFields(socket);
  if (socket.authorized) {
    audit('info', { 'event.action': 'mtls-accept', 'event.outcome': 'success', ...fields });
    return;
  }
  // Node reports a missing certificate as UNABLE_TO_GET_ISSUER_CERT: say what happened.
  let reason = present ? String(socket.authorizationError) : 'no client certificate presented';
  // Node has no name for some OpenSSL verify errors (a SHA-1 signature is "UNSPECIFIED").
  if (reason === 'UNSPECIFIED' && SHA1_OIDS.some((oid) => socket.getPeerCertificate().raw.includes(oid))) {
    reason = 'UNSPECIFIED: certificate signature digest algorithm too weak (SHA-1)';
  }
  audit('warn', { 'event.action': 'mtls-reject', 'event.outcome': 'failure', 'event.reason': reason, ...fields });
  socket.destroy();
});

// Failures before a certificate is even looked at: protocol version, ciphers, garbage.
server.on('tlsClientError', (err, socket) => {
  audit('warn', {
    'event.action': 'tls-handshake-failure', 'event.outcome': 'failure',
    'event.reason': `${err.code || ''} ${err.message}`.trim(),
    'source.address': socket.remoteAddress, 'source.port': socket.remotePort,
  });
});

server.listen(Number(process.env.PORT), process.env.HOST || '127.0.0.1');
