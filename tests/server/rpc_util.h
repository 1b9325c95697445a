// JSON-RPC helpers for tests over a WsClient.
#ifndef CONCORDANCE_TESTS_SERVER_RPC_UTIL_H_
#define CONCORDANCE_TESTS_SERVER_RPC_UTIL_H_

#include <string>
#include <vector>

#include "tests/lib/clients.h"
#include "tests/lib/node.h"

namespace concordance::testing {

// Sends a request with `id` and returns the response with that id; other
// messages received meanwhile (notifications) are appended to *others.
inline rapidjson::Document Call(WsClient& ws, int id, const std::string& method,
                                const std::string& params_json,
                                std::vector<std::string>* others = nullptr) {
  std::string req = "{\"jsonrpc\":\"2.0\",\"id\":" + std::to_string(id) + ",\"method\":\"" +
                    method + "\",\"params\":" + params_json + "}";
  if (!ws.SendText(req)) return ParseJson("{\"send\":\"failed\"}");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    std::optional<std::string> m = ws.Receive(std::chrono::seconds(10));
    if (!m) break;
    rapidjson::Document d = ParseJson(*m);
    if (d.IsObject() && d.HasMember("id") && d["id"].IsInt() && d["id"].GetInt() == id) return d;
    if (others) others->push_back(*m);
  }
  return ParseJson("{\"timeout\":true}");
}

inline int RpcErrorCode(const rapidjson::Document& d) {
  if (!d.IsObject() || !d.HasMember("error")) return 0;
  return static_cast<int>(JsonInt(d["error"], "code"));
}

}  // namespace concordance::testing

#endif  // CONCORDANCE_TESTS_SERVER_RPC_UTIL_H_
