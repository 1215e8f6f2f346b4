#include "fakes/test_ca.hpp"

#include <stdlib.h>

#include <cstdlib>
#include <fstream>

namespace surveyd::testing {

TestCa::TestCa() {
  char dir_template[] = "/tmp/surveyd-tls-XXXXXX";
  const char* made_dir = mkdtemp(dir_template);
  if (made_dir == nullptr) return;
  dir_ = made_dir;
  const std::string script = R"(set -e
key="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
openssl req -x509 $key -keyout ca.key -out ca.pem -days 2 -subj "/CN=surveyd test CA"
openssl req -x509 $key -keyout other.key -out other.pem -days 2 -subj "/CN=other CA"
openssl req $key -keyout server.key -out server.csr -subj "/CN=localhost"
printf "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n" >ext.cnf
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem \
  -days 2 -extfile ext.cnf
)";
  std::ofstream(dir_ + "/make.sh") << script;
  made_ = std::system(("cd " + dir_ + " && bash make.sh >openssl.log 2>&1").c_str()) == 0;
}

TestCa::~TestCa() {
  if (made_) std::system(("rm -rf " + dir_).c_str());
}

std::string TestCa::Problem() const {
  if (dir_.empty()) return "no temporary directory for the test CA";
  return "openssl could not make the test CA; see " + dir_ + "/openssl.log";
}

}  // namespace surveyd::testing
