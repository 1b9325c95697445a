// FakeApi: an API that records the concordance.v1 requests it was given
// and answers from a map — what the front-ends translate, without the
// node's rules. For the wire tests and the fuzzers.
#ifndef CONCORDANCE_GATEWAY_TESTING_FAKE_API_H_
#define CONCORDANCE_GATEWAY_TESTING_FAKE_API_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gateway/api.h"

namespace concordance::gateway::testing {

// An API that records the concordance.v1 requests it was given and answers
// from a map: what the front-ends translate, without the node's rules.
class FakeApi : public KvApi,
                public ChangesApi,
                public WatchApi,
                public ClusterApi,
                public MaintenanceApi {
 public:
  std::map<std::string, v1::Entry> data;  // ns + "\n" + key
  std::vector<std::string> calls;
  absl::Status next_error;
  v1::PutRequest last_put;
  v1::ChangesRequest last_changes;
  bool ready = true;
  std::shared_ptr<ChangeSink> sink_;

  Api api() { return Api{this, this, this, this, this}; }

  void Get(const Caller&, const v1::GetRequest& r,
           Callback<v1::Entry> done) override {
    calls.push_back("get " + r.namespace_() + " " + r.key() +
                    (r.consistency() == v1::LINEARIZABLE ? " lin" : ""));
    auto it = data.find(r.namespace_() + "\n" + r.key());
    if (it == data.end()) return done(absl::NotFoundError("no key"));
    done(it->second);
  }
  void List(const Caller&, const v1::ListRequest& r,
            Callback<v1::ListResponse> done) override {
    calls.push_back("list " + r.namespace_() + " prefix=" + r.prefix());
    done(v1::ListResponse());
  }
  void Put(const Caller& c, const v1::PutRequest& r,
           Callback<v1::PutResponse> done) override {
    calls.push_back("set " + r.namespace_() + " " + r.key() + " " + r.value() +
                    " by " + c.actor);
    last_put = r;
    if (!next_error.ok()) return done(next_error);
    v1::Entry e;
    e.set_namespace_(r.namespace_());
    e.set_key(r.key());
    e.set_value(r.value());
    e.set_version(1);
    data[r.namespace_() + "\n" + r.key()] = e;
    v1::PutResponse out;
    out.set_version(1);
    out.set_seq(42);
    out.set_updated_at(1000);
    done(out);
  }
  void Delete(const Caller&, const v1::DeleteRequest& r,
              Callback<v1::DeleteResponse> done) override {
    calls.push_back("delete " + r.namespace_() + " " + r.key());
    v1::DeleteResponse out;
    out.set_seq(43);
    done(out);
  }
  void Batch(const Caller&, const v1::BatchRequest& r,
             Callback<v1::BatchResponse> done) override {
    calls.push_back("batch " + std::to_string(r.ops_size()));
    v1::BatchResponse out;
    for (const v1::BatchOp& op : r.ops()) {
      if (op.has_set()) {
        out.add_results()->mutable_set()->set_version(1);
      } else {
        out.add_results()->mutable_delete_()->set_seq(1);
      }
    }
    done(out);
  }
  void List(const Caller&, const v1::ChangesRequest& r,
            std::shared_ptr<Cancellation>,
            Callback<v1::ChangesResponse> done) override {
    calls.push_back("changes " + r.tenant() + " since " +
                    std::to_string(r.since()));
    last_changes = r;
    done(v1::ChangesResponse());
  }
  void Watch(const Caller&, const v1::WatchRequest& r,
             std::shared_ptr<ChangeSink> sink,
             Callback<WatchStarted> done) override {
    calls.push_back("subscribe " + r.tenant() + r.namespace_());
    sink_ = sink;
    done(WatchStarted{"s1", 7});
  }
  void Unwatch(const std::string& id) override {
    calls.push_back("unsubscribe " + id);
  }
  v1::StatusResponse LocalStatus() override {
    v1::StatusResponse s;
    s.set_node_id("n1");
    s.set_role("leader");
    return s;
  }
  void Status(const Caller&, Callback<v1::StatusResponse> done) override {
    done(LocalStatus());
  }
  bool Ready(std::string* why) override {
    *why = "no leader";
    return ready;
  }
  void Join(const Caller&, const v1::JoinRequest&,
            Callback<v1::StatusResponse> done) override {
    done(LocalStatus());
  }
  void Remove(const Caller&, const v1::RemoveRequest&,
              Callback<v1::StatusResponse> done) override {
    done(LocalStatus());
  }
  void TransferLeadership(const Caller&, const v1::TransferLeadershipRequest&,
                          Callback<v1::StatusResponse> done) override {
    done(LocalStatus());
  }
  void Snapshot(const Caller&, Callback<std::string> done) override {
    done(std::string("SQLite format 3"));
  }
  absl::StatusOr<std::string> Metrics(const Caller&) override {
    return std::string("# metrics\n");
  }
};

}  // namespace concordance::gateway::testing

#endif  // CONCORDANCE_GATEWAY_TESTING_FAKE_API_H_
