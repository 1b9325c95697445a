// Fuzzes the /raft wire from a hostile peer: a text frame through
// DecodeRaftMessage (gateway/raft_codec.h); whatever decodes is stepped
// into a real Raft core (a follower of a three-voter cluster, and a
// leader), which must refuse or absorb it without a CHECK.
#include <cstdint>
#include <string>

#include "gateway/raft_codec.h"
#include "raft/node.h"
#include "storage/memory_log_store.h"

using namespace concordance;

namespace {

std::vector<raft::Member> Voters() {
  std::vector<raft::Member> v;
  for (const char* id : {"n1", "n2", "n3"}) {
    raft::Member m;
    m.set_node_id(id);
    m.set_address(std::string(id) + ":4100");
    v.push_back(m);
  }
  return v;
}

void StepInto(const raft::Message& m, bool lead) {
  storage::MemoryLogStore store;
  if (!raft::Node::Bootstrap(&store, Voters()).ok()) return;
  raft::Config c;
  c.id = "n1";
  raft::Node node(c, &store);
  if (lead) {
    node.CampaignNow();
    // Votes from n2 make it leader.
    raft::Ready rd = node.GetReady();
    if (rd.hard_state) (void)store.Save(&*rd.hard_state, rd.entries, nullptr);
    node.Advance();
    raft::Message vote;
    vote.set_from("n2");
    vote.set_to("n1");
    vote.set_term(node.term());
    vote.mutable_request_vote_response()->set_granted(true);
    vote.mutable_request_vote_response()->set_pre_vote(true);
    node.Step(vote);
    vote.mutable_request_vote_response()->set_pre_vote(false);
    vote.set_term(node.term());
    node.Step(vote);
  }
  node.Step(m);
  // Carry out what the message caused, as the pipeline would.
  for (int i = 0; i < 4 && node.HasReady(); ++i) {
    raft::Ready rd = node.GetReady();
    if (rd.snapshot) (void)store.InstallSnapshot(*rd.snapshot);
    (void)store.Save(rd.hard_state ? &*rd.hard_state : nullptr, rd.entries,
                     rd.conf_state ? &*rd.conf_state : nullptr);
    node.Advance();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  size_t binary_length = 0;
  absl::StatusOr<raft::Message> m = gateway::DecodeRaftMessage(
      absl::string_view(reinterpret_cast<const char*>(data), size),
      &binary_length);
  if (!m.ok()) return 0;
  // The transport attaches the binary frame and fixes `to` and `from`.
  if (binary_length > 0 && m->has_install_snapshot()) {
    m->mutable_install_snapshot()->set_data(
        std::string(std::min<size_t>(binary_length, 4096), 'x'));
  }
  m->set_to("n1");
  if (m->from().empty() || m->from() == "n1") m->set_from("n2");
  StepInto(*m, false);
  StepInto(*m, true);
  return 0;
}
