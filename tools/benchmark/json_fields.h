// Reading the few fields the targets need from JSON answers.
#ifndef CONCORDANCE_TOOLS_BENCHMARK_JSON_FIELDS_H_
#define CONCORDANCE_TOOLS_BENCHMARK_JSON_FIELDS_H_

#include <cstdint>
#include <string>

#include "rapidjson/document.h"

namespace concordance::benchmark {

// obj[name] as an integer (a number, or a string of digits as etcd sends
// them); `fallback` when absent or of another type.
inline int64_t IntField(const rapidjson::Value& obj, const char* name, int64_t fallback = 0) {
  if (!obj.IsObject()) return fallback;
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd()) return fallback;
  if (it->value.IsInt64()) return it->value.GetInt64();
  if (it->value.IsString()) return std::strtoll(it->value.GetString(), nullptr, 10);
  return fallback;
}

inline std::string StringField(const rapidjson::Value& obj, const char* name) {
  if (!obj.IsObject()) return "";
  auto it = obj.FindMember(name);
  return it != obj.MemberEnd() && it->value.IsString() ? it->value.GetString() : "";
}

}  // namespace concordance::benchmark

#endif  // CONCORDANCE_TOOLS_BENCHMARK_JSON_FIELDS_H_
