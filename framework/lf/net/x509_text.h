// Internal. A certificate's subject and expiry as text, for logs and for handlers
// (StreamConnection::peer_certificate_subject). Thread safe.
#pragma once

#include <string>

struct x509_st;

namespace lf {

// The subject in RFC 2253 form ("CN=alice,O=Example"); empty for null.
[[nodiscard]] std::string x509_subject(const x509_st* certificate);
// The end of the validity period ("2026-12-09 19:13:00 UTC"); empty for null.
[[nodiscard]] std::string x509_expiry(const x509_st* certificate);

}  // namespace lf
