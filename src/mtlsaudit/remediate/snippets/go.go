// mtlsaudit remediation: Go net/http with mTLS audit logging (Go >= 1.19).
// With RequireAndVerifyClientCert, crypto/tls verifies before any of your code runs and
// the only trace of a rejection is "http: TLS handshake error from ip:port: ..." without
// the certificate. Here the handshake asks for any certificate, VerifyPeerCertificate
// runs the same x509 verification itself, and one JSON event is written for every
// rejection and every success. Enforcement is unchanged: an unverified chain still fails
// the handshake. Run as is: CERT, KEY, CA (PEM paths) and PORT come from the environment.
// crypto/tls checks no CRL and no OCSP: verify() below also checks the CA's CRL (file in
// CRL, PEM), which Go would otherwise ignore, accepting revoked certificates.
package main

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// audit writes one JSON line. encoding/json escapes control characters; the rest of
// the non-ASCII range (bidi overrides included) is escaped below.
func audit(level string, fields map[string]any) {
	fields["@timestamp"] = time.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00")
	fields["log.level"] = level
	raw, _ := json.Marshal(fields)
	var b strings.Builder
	for _, r := range string(raw) {
		if r > 0x7e {
			if r > 0xffff {
				b.WriteString(fmt.Sprintf("\\u%04x\\u%04x", 0xd800+((r-0x10000)>>10), 0xdc00+((r-0x10000)&0x3ff)))
			} else {
				b.WriteString(fmt.Sprintf("\\u%04x", r))
			}
			continue
		}
		b.WriteRune(r)
	}
	out := os.Stdout
	if level != "info" {
		out = os.Stderr
	}
	fmt.Fprintln(out, b.String())
}

func certFields(f map[string]any, cert *x509.Certificate) {
	sum := sha256.Sum256(cert.Raw)
	f["tls.client.x509.subject.distinguished_name"] = cert.Subject.String()
	f["tls.client.x509.issuer.distinguished_name"] = cert.Issuer.String()
	f["tls.client.x509.serial_number"] = strings.ToUpper(cert.SerialNumber.Text(16))
	f["tls.client.hash.sha256"] = strings.ToUpper(hex.EncodeToString(sum[:]))
}

func main() {
	pool := x509.NewCertPool()
	ca, err := os.ReadFile(os.Getenv("CA"))
	if err != nil || !pool.AppendCertsFromPEM(ca) {
		log.Fatalf("cannot load CA: %v", err)
	}
	revoked, err := loadCRL(os.Getenv("CRL"), ca)
	if err != nil {
		log.Fatalf("cannot load CRL: %v", err)
	}
	keyPair, err := tls.LoadX509KeyPair(os.Getenv("CERT"), os.Getenv("KEY"))
	if err != nil {
		log.Fatalf("cannot load server certificate: %v", err)
	}
	config := &tls.Config{
		Certificates: []tls.Certificate{keyPair},
		// Ask for a certificate without letting crypto/tls reject it silently...
		ClientAuth: tls.RequireAnyClientCert,
		MinVersion: tls.VersionTLS12,
	}
	config.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		c := config.Clone()
		c.GetConfigForClient = nil
		remote := hello.Conn.RemoteAddr().(*net.TCPAddr)
		base := func() map[string]any {
			return map[string]any{
				"source.ip": remote.IP.String(), "source.port": remote.Port,
				"tls.client.server_name": hello.ServerName,
			}
		}
		// ...and verify it here, where the certificate and the client are both known.
		c.VerifyPeerCertificate = func(rawCerts [][]byte, _ [][]*x509.Certificate) error {
			f := base()
			err := verify(rawCerts, pool, revoked, f)
			if err != nil {
				f["event.action"], f["event.outcome"], f["event.reason"] = "mtls-reject", "failure", err.Error()
				audit("warn", f)
				return err
			}
			f["event.action"], f["event.outcome"] = "mtls-accept", "success"
			audit("info", f)
			return nil
		}
		return c, nil
	}
	server := &http.Server{
		Addr:      "127.0.0.1:" + os.Getenv("PORT"),
		TLSConfig: config,
		// Other handshake failures (no certificate, protocol, ciphers) keep Go's line,
		// which names the reason and ip:port; it goes to stderr with a timestamp.
		ErrorLog: log.New(os.Stderr, "", log.LstdFlags|log.Lmicroseconds|log.LUTC),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("ok\n"))
		}),
	}
	log.Fatal(server.ListenAndServeTLS("", ""))
}

// loadCRL reads a PEM CRL signed by the CA and returns its revoked serials (none if path is "").
func loadCRL(path string, caPEM []byte) (map[string]bool, error) {
	revoked := map[string]bool{}
	if path == "" {
		return revoked, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block in CRL file")
	}
	crl, err := x509.ParseRevocationList(block.Bytes)
	if err != nil {
		return nil, err
	}
	caBlock, _ := pem.Decode(caPEM)
	caCert, err := x509.ParseCertificate(caBlock.Bytes)
	if err != nil {
		return nil, err
	}
	if err := crl.CheckSignatureFrom(caCert); err != nil {
		return nil, fmt.Errorf("CRL not signed by the CA: %w", err)
	}
	for _, entry := range crl.RevokedCertificates {
		revoked[entry.SerialNumber.String()] = true
	}
	return revoked, nil
}

func verify(rawCerts [][]byte, roots *x509.CertPool, revoked map[string]bool, f map[string]any) error {
	if len(rawCerts) == 0 {
		return errors.New("tls: client didn't provide a certificate")
	}
	certs := make([]*x509.Certificate, 0, len(rawCerts))
	for _, raw := range rawCerts {
		cert, err := x509.ParseCertificate(raw)
		if err != nil {
			return fmt.Errorf("x509: cannot parse client certificate: %w", err)
		}
		certs = append(certs, cert)
	}
	certFields(f, certs[0])
	inter := x509.NewCertPool()
	for _, cert := range certs[1:] {
		inter.AddCert(cert)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err == nil && revoked[certs[0].SerialNumber.String()] {
		err = errors.New("x509: certificate revoked (serial on the CA's CRL)")
	}
	return err
}
