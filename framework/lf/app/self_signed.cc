#include "lf/app/self_signed.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <utility>

#include "lf/net/tls_error.h"

namespace lf::app {

namespace {

template <auto Free>
struct Deleter {
  template <typename T>
  void operator()(T* p) const noexcept {
    Free(p);
  }
};
using Key = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using KeyContext = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX_free>>;
using Certificate = std::unique_ptr<X509, Deleter<X509_free>>;
using Extension = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;
using BigNumber = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
struct CloseFile {
  void operator()(FILE* file) const noexcept { std::fclose(file); }
};
using File = std::unique_ptr<FILE, CloseFile>;

// The names a browser, curl or redis-cli on this machine may use to reach a local server.
constexpr const char* kCommonName = "localhost";
// The organisation name ensure_self_signed() knows its own certificates by.
constexpr std::string_view kOrganisation = "lf self-signed";
constexpr const char* kSubjectAltName = "DNS:localhost,IP:127.0.0.1,IP:::1";

[[noreturn]] void fail(std::string_view what) {
  throw std::runtime_error(
      fmt::format("self-signed certificate: {}: {}", what, tls_error_string()));
}

[[noreturn]] void fail_errno(std::string_view what, const std::string& path, int error = errno) {
  throw std::runtime_error(fmt::format("self-signed certificate: {} {}: {}", what, path,
                                       std::system_category().message(error)));
}

Key make_key() {
  const KeyContext context(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  if (context == nullptr || EVP_PKEY_keygen_init(context.get()) != 1 ||
      EVP_PKEY_CTX_set_group_name(context.get(), SN_X9_62_prime256v1) != 1) {
    fail("cannot set up P-256 key generation");
  }
  EVP_PKEY* key = nullptr;
  if (EVP_PKEY_generate(context.get(), &key) != 1) fail("cannot generate a P-256 key");
  return Key(key);
}

void add_extension(X509* cert, X509V3_CTX* context, int nid, const char* value) {
  const Extension extension(X509V3_EXT_conf_nid(nullptr, context, nid, value));
  if (extension == nullptr || X509_add_ext(cert, extension.get(), -1) != 1) {
    fail(fmt::format("cannot add the extension {}", value));
  }
}

Certificate make_certificate(EVP_PKEY* key, int days) {
  Certificate cert(X509_new());
  if (cert == nullptr || X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    fail("cannot create a certificate");
  }
  // A random positive 127-bit serial: two certificates made here never share one, so a client
  // that cached an older one for this issuer name does not confuse them.
  const BigNumber serial(BN_new());
  if (serial == nullptr || BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    fail("cannot set a serial number");
  }
  // An hour back: a client whose clock is a little behind still accepts it at once.
  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), days, 0, nullptr) == nullptr) {
    fail("cannot set the validity period");
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>(kOrganisation.data()),
                                 static_cast<int>(kOrganisation.size()), -1, 0) != 1 ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>(kCommonName), -1, -1,
                                 0) != 1 ||
      X509_set_issuer_name(cert.get(), name) != 1 || X509_set_pubkey(cert.get(), key) != 1) {
    fail("cannot set the names or the public key");
  }
  // Clients match the name against the SAN only (RFC 6125); a server certificate, not a CA, so
  // that browsers accept it as one once trusted.
  X509V3_CTX context;
  X509V3_set_ctx(&context, cert.get(), cert.get(), nullptr, nullptr, 0);
  add_extension(cert.get(), &context, NID_subject_alt_name, kSubjectAltName);
  add_extension(cert.get(), &context, NID_basic_constraints, "critical,CA:FALSE");
  add_extension(cert.get(), &context, NID_key_usage, "critical,digitalSignature");
  add_extension(cert.get(), &context, NID_ext_key_usage, "serverAuth");
  add_extension(cert.get(), &context, NID_subject_key_identifier, "hash");
  add_extension(cert.get(), &context, NID_authority_key_identifier, "keyid:always");
  if (X509_sign(cert.get(), key, EVP_sha256()) == 0) fail("cannot sign the certificate");
  return cert;
}

