// JSON-RPC 2.0 over one /stream WebSocket: kv/set and kv/get, one request
// at a time (notifications, if any, are skipped).
#include <boost/beast/websocket.hpp>
#include <optional>

#include "absl/strings/str_cat.h"
#include "rapidjson/document.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"
#include "tools/benchmark/http_connection.h"
#include "tools/benchmark/json_fields.h"
#include "tools/benchmark/target.h"

namespace concordance::benchmark {
namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;

std::string Quoted(const std::string& s) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return buf.GetString();
}

class WebSocket final : public Target {
 public:
  explicit WebSocket(const TargetOptions& o) : options_(o) {}

  absl::Status Connect() {
    ws_.emplace(ioc_);
    absl::Status s = ConnectStream(ioc_, options_.endpoint, options_.timeout, &ws_->next_layer());
    if (!s.ok()) return Broken(s);
    std::string key = options_.api_key;
    ws_->set_option(websocket::stream_base::decorator([key](websocket::request_type& req) {
      if (!key.empty()) req.set(beast::http::field::authorization, "Bearer " + key);
    }));
    beast::error_code ec;
    beast::get_lowest_layer(*ws_).expires_after(options_.timeout);
    ws_->async_handshake(options_.endpoint, "/stream", [&ec](beast::error_code e) { ec = e; });
    if (RunToCompletion(ioc_, ec)) {
      return Broken(absl::UnavailableError(absl::StrCat(options_.endpoint, "/stream: ", ec.message())));
    }
    ws_->text(true);
    return absl::OkStatus();
  }

  absl::StatusOr<Written> Put(const std::string& ns, const std::string& key,
                              const std::string& value_json,
                              std::optional<int64_t> expected_version) override {
    std::string params = absl::StrCat("{\"namespace\":", Quoted(ns.empty() ? options_.ns : ns),
                                      ",\"key\":", Quoted(key), ",\"value\":", value_json);
    if (expected_version) absl::StrAppend(&params, ",\"expectedVersion\":", *expected_version);
    params += "}";
    auto result = Call("kv/set", params);
    if (!result.ok()) return result.status();
    return Written{IntField((**result)["result"], "version"), IntField((**result)["result"], "seq")};
  }

  absl::StatusOr<int64_t> Get(const std::string& key) override {
    auto result = Call("kv/get", absl::StrCat("{\"namespace\":", Quoted(options_.ns),
                                              ",\"key\":", Quoted(key), "}"));
    if (!result.ok()) return result.status();
    return IntField((**result)["result"], "version");
  }

 private:
  // The connection failed: the next call reconnects.
  absl::Status Broken(absl::Status s) {
    ws_.reset();
    return s;
  }

  // The answer to one request (an object with "result"), or its error;
  // the whole exchange within the timeout.
  absl::StatusOr<std::unique_ptr<rapidjson::Document>> Call(const char* method,
                                                             const std::string& params) {
    if (!ws_) {
      absl::Status s = Connect();
      if (!s.ok()) return s;
    }
    int64_t id = ++next_id_;
    std::string req = absl::StrCat("{\"jsonrpc\":\"2.0\",\"id\":", id, ",\"method\":\"", method,
                                   "\",\"params\":", params, "}");
    beast::error_code ec;
    beast::get_lowest_layer(*ws_).expires_after(options_.timeout);
    ws_->async_write(boost::asio::buffer(req), [&ec](beast::error_code e, size_t) { ec = e; });
    RunToCompletion(ioc_, ec);
    for (;;) {
      if (ec) {
        return Broken(absl::UnavailableError(absl::StrCat(options_.endpoint, "/stream: ", ec.message())));
      }
      buffer_.clear();
      ws_->async_read(buffer_, [&ec](beast::error_code e, size_t) { ec = e; });
      if (RunToCompletion(ioc_, ec)) continue;
      auto d = std::make_unique<rapidjson::Document>();
      std::string text = beast::buffers_to_string(buffer_.data());
      d->Parse(text.data(), text.size());
      if (!d->IsObject() || IntField(*d, "id", -1) != id) continue;  // a notification
      if (d->HasMember("result")) return d;
      const rapidjson::Value& error = (*d)["error"];
      std::string code = error.IsObject() && error.HasMember("data") ? StringField(error["data"], "code") : "";
      std::string message = absl::StrCat(method, ": ", text);
      if (code == "version_conflict") return absl::AbortedError(message);
      if (code == "not_found") return absl::NotFoundError(message);
      return absl::UnknownError(message);
    }
  }

  const TargetOptions options_;
  boost::asio::io_context ioc_;
  std::optional<websocket::stream<beast::tcp_stream>> ws_;
  beast::flat_buffer buffer_;
  int64_t next_id_ = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Target>> WebSocketTarget(const TargetOptions& o) {
  auto t = std::make_unique<WebSocket>(o);
  absl::Status s = t->Connect();
  if (!s.ok()) return s;
  return std::unique_ptr<Target>(std::move(t));
}

}  // namespace concordance::benchmark
