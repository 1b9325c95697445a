// The API's records as concordancectl prints them: JSON with the field
// names of the REST API (docs/api.md: values as JSON, not strings; times
// in Unix ms; expiresAt null without a TTL), and short text for tables
// and change streams.
#ifndef CONCORDANCE_TOOLS_CTL_RECORDS_H_
#define CONCORDANCE_TOOLS_CTL_RECORDS_H_

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <functional>
#include <string>

#include "proto/concordance/v1/cluster.pb.h"
#include "proto/concordance/v1/kv.pb.h"
#include "proto/concordance/v1/types.pb.h"

namespace concordance::ctl {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

// The text `write` produces.
std::string Json(const std::function<void(JsonWriter&)>& write);

void WriteString(JsonWriter& w, const std::string& s);
// Unix ms, or null for 0 (no expiry).
void WriteTimeOrNull(JsonWriter& w, int64_t unix_ms);

void WriteEntry(JsonWriter& w, const v1::Entry& e);
// {version, seq, updatedAt, expiresAt}
void WritePutResult(JsonWriter& w, const v1::PutResponse& r);
// A watch/change event: {seq, op, namespace, key, value, version, actor,
// timestamp, tenantId}.
void WriteChange(JsonWriter& w, const v1::ChangeEvent& c);
// {nodeId, address}, or null when unset.
void WriteLeader(JsonWriter& w, const v1::StatusResponse& s);

// "2026-12-01T10:00:00.123Z"; "-" for 0.
std::string Time(int64_t unix_ms);
// One line per change: "7 set tenant:acme/s theme v2 "dark"" (no value
// for delete and expire).
std::string ChangeLine(const v1::ChangeEvent& c);

}  // namespace concordance::ctl

#endif  // CONCORDANCE_TOOLS_CTL_RECORDS_H_
