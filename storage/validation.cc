#include "storage/validation.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace concordance::storage {
namespace {

constexpr absl::string_view kTenantPrefix = "tenant:";

bool HasControlCharacter(absl::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

// Shared by tenant ids and path segments.
absl::Status ValidateSegment(absl::string_view what, absl::string_view s) {
  if (s.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " is empty"));
  if (!IsValidUtf8(s)) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is not valid UTF-8"));
  }
  if (HasControlCharacter(s)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " contains a control character"));
  }
  return absl::OkStatus();
}

}  // namespace

bool IsValidUtf8(absl::string_view s) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(s.data());
  const unsigned char* end = p + s.size();
  while (p < end) {
    unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int n;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0) {
      n = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (end - p <= n) return false;
    for (int i = 1; i <= n; ++i) {
      if ((p[i] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3f);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    p += n + 1;
  }
  return true;
}

absl::Status ValidateNamespace(absl::string_view ns, const Limits& limits) {
  if (ns.size() > limits.max_namespace_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("namespace is ", ns.size(), " bytes; the limit is ",
                     limits.max_namespace_bytes));
  }
  if (!absl::StartsWith(ns, kTenantPrefix)) {
    return absl::InvalidArgumentError(
        "namespace must look like tenant:{tenantId}/{scope_path}");
  }
  absl::string_view rest = ns.substr(kTenantPrefix.size());
  size_t slash = rest.find('/');
  if (slash == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        "namespace needs a scope path after the tenant id: "
        "tenant:{tenantId}/{scope_path}");
  }
  absl::Status s = ValidateSegment("namespace tenant id", rest.substr(0, slash));
  if (!s.ok()) return s;
  for (absl::string_view seg : absl::StrSplit(rest.substr(slash + 1), '/')) {
    s = ValidateSegment("namespace path segment", seg);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ExtractTenantId(absl::string_view ns) {
  if (!absl::StartsWith(ns, kTenantPrefix)) {
    return absl::InvalidArgumentError("namespace does not start with tenant:");
  }
  absl::string_view rest = ns.substr(kTenantPrefix.size());
  absl::string_view id = rest.substr(0, rest.find('/'));
  absl::Status s = ValidateSegment("namespace tenant id", id);
  if (!s.ok()) return s;
  return std::string(id);
}

absl::Status ValidateTenantId(absl::string_view tenant_id) {
  absl::Status s = ValidateSegment("tenant id", tenant_id);
  if (!s.ok()) return s;
  if (tenant_id.find('/') != absl::string_view::npos) {
    return absl::InvalidArgumentError("tenant id must not contain '/'");
  }
  return absl::OkStatus();
}

absl::Status ValidateKey(absl::string_view key, const Limits& limits) {
  if (key.size() > limits.max_key_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "key is ", key.size(), " bytes; the limit is ", limits.max_key_bytes));
  }
  return ValidateSegment("key", key);
}

absl::Status ValidateValueSize(absl::string_view json_text,
                               const Limits& limits) {
  if (json_text.size() > limits.max_value_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("value is ", json_text.size(), " bytes; the limit is ",
                     limits.max_value_bytes));
  }
  return absl::OkStatus();
}

absl::Status ValidateBatchSize(size_t ops, const Limits& limits) {
  if (ops == 0) return absl::InvalidArgumentError("batch has no ops");
  if (ops > limits.max_batch_ops) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "batch has ", ops, " ops; the limit is ", limits.max_batch_ops));
  }
  return absl::OkStatus();
}

absl::Status ValidateNodeId(absl::string_view id) {
  if (id.empty() || id.size() > 64) {
    return absl::InvalidArgumentError("a node id must be 1-64 characters of [A-Za-z0-9._-]");
  }
  for (char c : id) {
    if (!(absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '-')) {
      return absl::InvalidArgumentError("a node id must be 1-64 characters of [A-Za-z0-9._-]");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateAddress(absl::string_view address) {
  auto bad = [] {
    return absl::InvalidArgumentError(
        "an address must be host:port (a DNS name, an IPv4 address or a [bracketed] IPv6 "
        "address, and a port 1-65535)");
  };
  if (address.size() > 261) return bad();
  size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) return bad();
  absl::string_view host = address.substr(0, colon);
  absl::string_view port = address.substr(colon + 1);
  int p = 0;
  if (port.empty() || port.size() > 5) return bad();
  for (char c : port) {
    if (!absl::ascii_isdigit(c)) return bad();
    p = p * 10 + (c - '0');
  }
  if (p < 1 || p > 65535) return bad();
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return bad();
    for (char c : host.substr(1, host.size() - 2)) {
      if (!(absl::ascii_isxdigit(c) || c == ':' || c == '.')) return bad();
    }
    return absl::OkStatus();
  }
  if (host.size() > 253) return bad();
  for (char c : host) {
    if (!(absl::ascii_isalnum(c) || c == '-' || c == '.')) return bad();
  }
  return absl::OkStatus();
}

}  // namespace concordance::storage
