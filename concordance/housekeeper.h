// Housekeeper: the leader's periodic duties, each done by proposing a
// command through Raft so that every replica makes the same change at the
// same log index (design.md §9-§10):
//
//   TTL expiry          entries past their expiresAt (found through the
//                       expires_at index) are expired by `expire` commands,
//                       batched, each op carrying the version seen; applying
//                       one removes the entry only if that version is still
//                       current, and records one `expire` changelog row.
//   changelog retention once the changelog holds more than
//                       retention * 1.1 rows, a `trim_changelog` command
//                       keeps the newest `retention`.
//
// Runs on the Raft loop (driver timers) and acts only while this node leads.
// Expiry times are absolute (expiresAt, chosen when the entry was written):
// a leader change neither resets nor extends a TTL; the new leader expires
// what is due by its own clock.
#ifndef CONCORDANCE_CONCORDANCE_HOUSEKEEPER_H_
#define CONCORDANCE_CONCORDANCE_HOUSEKEEPER_H_

#include <atomic>
#include <cstdint>

#include "concordance/clock.h"
#include "concordance/node_driver.h"
#include "storage/kv_store.h"
#include "util/metrics.h"

namespace concordance {

class Housekeeper {
 public:
  struct Options {
    int interval_ms = 50;            // how often due entries are looked for
    int max_expire_batch = 512;      // ops per expire command
    int64_t changelog_retention = 100000;
    int retention_check_ms = 1000;
    // Once 10% more than the retention have accumulated, the changelog is
    // trimmed back to it in steps of at most this many rows, one step per
    // `interval_ms`: a step is one short apply on every node, where one
    // trim of 10,000 rows held every node's Raft loop at the same moment.
    int64_t max_trim_rows = 1000;
  };
  Housekeeper(Options options, const storage::KvStore* store, NodeDriver* driver,
              const Clock* clock, metrics::Registry* metrics);

  // Schedules the first run on the driver's loop. The driver must be
  // stopped before the Housekeeper is destroyed.
  void Start();

 private:
  void Run();
  void ExpireDue();
  void TrimChangelog();

  Options options_;
  const storage::KvStore* store_;
  NodeDriver* driver_;
  const Clock* clock_;
  // Loop thread only.
  bool expire_in_flight_ = false;
  bool trim_in_flight_ = false;
  bool trimming_ = false;  // between steps of one trim back to the retention
  int64_t next_retention_check_ = 0;
  metrics::Counter* expired_;
  metrics::Counter* trims_;
};

}  // namespace concordance

#endif  // CONCORDANCE_CONCORDANCE_HOUSEKEEPER_H_
