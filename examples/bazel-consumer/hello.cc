// Writes a key to a Concordance cluster and reads it back, through
// Concordance's C++ client library (leader following, safe retries) and
// its generated concordance.v1 messages.
//
//   bazel run //:hello -- 127.0.0.1:4100 [api-key]
#include <iostream>

#include "tools/client/client.h"

int main(int argc, char** argv) {
  concordance::client::Options options;
  options.endpoints = {argc > 1 ? argv[1] : "127.0.0.1:4100"};
  if (argc > 2) options.key = argv[2];
  concordance::client::Client client(options);

  concordance::v1::PutRequest put;
  put.set_namespace_("tenant:consumer/settings");
  put.set_key("greeting");
  put.set_value("\"hello from another workspace\"");
  auto written = client.Put(put);
  if (!written.ok()) {
    std::cerr << "put: " << written.status() << "\n";
    return 1;
  }
  concordance::v1::GetRequest get;
  get.set_namespace_(put.namespace_());
  get.set_key(put.key());
  auto entry = client.Get(get);
  if (!entry.ok()) {
    std::cerr << "get: " << entry.status() << "\n";
    return 1;
  }
  std::cout << entry->key() << " = " << entry->value() << " (version "
            << entry->version() << ", seq " << written->seq() << ")\n";
  return 0;
}
