"""Remediation texts, keyed by the probe metadata's ``remediation`` field and by rule id."""

from __future__ import annotations

PROBE_REMEDIATION: dict[str, str] = {
    "success-logging": (
        "Log every successful mTLS authentication with the client's subject, serial and "
        "SHA-256 fingerprint (nginx: $ssl_client_s_dn $ssl_client_serial $ssl_client_fingerprint "
        "in log_format)."
    ),
    "require-client-cert": (
        "Require a client certificate (nginx `ssl_verify_client on`, HAProxy `verify required`, "
        "Go `RequireAndVerifyClientCert`, Node `requestCert + rejectUnauthorized`)."
    ),
    "verify-chain": (
        "Verify the client chain against only the CA(s) meant to issue client certificates; never "
        "accept self-signed or unknown issuers (nginx `ssl_verify_client on`, not `optional_no_ca`)."
    ),
    "verify-dates": "Reject client certificates outside their validity period; keep the server clock synced.",
    "verify-purpose": "Reject client certificates whose extended key usage lacks clientAuth.",
    "security-level": (
        "Refuse weak client keys and SHA-1 signatures (OpenSSL security level 2: `CipherString = DEFAULT:@SECLEVEL=2`)."
    ),
    "escape-fields": (
        "Escape attacker-controlled certificate fields (CR, LF, ESC, other control characters, "
        "bidi overrides) before logging, or log structured JSON with a proper encoder."
    ),
    "pin-identity": (
        "Tell identities apart by key, not by name: log serial and fingerprint on success, and "
        "pin expected fingerprints for high-value clients."
    ),
    "log-serial": "Log the client certificate's serial and SHA-256 fingerprint, not only its CN.",
    "modern-protocols": (
        "Accept TLS 1.2 and 1.3 only (nginx `ssl_protocols TLSv1.2 TLSv1.3`, HAProxy `ssl-min-ver TLSv1.2`, "
        "Go `MinVersion: tls.VersionTLS12`, Node `minVersion: 'TLSv1.2'`) and keep TLS_FALLBACK_SCSV support."
    ),
    "modern-ciphers": "Offer only AEAD suites with forward secrecy; never NULL, EXPORT, RC4 or 3DES.",
    "check-revocation": (
        "Check client certificates against the CA's CRL (nginx `ssl_crl`, HAProxy `crl-file`, Apache "
        "`SSLCARevocationFile`, Node `crl`, Python `VERIFY_CRL_CHECK_LEAF`) or OCSP (nginx `ssl_ocsp on`); "
        "Go's crypto/tls has none: check in VerifyPeerCertificate. Reload the CRL before it expires."
    ),
}

RULE_REMEDIATION: dict[str, str] = {
    "MTLS-L001": (
        "Log every rejected client certificate: nginx `error_log … info` plus a log_format "
        "with $ssl_client_verify; HAProxy `error-log-format`; Node a `secureConnection` check "
        "with rejectUnauthorized:false; Python servers `mtlsaudit.guard`."
    ),
    "MTLS-L002": PROBE_REMEDIATION["success-logging"],
    "MTLS-L003": (
        "Put the client identity in the failure record: subject DN, serial and SHA-256 "
        "fingerprint (ECS tls.client.x509.*, tls.client.hash.sha256)."
    ),
    "MTLS-L004": (
        "Log why the certificate was refused, in words that name the defect (the OpenSSL verify "
        "error, e.g. nginx $ssl_client_verify = `FAILED:certificate has expired`)."
    ),
    "MTLS-L005": "Log authentication failures at WARN or above (syslog ≤ 4, OTel SeverityNumber ≥ 13).",
    "MTLS-L006": "Log the client's source address and port (nginx $remote_addr:$remote_port).",
    "MTLS-L007": PROBE_REMEDIATION["log-serial"],
    "MTLS-L008": PROBE_REMEDIATION["escape-fields"],
    "MTLS-L009": (
        "Never log PEM bodies or keys: log the certificate's subject, serial and SHA-256 "
        "fingerprint instead (nginx $ssl_client_fingerprint, not $ssl_client_escaped_cert)."
    ),
    "MTLS-K001": PROBE_REMEDIATION["modern-protocols"],
    "MTLS-K002": (
        "Log refused handshakes (protocol version, cipher, fallback) with the source ip:port and "
        "OpenSSL's reason: nginx `error_log … info`, HAProxy `error-log-format`, Node `tlsClientError`."
    ),
    "MTLS-R001": PROBE_REMEDIATION["check-revocation"],
}
