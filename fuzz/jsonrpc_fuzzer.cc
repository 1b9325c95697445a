// Fuzzes JSON-RPC decoding on /stream: one text message through the
// connection's dispatcher (gateway/rpc_connection.h) against a fake API.
// Every reply must parse as JSON; nothing may crash or hang.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "gateway/json.h"
#include "gateway/rpc_connection.h"
#include "gateway/testing/fake_api.h"

using namespace concordance::gateway;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  testing::FakeApi api;
  std::vector<std::string> sent;
  RpcConnection::Hooks hooks;
  hooks.send = [&sent](std::string s) { sent.push_back(std::move(s)); };
  auto conn = std::make_shared<RpcConnection>(
      api.api(), Caller{Access::kWrite, true, "api"}, RpcConnection::Options(),
      hooks, nullptr);
  // A message may also be split in two: the second half is a request of
  // its own on the same connection (subscriptions carry over).
  std::string text(reinterpret_cast<const char*>(data), size);
  size_t cut = text.find('\n');
  conn->OnText(text.substr(0, cut));
  if (cut != std::string::npos) conn->OnText(text.substr(cut + 1));
  conn->Closed();
  for (const std::string& s : sent) {
    if (!ParseJson(s, 1000).ok()) {  // a reply that is not JSON
      fprintf(stderr, "reply is not JSON: %s\n", s.c_str());
      abort();
    }
  }
  return 0;
}
