// mtlsaudit test target: Go net/http terminating mTLS the usual way
// (RequireAndVerifyClientCert) with the default error log (stderr). Paths and port come
// from the environment.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"log"
	"net/http"
	"os"
)

func main() {
	pool := x509.NewCertPool()
	ca, err := os.ReadFile(os.Getenv("CA"))
	if err != nil || !pool.AppendCertsFromPEM(ca) {
		log.Fatalf("cannot load CA: %v", err)
	}
	server := &http.Server{
		Addr: "127.0.0.1:" + os.Getenv("PORT"),
		TLSConfig: &tls.Config{
			ClientAuth: tls.RequireAndVerifyClientCert,
			ClientCAs:  pool,
		},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("ok\n"))
		}),
	}
	log.Fatal(server.ListenAndServeTLS(os.Getenv("CERT"), os.Getenv("KEY")))
}
