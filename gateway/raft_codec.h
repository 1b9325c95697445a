// The /raft wire format: one Raft message per WebSocket text frame, as
// compact JSON (RapidJSON; measured against protobuf's JSON mapping in
// tools/bench/raft_codec_bench.cc and docs/benchmarks.md). Entry data is
// base64. The bytes of an InstallSnapshot chunk do not go in the JSON: the
// text frame is a notice carrying their length and the very next frame on
// the connection is a binary frame with the bytes.
#ifndef CONCORDANCE_GATEWAY_RAFT_CODEC_H_
#define CONCORDANCE_GATEWAY_RAFT_CODEC_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/raft.pb.h"

namespace concordance::gateway {

// The WebSocket close code a node sends to a peer that was removed from the
// cluster (the reason text names the configuration index of the removal).
inline constexpr int kPeerRemovedCloseCode = 4410;

// Encodes `m`. For an InstallSnapshot with data, the chunk bytes are moved
// to *binary (else *binary is cleared).
std::string EncodeRaftMessage(const raft::Message& m, std::string* binary);

// Decodes a text frame. *binary_length is the number of snapshot bytes the
// next binary frame must carry (0 when none follow); the caller puts them
// in install_snapshot().data(). InvalidArgument on anything malformed.
absl::StatusOr<raft::Message> DecodeRaftMessage(absl::string_view json, size_t* binary_length);

}  // namespace concordance::gateway

#endif  // CONCORDANCE_GATEWAY_RAFT_CODEC_H_
