#include "gateway/url.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace concordance::gateway {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

absl::StatusOr<std::string> PercentDecode(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) {
      return absl::InvalidArgumentError("truncated %-escape in URL");
    }
    int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
    if (hi < 0 || lo < 0) return absl::InvalidArgumentError("invalid %-escape in URL");
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

std::string PercentEncode(absl::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

absl::StatusOr<std::map<std::string, std::string>> ParseQuery(absl::string_view q) {
  std::map<std::string, std::string> out;
  for (absl::string_view part : absl::StrSplit(q, '&', absl::SkipEmpty())) {
    size_t eq = part.find('=');
    absl::StatusOr<std::string> name = PercentDecode(part.substr(0, eq));
    if (!name.ok()) return name.status();
    absl::StatusOr<std::string> value =
        PercentDecode(eq == absl::string_view::npos ? "" : part.substr(eq + 1));
    if (!value.ok()) return value.status();
    out.emplace(std::move(*name), std::move(*value));
  }
  return out;
}

absl::Status SplitHostPort(const std::string& hostport, std::string* host, uint16_t* port) {
  size_t colon = hostport.rfind(':');
  int p;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(hostport.substr(colon + 1), &p) || p < 0 || p > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("expected host:port, got \"", hostport, "\""));
  }
  *host = hostport.substr(0, colon);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  *port = static_cast<uint16_t>(p);
  return absl::OkStatus();
}

}  // namespace concordance::gateway