// A file written in full beside its final name (`path`.new, with `mode`) and moved into place
// by commit(); dropped if never committed, so no half-written key is left behind.
class StagedFile {
 public:
  template <typename Write>
  StagedFile(std::string path, mode_t mode, Write write)
      : path_(std::move(path)), temporary_(path_ + ".new") {
    const int fd = ::open(temporary_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) fail_errno("cannot create", temporary_);
    // The destructor does not run when the constructor throws: the file goes here then.
    try {
      // O_CREAT's mode does not apply to a file that was already there (a leftover .new).
      if (::fchmod(fd, mode) != 0) {
        const int error = errno;
        ::close(fd);
        fail_errno("cannot set the mode of", temporary_, error);
      }
      File file(::fdopen(fd, "w"));
      if (file == nullptr) {
        const int error = errno;
        ::close(fd);
        fail_errno("cannot open", temporary_, error);
      }
      if (!write(file.get())) fail(fmt::format("cannot write {}", temporary_));
      if (std::fflush(file.get()) != 0 || ::fsync(fd) != 0) fail_errno("cannot write", temporary_);
    } catch (...) {
      ::unlink(temporary_.c_str());
      throw;
    }
    staged_ = true;
  }
  ~StagedFile() {
    if (staged_) ::unlink(temporary_.c_str());
  }
  StagedFile(const StagedFile&) = delete;
  StagedFile& operator=(const StagedFile&) = delete;

  void commit() {
    if (::rename(temporary_.c_str(), path_.c_str()) != 0) fail_errno("cannot rename", temporary_);
    staged_ = false;
  }

 private:
  std::string path_;
  std::string temporary_;
  bool staged_ = false;
};

Certificate read_certificate(const std::string& path) {
  const File file(std::fopen(path.c_str(), "re"));
  if (file == nullptr) fail_errno("cannot open", path);
  Certificate cert(PEM_read_X509(file.get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) fail(fmt::format("cannot read the certificate {}", path));
  return cert;
}

// A certificate make_certificate() made: self-issued with its organisation name.
bool made_here(X509* cert) {
  X509_NAME* subject = X509_get_subject_name(cert);
  const int at = X509_NAME_get_index_by_NID(subject, NID_organizationName, -1);
  if (at < 0 || X509_NAME_cmp(subject, X509_get_issuer_name(cert)) != 0) return false;
  const ASN1_STRING* value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at));
  return std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                          static_cast<std::size_t>(ASN1_STRING_length(value))) == kOrganisation;
}

Key read_key(const std::string& path) {
  const File file(std::fopen(path.c_str(), "re"));
  if (file == nullptr) fail_errno("cannot open", path);
  Key key(PEM_read_PrivateKey(file.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) fail(fmt::format("cannot read the private key {}", path));
  return key;
}

}  // namespace

void write_self_signed(const std::string& cert_file, const std::string& key_file, int days) {
  ERR_clear_error();
  const Key key = make_key();
  const Certificate cert = make_certificate(key.get(), days);
  // Both written in full before either replaces anything: a failed write (a full disk) leaves the
  // old pair as it was. Only a crash between the two renames can part them, and
  // ensure_self_signed() makes such a pair anew since it recognises its own certificate.
  StagedFile staged_key(key_file, 0600, [&](FILE* file) {
    return PEM_write_PrivateKey(file, key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
  });
  StagedFile staged_cert(cert_file, 0644,
                         [&](FILE* file) { return PEM_write_X509(file, cert.get()) == 1; });
  staged_key.commit();
  staged_cert.commit();
}

SelfSignedFiles ensure_self_signed(const std::string& dir) {
  namespace fs = std::filesystem;
  SelfSignedFiles files{.cert = (fs::path(dir) / "cert.pem").string(),
                        .key = (fs::path(dir) / "key.pem").string(),
                        .created = false};
  const bool have_cert = fs::exists(files.cert);
  // A certificate without its key is someone's own, not to be overwritten; a key without its
  // certificate is what an interrupted first run leaves (the key is written first), made anew.
  if (have_cert && !fs::exists(files.key)) {
    throw std::runtime_error(fmt::format(
        "self-signed certificate: {} is there but its key {} is not", files.cert, files.key));
  }
  if (have_cert) {
    ERR_clear_error();
    const Certificate cert = read_certificate(files.cert);
    const Key key = read_key(files.key);
    const bool matching = X509_check_private_key(cert.get(), key.get()) == 1;
    ERR_clear_error();  // the mismatch's reason, if any, is not a failure when it is ours
    if (!matching && !made_here(cert.get())) {
      fail(fmt::format("the key {} does not match the certificate {}", files.key, files.cert));
    }
    // Expired: replaced, as on first run (a client trusting the old one must fetch the new one).
    // A pair of ours that does not match is what a renewal stopped between its renames leaves.
    if (matching && X509_cmp_current_time(X509_get0_notAfter(cert.get())) > 0) return files;
  }
  std::error_code error;
  if (fs::create_directories(dir, error)) {
    // Only the directory made here: one that was there keeps the mode its owner gave it.
    fs::permissions(dir, fs::perms::owner_all, error);
  }
  if (error) {
    throw std::runtime_error(
        fmt::format("self-signed certificate: cannot create {}: {}", dir, error.message()));
  }
  write_self_signed(files.cert, files.key);
  files.created = true;
  return files;
}

}  // namespace lf::app
