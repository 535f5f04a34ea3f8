// Public (lf::app). A self-signed certificate for trying TLS on one machine: an ECDSA P-256 key and
// an X.509 v3 certificate for "localhost", 127.0.0.1 and ::1, made with OpenSSL's C API. lf-demo
// makes one on first run; tests and perf scripts can too. Thread safe (no shared state), but two
// processes making the same files at once may leave a certificate and a key that do not match.
#pragma once

#include <string>

namespace lf::app {

struct SelfSignedFiles {
  std::string cert;      // PEM certificate: trust it with curl --cacert, redis-cli --tls --cacert
  std::string key;       // PEM private key (PKCS#8, unencrypted), mode 0600
  bool created = false;  // false: both were there already and were reused
};

// Writes a new key to `key_file` (mode 0600) and its certificate, valid for `days` from now, to
// `cert_file`. Both are written in full beside their final names, then renamed into place (the
// key first), so a reader never sees half a file and a failed write leaves the old pair. Throws
// std::runtime_error naming the file and OpenSSL's reason.
void write_self_signed(const std::string& cert_file, const std::string& key_file, int days = 825);

// `dir`/cert.pem and `dir`/key.pem: reused when both are there, the key matches and the
// certificate has not expired; otherwise made (and `dir` created, mode 0700, if missing), also
// when the key does not match a certificate made here (a renewal stopped between its renames).
// Files of your own put there are used as they are. Throws std::runtime_error when a file is
// there but cannot be read, the key does not match a certificate of your own, or a certificate
// has no key.
[[nodiscard]] SelfSignedFiles ensure_self_signed(const std::string& dir);

}  // namespace lf::app
