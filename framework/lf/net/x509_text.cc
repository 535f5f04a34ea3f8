#include "lf/net/x509_text.h"

#include <openssl/bio.h>
#include <openssl/x509.h>

#include <ctime>
#include <memory>

namespace lf {

std::string x509_subject(const x509_st* certificate) {
  if (certificate == nullptr) return {};
  const std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  if (bio == nullptr ||
      X509_NAME_print_ex(bio.get(), X509_get_subject_name(certificate), 0, XN_FLAG_RFC2253) < 0) {
    return {};
  }
  char* text = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &text);
  return std::string(text, static_cast<std::size_t>(size));
}

std::string x509_expiry(const x509_st* certificate) {
  if (certificate == nullptr) return {};
  std::tm when{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(certificate), &when) != 1) return {};
  char text[32];
  return std::string(text, std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &when));
}

}  // namespace lf
