#pragma once
// A certificate authority of a test's own, as a force has its own CA: made by the openssl
// command in a temporary directory for each use, so a client trusts it only through a ca_file
// (the system's CAs know nothing of it).
#include <string>

namespace surveyd::testing {

class TestCa {
 public:
  // Makes ca.pem; server.pem (with server.key), which it signs for the name "localhost" only;
  // and other.pem, another CA that signs nothing of ours.
  TestCa();
  // Removes the directory, unless openssl failed (its log stays for the reader).
  ~TestCa();
  TestCa(const TestCa&) = delete;
  TestCa& operator=(const TestCa&) = delete;

  // False when openssl could not make them; Problem() says where to look.
  bool Made() const { return made_; }
  std::string Problem() const;

  std::string CaFile() const { return dir_ + "/ca.pem"; }
  std::string OtherCaFile() const { return dir_ + "/other.pem"; }
  std::string CertFile() const { return dir_ + "/server.pem"; }
  std::string KeyFile() const { return dir_ + "/server.key"; }
  std::string Dir() const { return dir_; }

 private:
  std::string dir_;
  bool made_ = false;
};

}  // namespace surveyd::testing
