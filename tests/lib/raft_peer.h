// RaftPeer: a test client that speaks the /raft wire (design.md §1: JSON
// Raft messages in text frames, snapshot bytes in the binary frame that
// follows a "snap" notice) to a real node, as a peer — or an attacker with
// the peer key — would.
#ifndef CONCORDANCE_TESTS_LIB_RAFT_PEER_H_
#define CONCORDANCE_TESTS_LIB_RAFT_PEER_H_

#include <cstdint>
#include <map>
#include <string>

#include "tests/lib/clients.h"

namespace concordance::testing {

class RaftPeer {
 public:
  // Upgrades ws://127.0.0.1:port/raft?nodeId=<node_id> with `key` as the
  // bearer token ("" sends none). False with *error otherwise.
  bool Connect(int port, const std::string& node_id, const std::string& key,
               std::string* error = nullptr) {
    std::map<std::string, std::string> headers;
    if (!key.empty()) headers["Authorization"] = "Bearer " + key;
    return ws_.Connect("127.0.0.1", port, "/raft?nodeId=" + node_id, headers, error);
  }
  bool SendText(const std::string& json) { return ws_.SendText(json); }
  bool SendBinary(const std::string& bytes) { return ws_.SendBinary(bytes); }
  // A whole snapshot in one chunk: the notice, then the bytes. `size` and
  // `checksum` are announced as given (a caller may lie).
  bool SendSnapshot(const std::string& from, const std::string& to, uint64_t term,
                    uint64_t index, uint64_t snap_term, uint64_t size, uint64_t checksum,
                    const std::string& bytes, bool done = true) {
    std::string notice = "{\"from\":\"" + from + "\",\"to\":\"" + to +
                         "\",\"term\":" + std::to_string(term) +
                         ",\"type\":\"snap\",\"meta\":{\"index\":" + std::to_string(index) +
                         ",\"term\":" + std::to_string(snap_term) +
                         ",\"size\":" + std::to_string(size) +
                         ",\"checksum\":" + std::to_string(checksum) +
                         ",\"voters\":[[\"" + from + "\",\"127.0.0.1:1\"]],\"learners\":[]}" +
                         ",\"offset\":0,\"done\":" + (done ? "true" : "false") +
                         ",\"dataLength\":" + std::to_string(bytes.size()) + "}";
    return SendText(notice) && SendBinary(bytes);
  }
  WsClient& ws() { return ws_; }

 private:
  WsClient ws_;
};

}  // namespace concordance::testing

#endif  // CONCORDANCE_TESTS_LIB_RAFT_PEER_H_
